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
    """One row per leaf layer (a block's layers, then its own add or copy): Mult-Adds beside the predicted time.

    Columns: the roofline's parts, the bound, the kernel path, whether the kind was extrapolated (the profile's
    default efficiency), the block the layer belongs to. The ``predicted_ms`` column adds up to
    ``pred.seconds`` (in ms), with a last row for the profile's per-pass overhead when it has one;
    ``predicted_pct`` adds up to 100.
    """
    import pandas as pd

    total = pred.seconds
    rows = []
    for top in pred.layers:
        for lat in top.leaves():
            rows.append(
                {
                    "name": lat.name,
                    "kind": lat.kind,
                    "path": lat.path,
                    "block": top.name if top.parts else "",
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
                    "extrapolated": lat.extrapolated,
                }
            )
    if pred.network_overhead_s:
        rows.append(
            {
                "name": "(per pass)", "kind": "Runtime", "path": "", "block": "", "mult_adds": 0, "flops": 0,
                "bytes": 0, "intensity_flops_per_byte": 0.0, "compute_ms": 0.0, "memory_ms": 0.0, "bound": "",
                "efficiency": 1.0, "overhead_ms": pred.network_overhead_s * _MS,
                "predicted_ms": pred.network_overhead_s * _MS,
                "predicted_pct": 100.0 * pred.network_overhead_s / total if total else 0.0, "extrapolated": False,
            }
        )  # fmt: skip
    df = pd.DataFrame(rows)
    if not pred.profile.paths:  # a one-path runtime: no path column to show
        df = df.drop(columns=["path"])
    return df


def profile_summary(profile: DeviceProfile) -> str:
    """One line: runtime, peak, bandwidth, ridge point and overheads of a profile."""
    meta = profile.meta
    version = f" {meta['runtime_version']}" if "runtime_version" in meta else ""
    threads = f", {meta['threads']} thread(s)" if "threads" in meta else ""
    paths = {p for rule in profile.paths.values() for p in (rule.get("path"), rule.get("otherwise")) if p}
    return (
        f"profile {profile.name!r} ({profile.runtime}{version}{threads}): "
        f"peak {profile.peak_flops_per_s / 1e9:,.1f} GFLOP/s, "
        f"bandwidth {profile.bandwidth_bytes_per_s / 1e9:,.2f} GB/s, "
        f"ridge {profile.ridge_flops_per_byte:,.1f} FLOP/byte, "
        f"overhead {profile.overhead_s * 1e6:,.2f} us/layer + {profile.overhead_network_s * 1e6:,.1f} us/pass, "
        f"{len(profile.efficiency)} kinds"
        + (f" on {len(paths)} kernel paths" if paths else "")
        + (f", fallback efficiency {profile.default_efficiency:g}" if profile.default_efficiency is not None else "")
        + f", {profile.dtype}"
    )


def prediction_summary(pred: LatencyPrediction) -> str:
    """The total line, with the per-type split and how many layers are compute-bound."""
    by_kind = ", ".join(f"{k} {v * _MS:,.3f}" for k, v in pred.by_kind().items())
    leaves = pred.leaves()
    compute = sum(lat.bound == "compute" for lat in leaves)
    text = (
        f"Total: {pred.seconds * _MS:,.3f} ms predicted for {pred.mult_adds:,} Mult-Adds "
        f"(batch {pred.batch}); {compute} of {len(leaves)} layers compute-bound.\n"
        f"By layer kind (ms): {by_kind}"
    )
    extrapolated = sorted({lat.kind for lat in leaves if lat.extrapolated})
    if extrapolated:
        text += (
            f"\nEXTRAPOLATED: the profile does not cover {', '.join(extrapolated)}; those layers use its default "
            f"efficiency ({pred.profile.default_efficiency:g}), not a calibration"
        )
    return text


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
                "mult_adds_baseline_error_pct": c.baseline_error_pct,
                "extrapolated": c.extrapolated,
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
    """The headline numbers against the targets, beside the Mult-Adds baseline's."""
    accuracy, pairs = result.pairwise_accuracy
    lines = [
        f"Held-out networks: {len(result.configs)} ({result.profile.runtime})",
        f"Median absolute error of whole-network latency: {result.median_abs_error_pct:.1f} % (target <= 10 %); "
        f"max {result.max_abs_error_pct:.1f} %",
        f"Within +-10 %: {100 * result.within_10_percent:.0f} % of networks (target >= 90 %)",
        f"Rank correlation, predicted vs measured: Spearman {result.spearman:.3f} (target >= 0.95), Kendall tau-b "
        f"{result.kendall_tau:.3f}; Mult-Adds alone: Spearman {result.mult_adds_spearman:.3f}",
        f"Pairs with Mult-Adds within 20 %: {pairs}, ordered right by the model {_share(accuracy)}, "
        f"by Mult-Adds {_share(result.mult_adds_pairwise_accuracy)}",
    ]
    baseline = result.baseline()
    if baseline is not None:
        ratio = result.median_abs_error / baseline["median_abs_error"] if baseline["median_abs_error"] else float("nan")
        lines.append(
            f"Mult-Adds baseline (k x Mult-Adds + c, fitted on the profile's fitting networks): median "
            f"{100 * baseline['median_abs_error']:.1f} %, max {100 * baseline['max_abs_error']:.1f} %, within +-10 % "
            f"{100 * baseline['within_10_percent']:.0f} %; the model's median is {ratio:.2f} of it (target <= 0.33)"
        )
    if any(c.extrapolated for c in result.configs):
        lines.append("EXTRAPOLATED: some networks have kinds the profile does not cover (its default efficiency)")
    if result.fitted_on_held_out:
        lines.append(
            "WARNING: the profile was fitted on checked configurations: " + ", ".join(result.fitted_on_held_out)
        )
    return "\n".join(lines)


def _share(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.0f} %"
