"""Check the latency model against measurement on configurations the calibration never saw.

The held-out set (:data:`HELD_OUT`) is the paper's 16 MobileNets of Tables 6-7: α ∈ {1.0, 0.75, 0.5, 0.25}
x resolution ∈ {224, 192, 160, 128}. For each, the reference executor measures whole forward passes and
every layer (:func:`costmodel.latency.calibrate.measure_networks`, with the statistic the profile was calibrated
with); the model predicts both from the profile. The result gives the signed error per configuration and per
layer type, the median absolute error over configurations, and the rank agreement of predicted and measured
latency (Spearman's ρ and Kendall's τ-b, implemented here with NumPy) -- what an architecture search needs is
the right order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._hooks import table as _table
from ..errors import ProfileError
from ..spec.mobilenet import mobilenet_v1
from .calibrate import Measurement, TimeLayers, measure_networks
from .model import predict
from .profiles import DeviceProfile

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HELD_OUT",
    "ConfigResult",
    "ValidationResult",
    "rankdata",
    "spearman",
    "kendall_tau",
    "compare",
    "validate",
]

#: The 16 (α, resolution) pairs of the paper's Tables 6-7, never used for fitting.
HELD_OUT: tuple[tuple[float, int], ...] = tuple(
    (alpha, resolution) for alpha in (1.0, 0.75, 0.5, 0.25) for resolution in (224, 192, 160, 128)
)


def rankdata(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank (what Spearman's ρ needs).

    x : array-like, shape (n,). Returns float ndarray, shape (n,).

    >>> rankdata([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):  # average the ranks of ties
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's correlation of the (tie-averaged) ranks.

    >>> spearman([1, 2, 3, 4], [10, 20, 40, 30])
    0.8
    """
    rx, ry = rankdata(x), rankdata(y)
    if len(rx) != len(ry) or len(rx) < 2:
        raise ValueError(f"spearman needs two sequences of the same length >= 2, got {len(rx)} and {len(ry)}")
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx @ rx) * (ry @ ry)))
    return float(rx @ ry) / denom if denom else float("nan")


def kendall_tau(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's τ-b: (concordant - discordant pairs) / sqrt((pairs untied in x) (pairs untied in y)).

    >>> kendall_tau([1, 2, 3, 4], [10, 20, 40, 30])  # 5 concordant pairs, 1 discordant
    0.6666666666666666
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"kendall_tau needs two sequences of the same length >= 2, got {len(x)} and {len(y)}")
    i, j = np.triu_indices(len(x), k=1)  # every pair once
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    untied_x, untied_y = np.count_nonzero(sx), np.count_nonzero(sy)
    denom = float(np.sqrt(untied_x * untied_y))
    return float(np.sum(sx * sy)) / denom if denom else float("nan")


def _pct(predicted: float, measured: float) -> float:
    return 100.0 * (predicted - measured) / measured if measured else float("nan")


@dataclass(frozen=True, slots=True)
class ConfigResult:
    """Predicted vs measured latency of one held-out configuration (batch 1, seconds)."""

    alpha: float
    resolution: int
    mult_adds: int
    measured_s: float  # whole forward pass (fastest, or median: the profile's statistic)
    predicted_s: float
    measured_by_kind_s: Mapping[str, float]  # per layer type, sums of the measured per-layer times
    predicted_by_kind_s: Mapping[str, float]
    mult_adds_by_kind: Mapping[str, int]  # from the cost engine (paper convention)

    @property
    def label(self) -> str:
        return f"{self.alpha:g}-{self.resolution}" if self.alpha % 1 else f"{self.alpha:.1f}-{self.resolution}"

    @property
    def error_pct(self) -> float:
        """Signed error of the whole network: 100 (predicted - measured) / measured."""
        return _pct(self.predicted_s, self.measured_s)


@dataclass(frozen=True, slots=True, eq=False)
class ValidationResult:
    """The comparison over all held-out configurations."""

    profile: DeviceProfile
    configs: tuple[ConfigResult, ...]
    fitted_on_held_out: tuple[str, ...]  # labels of checked configs that the profile was fitted on (should be none)

    @property
    def median_abs_error_pct(self) -> float:
        return float(np.median([abs(c.error_pct) for c in self.configs]))

    @property
    def max_abs_error_pct(self) -> float:
        return float(max(abs(c.error_pct) for c in self.configs))

    @property
    def spearman(self) -> float:
        return spearman([c.predicted_s for c in self.configs], [c.measured_s for c in self.configs])

    @property
    def kendall_tau(self) -> float:
        return kendall_tau([c.predicted_s for c in self.configs], [c.measured_s for c in self.configs])

    @property
    def mult_adds_spearman(self) -> float:
        """Rank agreement of plain Mult-Adds with measured latency: the proxy the model should beat."""
        return spearman([c.mult_adds for c in self.configs], [c.measured_s for c in self.configs])

    def kinds(self) -> list[str]:
        out: list[str] = []
        for c in self.configs:
            out += [k for k in c.measured_by_kind_s if k not in out]
        return out

    def kind_errors(self) -> dict[str, tuple[float, float, float]]:
        """{layer type: (measured s over all configs, predicted s, median |error| % per config)}."""
        out = {}
        for kind in self.kinds():
            measured = [c.measured_by_kind_s.get(kind, 0.0) for c in self.configs]
            predicted = [c.predicted_by_kind_s.get(kind, 0.0) for c in self.configs]
            errors = [abs(_pct(p, m)) for p, m in zip(predicted, measured, strict=True) if m > 0]
            out[kind] = (sum(measured), sum(predicted), float(np.median(errors)) if errors else float("nan"))
        return out

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(per-configuration DataFrame, per-layer-type DataFrame); see :mod:`costmodel.latency.report`."""
        return _table(self)  # costmodel.latency.report.validation_tables, through costmodel._hooks


def compare(profile: DeviceProfile, measurements: Sequence[Measurement]) -> ValidationResult:
    """Predict every measured network on ``profile`` and compare (no timing here: pure arithmetic)."""
    if len(measurements) < 2:
        raise ProfileError(f"validation needs at least 2 measured networks, got {len(measurements)}")
    fitted = {(float(a), int(r)) for a, r in profile.meta.get("fit_configs", []) or []}
    results, overlap = [], []
    for m in measurements:
        net = m.network
        pred = predict(net, profile)
        measured_by_kind: dict[str, float] = {}
        predicted_by_kind: dict[str, float] = {}
        mult_adds_by_kind: dict[str, int] = {}
        for lat in pred.layers:
            mult_adds_by_kind[lat.kind] = mult_adds_by_kind.get(lat.kind, 0) + lat.mult_adds
            if lat.name in m.layer_s:
                measured_by_kind[lat.kind] = measured_by_kind.get(lat.kind, 0.0) + float(m.layer_s[lat.name])
                predicted_by_kind[lat.kind] = predicted_by_kind.get(lat.kind, 0.0) + lat.seconds
        alpha = float(net.config.get("alpha", float("nan")))
        result = ConfigResult(
            alpha,
            net.input_size,
            pred.mult_adds,
            m.forward_s,
            pred.seconds,
            measured_by_kind,
            predicted_by_kind,
            mult_adds_by_kind,
        )
        if (alpha, net.input_size) in fitted:
            overlap.append(result.label)
        results.append(result)
    return ValidationResult(profile, tuple(results), tuple(overlap))


def validate(
    profile: DeviceProfile,
    configs: Sequence[tuple[float, int]] = HELD_OUT,
    *,
    repeats: int = 7,
    rounds: int = 5,
    seed: int = 0,
    time_layers: TimeLayers | None = None,
    progress: Callable[[str], None] = lambda message: None,
    statistic: str | None = None,
) -> ValidationResult:
    """Measure every configuration with the reference executor and compare it with ``profile``'s predictions.

    Parameters
    ----------
    profile : DeviceProfile
        Usually from ``costmodel calibrate`` (fitted on :data:`~costmodel.latency.calibrate.FIT_CONFIGS`).
    configs : sequence of (alpha, resolution)
        Default: the 16 held-out configurations.
    repeats, rounds : int
        Forward passes per configuration and round, and rounds; see
        :func:`costmodel.latency.calibrate.measure_networks`.
    time_layers : callable, optional
        Replaces the reference executor's timing (a synthetic device in tests).
    statistic : {"min", "median"}, optional
        Summary of the timed passes; by default the one the profile was calibrated with (else "min").
    """
    if statistic is None:
        statistic = str(profile.meta.get("statistic", "min"))
    networks = [mobilenet_v1(alpha, resolution) for alpha, resolution in configs]
    return compare(profile, measure_networks(networks, repeats, rounds, seed, time_layers, progress, statistic))
