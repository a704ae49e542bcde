"""Reports for the latency model: DataFrames and text from predictions and validations. Reports never count.

Times are shown in milliseconds (columns ending ``_ms``); Mult-Adds, FLOPs and bytes stay exact integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._hooks import register_table

if TYPE_CHECKING:
    import pandas as pd

    from .model import LatencyPrediction
    from .profiles import DeviceProfile
    from .validate import ValidationResult

__all__ = [
    "prediction_table",
    "prediction_summary",
    "profile_summary",
    "validation_tables",
    "validation_summary",
]

_MS = 1e3  # seconds -> milliseconds


@register_table("costmodel.latency.model.LatencyPrediction")
def prediction_table(pred: LatencyPrediction) -> pd.DataFrame:
    """One row per layer: Mult-Adds beside the predicted time, the roofline's parts and the bound.

    The ``predicted_ms`` column adds up to ``pred.seconds`` (in ms); ``predicted_pct`` to 100.
    """
    import pandas as pd

    total = pred.seconds
    return pd.DataFrame(
        [
            {
                "name": lat.name,
                "kind": lat.kind,
                "mult_adds": lat.mult_adds,
                "flops": lat.flops,
                "bytes": lat.bytes_moved,
                "intensity_flops_per_byte": lat.intensity_flops_per_byte,
                "compute_ms": lat.compute_s * _MS,
                "memory_ms": lat.memory_s * _MS,
                "bound": lat.bound,
                "efficiency": lat.efficiency,
                "overhead_ms": lat.overhead_s * _MS,
                "predicted_ms": lat.seconds * _MS,
                "predicted_pct": 100.0 * lat.seconds / total if total else 0.0,
            }
            for lat in pred.layers
        ]
    )


def profile_summary(profile: DeviceProfile) -> str:
    """One line: peak, bandwidth, ridge point and overheads of a profile."""
    return (
        f"profile {profile.name!r}: peak {profile.peak_flops_per_s / 1e9:,.1f} GFLOP/s, "
        f"bandwidth {profile.bandwidth_bytes_per_s / 1e9:,.2f} GB/s, "
        f"ridge {profile.ridge_flops_per_byte:,.1f} FLOP/byte, "
        f"overhead {profile.overhead_s * 1e6:,.1f} us/layer"
        + "".join(f", +{v * 1e6:,.1f} us per {k}" for k, v in profile.overhead_by_kind_s.items() if v > 0)
        + f", {profile.dtype}"
    )


def prediction_summary(pred: LatencyPrediction) -> str:
    """The total line, with the per-type split and how many layers are compute-bound."""
    by_kind = ", ".join(f"{k} {v * _MS:,.3f}" for k, v in pred.by_kind().items())
    compute = sum(lat.bound == "compute" for lat in pred.layers)
    return (
        f"Total: {pred.seconds * _MS:,.3f} ms predicted for {pred.mult_adds:,} Mult-Adds "
        f"(batch {pred.batch}); {compute} of {len(pred.layers)} layers compute-bound.\n"
        f"By layer type (ms): {by_kind}"
    )


@register_table("costmodel.latency.validate.ValidationResult")
def validation_tables(result: ValidationResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per configuration, per layer type) DataFrames of predicted vs measured latency.

    Per configuration: Mult-Adds, measured and predicted whole-network ms, signed error %.
    Per layer type: measured and predicted ms summed over all configurations, their shares of the measured
    total, the Mult-Adds share, the error of the sums and the median absolute error per configuration.
    """
    import pandas as pd

    configs = pd.DataFrame(
        [
            {
                "config": c.label,
                "alpha": c.alpha,
                "resolution": c.resolution,
                "mult_adds": c.mult_adds,
                "measured_ms": c.measured_s * _MS,
                "predicted_ms": c.predicted_s * _MS,
                "error_pct": c.error_pct,
            }
            for c in result.configs
        ]
    )
    kind_errors = result.kind_errors()
    measured_total = sum(m for m, _, _ in kind_errors.values())
    mult_adds_by_kind: dict[str, int] = {}
    for c in result.configs:
        for kind, mult_adds in c.mult_adds_by_kind.items():
            mult_adds_by_kind[kind] = mult_adds_by_kind.get(kind, 0) + mult_adds
    mult_adds_total = sum(mult_adds_by_kind.values())
    kinds = pd.DataFrame(
        [
            {
                "kind": kind,
                "mult_adds_pct": 100.0 * mult_adds_by_kind.get(kind, 0) / mult_adds_total if mult_adds_total else 0.0,
                "measured_ms": measured * _MS,
                "predicted_ms": predicted * _MS,
                "measured_time_pct": 100.0 * measured / measured_total if measured_total else 0.0,
                "error_pct": 100.0 * (predicted - measured) / measured if measured else float("nan"),
                "median_abs_error_pct": median_abs,
            }
            for kind, (measured, predicted, median_abs) in kind_errors.items()
        ]
    )
    return configs, kinds


def validation_summary(result: ValidationResult) -> str:
    """The headline numbers: median and max absolute error, rank correlations, against the targets."""
    lines = [
        f"Held-out configurations: {len(result.configs)}",
        f"Median absolute error of whole-network latency: {result.median_abs_error_pct:.1f} % "
        f"(target < 15 %); max {result.max_abs_error_pct:.1f} %",
        f"Rank correlation, predicted vs measured: Spearman {result.spearman:.3f}, Kendall tau-b "
        f"{result.kendall_tau:.3f} (target >= 0.95); "
        f"Mult-Adds alone: Spearman {result.mult_adds_spearman:.3f}",
    ]
    if result.fitted_on_held_out:
        lines.append(
            "WARNING: the profile was fitted on checked configurations: " + ", ".join(result.fitted_on_held_out)
        )
    return "\n".join(lines)
