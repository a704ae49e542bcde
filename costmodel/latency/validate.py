"""Check the latency model against measurement on networks the calibration never saw, per runtime.

The held-out set (:data:`HELD_OUT_ALL`, listed in :mod:`costmodel.latency.networks`) is the paper's 16
MobileNets of Tables 6-7 (:data:`HELD_OUT`: α ∈ {1.0, 0.75, 0.5, 0.25} x resolution ∈ {224, 192, 160, 128}),
whose channel counts are all multiples of 8, plus six (:data:`HELD_OUT_MIXED`: α = 0.35, 0.6, 0.9, 0.4) with
channel counts that are not multiples of 4, which ONNX Runtime runs on its other kernel path. Other networks
can be given instead (``networks=``). For each, the runtime measures whole forward passes and every layer
(:func:`costmodel.latency.measure.measure`); the model predicts both from the profile. The result gives:

- the signed error per network and per layer kind, the median and largest absolute error;
- the share of networks within ±10 % (nn-Meter's metric, Zhang et al., MobiSys 2021);
- the rank agreement of predicted and measured latency (Spearman's ρ and Kendall's τ-b, implemented here with
  NumPy), and the share of correctly ordered pairs among networks whose Mult-Adds are within 20 % of each other
  (Spearman alone does not discriminate: Mult-Adds alone reach 0.99 on the 16 MobileNets);
- the same for the baseline a search tool would use without a model, latency = k x Mult-Adds + c, fitted at
  calibration on the profile's fitting networks (``meta["mult_adds_baseline"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._hooks import table as _table
from ..errors import ProfileError
from ..spec.network import Network
from .measure import TimeLayers, measure
from .model import predict
from .networks import HELD_OUT, HELD_OUT_ALL, HELD_OUT_MIXED, held_out_networks
from .profiles import DeviceProfile
from .runtimes import RUNTIME_NAMES, Measurement

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HELD_OUT",
    "HELD_OUT_MIXED",
    "HELD_OUT_ALL",
    "held_out_networks",
    "pairwise_accuracy",
    "ConfigResult",
    "ValidationResult",
    "rankdata",
    "spearman",
    "kendall_tau",
    "compare",
    "validate",
]


def _show(value: object) -> str:
    try:
        text = repr(value)
    except RecursionError:  # pragma: no cover - reprlib-free repr of a structure nested without end
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers(x: object, what: str) -> np.ndarray:
    """``x`` as a 1-D float array of real numbers (NaN allowed: the statistics say how they treat it), else a
    :class:`ProfileError` naming ``what``."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError, RecursionError):
        raise ProfileError(f"{what} must be a 1-D sequence of numbers, got {_show(x)}") from None
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "biuf"):
        raise ProfileError(f"{what} must be a 1-D sequence of numbers, got {_show(x)}")
    try:
        return arr.astype(float)
    except OverflowError:  # pragma: no cover - integers beyond float64 come as objects, refused above
        raise ProfileError(f"{what} holds a number too large for a float") from None


#: "Close" pairs for the pairwise ranking accuracy: Mult-Adds within 20 % of each other.
CLOSE_PAIRS = 0.2


def rankdata(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank (what Spearman's ρ needs).

    x : array-like, shape (n,). Returns float ndarray, shape (n,).

    >>> rankdata([10, 30, 20, 20]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    x = _numbers(x, "rankdata(x)")
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
        raise ProfileError(f"spearman needs two sequences of the same length >= 2, got {len(rx)} and {len(ry)}")
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx @ rx) * (ry @ ry)))
    return float(rx @ ry) / denom if denom else float("nan")


def kendall_tau(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's τ-b: (concordant - discordant pairs) / sqrt((pairs untied in x) (pairs untied in y)).

    >>> kendall_tau([1, 2, 3, 4], [10, 20, 40, 30])  # 5 concordant pairs, 1 discordant
    0.6666666666666666
    """
    x, y = _numbers(x, "kendall_tau(x)"), _numbers(y, "kendall_tau(y)")
    if len(x) != len(y) or len(x) < 2:
        raise ProfileError(f"kendall_tau needs two sequences of the same length >= 2, got {len(x)} and {len(y)}")
    i, j = np.triu_indices(len(x), k=1)  # every pair once
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    untied_x, untied_y = np.count_nonzero(sx), np.count_nonzero(sy)
    denom = float(np.sqrt(untied_x * untied_y))
    return float(np.sum(sx * sy)) / denom if denom else float("nan")


def _pct(predicted: float, measured: float) -> float:
    return 100.0 * (predicted - measured) / measured if measured else float("nan")


@dataclass(frozen=True, slots=True)
class ConfigResult:
    """Predicted vs measured latency of one held-out network (batch 1, seconds)."""

    alpha: float  # the MobileNet width multiplier; nan for another network
    resolution: int
    mult_adds: int
    measured_s: float  # whole forward pass (the best round)
    predicted_s: float
    measured_by_kind_s: Mapping[str, float]  # per layer kind, sums of the measured per-layer times
    predicted_by_kind_s: Mapping[str, float]
    mult_adds_by_kind: Mapping[str, int]  # from the cost engine (paper convention)
    name: str = ""  # the network's name
    baseline_s: float | None = None  # k x Mult-Adds + c, when the profile carries the baseline
    extrapolated: bool = False  # some layer kind was predicted at the profile's default efficiency
    family: str = ""  # "MobileNetV1", "<space> candidates" or "other networks" (see ValidationResult.population)

    @property
    def label(self) -> str:
        if self.alpha != self.alpha:  # nan: not a MobileNetV1 configuration
            return self.name
        return f"{self.alpha:g}-{self.resolution}" if self.alpha % 1 else f"{self.alpha:.1f}-{self.resolution}"

    @property
    def error_pct(self) -> float:
        """Signed error of the whole network: 100 (predicted - measured) / measured."""
        return _pct(self.predicted_s, self.measured_s)

    @property
    def baseline_error_pct(self) -> float | None:
        return None if self.baseline_s is None else _pct(self.baseline_s, self.measured_s)


def pairwise_accuracy(
    predicted: Sequence[float], measured: Sequence[float], mult_adds: Sequence[int], within: float = CLOSE_PAIRS
) -> tuple[float, int]:
    """(share of pairs ordered as measured, number of pairs) over pairs whose Mult-Adds are within ``within``.

    A pair is close when the larger Mult-Adds is at most ``1 + within`` times the smaller. A pair measured equal
    counts as ordered. NaN when there is no close pair.

    >>> pairwise_accuracy([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], [100, 110, 115])
    (0.6666666666666666, 3)
    """
    p, m, ma = (_numbers(v, f"pairwise_accuracy({n})") for v, n in
                ((predicted, "predicted"), (measured, "measured"), (mult_adds, "mult_adds")))  # fmt: skip
    if not len(p) == len(m) == len(ma):
        raise ProfileError(f"pairwise_accuracy needs sequences of one length, got {len(p)}, {len(m)}, {len(ma)}")
    if isinstance(within, bool) or not isinstance(within, (int, float)) or not 0 <= within < 1e300:
        raise ProfileError(f"within must be a finite number >= 0, got {_show(within)}")
    i, j = np.triu_indices(len(p), k=1)
    close = np.maximum(ma[i], ma[j]) <= (1.0 + within) * np.minimum(ma[i], ma[j])
    i, j = i[close], j[close]
    if not len(i):
        return float("nan"), 0
    agree = np.sign(p[i] - p[j]) * np.sign(m[i] - m[j]) >= 0
    return float(np.mean(agree)), int(len(i))


@dataclass(frozen=True, slots=True, eq=False)
class ValidationResult:
    """The comparison over all held-out networks."""

    profile: DeviceProfile
    configs: tuple[ConfigResult, ...]
    fitted_on_held_out: tuple[str, ...]  # labels of checked configs that the profile was fitted on (should be none)
    runtime: str = ""  # what measured the networks (Measurement.runtime; the profile's runtime when unknown)

    @property
    def measured_with(self) -> str:
        """The runtime that measured the networks, by name: ``"ONNX Runtime"``, ``"NumPy reference executor"``."""
        return " + ".join(RUNTIME_NAMES.get(r, r) for r in (self.runtime or self.profile.runtime).split("+"))

    @property
    def population(self) -> str:
        """What was measured, counted by family: ``"22 MobileNetV1"``, ``"3 MobileNetV1 + 10 other networks"``."""
        counts: dict[str, int] = {}
        for c in self.configs:
            counts[c.family or "networks"] = counts.get(c.family or "networks", 0) + 1
        return " + ".join(f"{n} {family}" for family, n in counts.items())

    def _errors(self) -> np.ndarray:
        return np.array([abs(c.predicted_s / c.measured_s - 1.0) for c in self.configs])

    @property
    def median_abs_error(self) -> float:
        """Median absolute relative error of whole-network latency (a fraction: 0.05 is 5 %)."""
        return float(np.median(self._errors()))

    @property
    def median_abs_error_pct(self) -> float:
        return 100.0 * self.median_abs_error

    @property
    def max_abs_error_pct(self) -> float:
        return float(100.0 * self._errors().max())

    @property
    def within_10_percent(self) -> float:
        """Share of networks predicted within ±10 % of their measured latency (a fraction)."""
        return float(np.mean(self._errors() <= 0.1))

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

    @property
    def pairwise_accuracy(self) -> tuple[float, int]:
        """(share of close pairs the model orders right, number of close pairs); see :func:`pairwise_accuracy`."""
        return pairwise_accuracy(
            [c.predicted_s for c in self.configs],
            [c.measured_s for c in self.configs],
            [c.mult_adds for c in self.configs],
        )

    @property
    def mult_adds_pairwise_accuracy(self) -> float:
        """The same share when pairs are ordered by Mult-Adds (what the Mult-Adds baseline does)."""
        ma = [c.mult_adds for c in self.configs]
        return pairwise_accuracy(ma, [c.measured_s for c in self.configs], ma)[0]

    def baseline(self) -> dict[str, float] | None:
        """The Mult-Adds baseline's median and max |error| (fractions), share within ±10 %, Spearman; or None."""
        if any(c.baseline_s is None for c in self.configs):
            return None
        errors = np.array([abs(c.baseline_s / c.measured_s - 1.0) for c in self.configs])  # type: ignore[operator]
        return {
            "median_abs_error": float(np.median(errors)),
            "max_abs_error": float(errors.max()),
            "within_10_percent": float(np.mean(errors <= 0.1)),
            "spearman": spearman([c.baseline_s for c in self.configs], [c.measured_s for c in self.configs]),  # type: ignore[misc]
        }

    def kinds(self) -> list[str]:
        out: list[str] = []
        for c in self.configs:
            out += [k for k in c.measured_by_kind_s if k not in out]
        return out

    def kind_errors(self) -> dict[str, tuple[float, float, float]]:
        """{layer kind: (measured s over all configs, predicted s, median |error| % per config)}."""
        out = {}
        for kind in self.kinds():
            measured = [c.measured_by_kind_s.get(kind, 0.0) for c in self.configs]
            predicted = [c.predicted_by_kind_s.get(kind, 0.0) for c in self.configs]
            errors = [abs(_pct(p, m)) for p, m in zip(predicted, measured, strict=True) if m > 0]
            out[kind] = (sum(measured), sum(predicted), float(np.median(errors)) if errors else float("nan"))
        return out

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(per-configuration DataFrame, per-layer-kind DataFrame); see :mod:`costmodel.latency.report`."""
        return _table(self)  # costmodel.latency.report.validation_tables, through costmodel._hooks


def compare(profile: DeviceProfile, measurements: Sequence[Measurement]) -> ValidationResult:
    """Predict every measured network on ``profile`` and compare (no timing here: pure arithmetic).

    A layer's measured time includes the runtime's glue before it (layout changes), as its prediction does.
    """
    if not isinstance(profile, DeviceProfile):
        raise ProfileError(f"compare() needs a DeviceProfile, got {type(profile).__name__}")
    if isinstance(measurements, (str, bytes)) or not isinstance(measurements, Sequence):
        raise ProfileError(f"measurements must be a sequence of Measurement, got {_show(measurements)}")
    if not all(isinstance(m, Measurement) for m in measurements):
        raise ProfileError("measurements must be a sequence of Measurement (from costmodel.latency.calibrate.measure)")
    if len(measurements) < 2:
        raise ProfileError(f"validation needs at least 2 measured networks, got {len(measurements)}")
    fitted = {(float(a), int(r)) for a, r in profile.meta.get("fit_configs", []) or []}
    baseline = profile.meta.get("mult_adds_baseline")
    results, overlap = [], []
    for m in measurements:
        net = m.network
        pred = predict(net, profile)
        measured_by_kind: dict[str, float] = {}
        predicted_by_kind: dict[str, float] = {}
        mult_adds_by_kind: dict[str, int] = {}
        for lat in pred.leaves():
            mult_adds_by_kind[lat.kind] = mult_adds_by_kind.get(lat.kind, 0) + lat.mult_adds
            if lat.name in m.layer_s:
                seconds = float(m.layer_s[lat.name]) + float(m.glue_s.get(lat.name, 0.0))
                measured_by_kind[lat.kind] = measured_by_kind.get(lat.kind, 0.0) + seconds
                predicted_by_kind[lat.kind] = predicted_by_kind.get(lat.kind, 0.0) + lat.seconds
        mobilenet = net.name.startswith("MobileNetV1") and "alpha" in net.config  # labelled by alpha-resolution
        family = f"{net.config['space']} candidates" if "space" in net.config else "other networks"
        alpha = float(net.config["alpha"]) if mobilenet else float("nan")
        baseline_s = None
        if isinstance(baseline, Mapping):
            baseline_s = float(baseline["seconds_per_mult_add"]) * pred.mult_adds + float(baseline["constant_s"])
        result = ConfigResult(
            alpha, net.input_size, pred.mult_adds, m.forward_s, pred.seconds, measured_by_kind, predicted_by_kind,
            mult_adds_by_kind, net.name, baseline_s, pred.extrapolated, "MobileNetV1" if mobilenet else family,
        )  # fmt: skip
        if (alpha, net.input_size) in fitted:
            overlap.append(result.label)
        results.append(result)
    runtimes = dict.fromkeys(getattr(m, "runtime", "") or profile.runtime for m in measurements)
    return ValidationResult(profile, tuple(results), tuple(overlap), "+".join(runtimes))


def validate(
    profile: DeviceProfile,
    configs: Sequence[tuple[float, int]] = HELD_OUT_ALL,
    *,
    networks: Sequence[Network] | None = None,
    runtime: str | None = None,
    threads: int = 1,
    repeats: int | None = None,
    rounds: int = 5,
    seed: int = 0,
    time_layers: TimeLayers | None = None,
    progress: Callable[[str], None] = lambda message: None,
    statistic: str | None = None,
) -> ValidationResult:
    """Measure every held-out network with the runtime and compare it with ``profile``'s predictions.

    Parameters
    ----------
    profile : DeviceProfile
        Usually from ``costmodel calibrate`` (fitted on :data:`~costmodel.latency.calibrate.FIT_CONFIGS_BY_RUNTIME`).
    configs : sequence of (alpha, resolution)
        Default: :data:`HELD_OUT_ALL` (both of ONNX Runtime's kernel paths).
    networks : sequence of Network, optional
        Other networks to check instead of ``configs``.
    runtime : {"numpy", "onnxruntime"}, optional
        What measures; by default the profile's own runtime.
    threads : int
        ONNX Runtime's intra-op threads.
    repeats, rounds : int
        Forward passes per network and round, and rounds; see :func:`costmodel.latency.calibrate.measure`.
    time_layers : callable, optional
        Replaces the reference executor's timing (a synthetic device in tests).
    statistic : {"min", "median"}, optional
        Summary of the NumPy runtime's timed passes; by default the one the profile was calibrated with.
    """
    if not isinstance(profile, DeviceProfile):
        raise ProfileError(f"validate() needs a DeviceProfile, got {type(profile).__name__}")
    if statistic is None:
        statistic = str(profile.meta.get("statistic", "min"))
    runtime = runtime or profile.runtime
    if networks is None:
        networks = held_out_networks(configs)
    measured = measure(
        runtime, networks, repeats=repeats, rounds=rounds, seed=seed, threads=threads, time_layers=time_layers,
        progress=progress, statistic=statistic,
    )  # fmt: skip
    return compare(profile, measured)
