"""Figures for the latency model (matplotlib, imported lazily; reports never count).

- :func:`plot_latency_vs_mult_adds`: measured (and predicted) latency against Mult-Adds for the held-out
  MobileNets -- the plot the paper could not show: equal Mult-Adds, unequal milliseconds.
- :func:`plot_time_share`: per layer type, the share of measured time against the share of Mult-Adds, one
  point per network; points off the diagonal are layer types that cost more (or less) time than their
  arithmetic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import atomic_write_many

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .validate import ValidationResult

__all__ = ["plot_latency_vs_mult_adds", "plot_time_share", "save_latency_plots"]

_MARKERS = {1.0: "o", 0.75: "s", 0.5: "^", 0.25: "D"}


def _figure(width: float = 6.4, height: float = 4.6) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")  # no pyplot: no global state, no display


def plot_latency_vs_mult_adds(result: ValidationResult) -> Figure:
    """Measured latency (ms, batch 1) vs Mult-Adds (millions), one labelled point per configuration,
    with the model's prediction as an open marker joined to it."""
    fig = _figure()
    ax = fig.add_subplot()
    for c in result.configs:
        x = c.mult_adds / 1e6
        marker = _MARKERS.get(c.alpha, "o")
        ax.plot([x, x], [c.measured_s * 1e3, c.predicted_s * 1e3], color="0.75", lw=0.8, zorder=1)
        ax.scatter(x, c.measured_s * 1e3, marker=marker, color="C0", zorder=3)
        ax.scatter(x, c.predicted_s * 1e3, marker=marker, facecolors="none", edgecolors="C3", zorder=2)
        ax.annotate(c.label, (x, c.measured_s * 1e3), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.scatter([], [], color="C0", label="measured (reference executor)")
    ax.scatter([], [], facecolors="none", edgecolors="C3", label="predicted (roofline profile)")
    ax.set_xlabel("Mult-Adds (millions)")
    ax.set_ylabel("latency, batch 1 (ms)")
    ax.set_title(
        f"MobileNetV1: latency vs Mult-Adds (median |error| {result.median_abs_error_pct:.1f} %, "
        f"Spearman {result.spearman:.3f})",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_time_share(result: ValidationResult) -> Figure:
    """Per layer type: measured time share (%) vs Mult-Adds share (%), one point per held-out network."""
    fig = _figure()
    ax = fig.add_subplot()
    for i, kind in enumerate(result.kinds()):
        xs, ys = [], []
        for c in result.configs:
            time_total = sum(c.measured_by_kind_s.values())
            mult_adds_total = sum(c.mult_adds_by_kind.values())
            xs.append(100.0 * c.mult_adds_by_kind.get(kind, 0) / mult_adds_total)
            ys.append(100.0 * c.measured_by_kind_s.get(kind, 0.0) / time_total)
        ax.scatter(xs, ys, color=f"C{i}", label=kind, s=18)
    ax.plot([0, 100], [0, 100], color="0.5", lw=0.8, ls="--", label="time share = Mult-Adds share")
    ax.set_xlim(-2, 100)
    ax.set_ylim(-2, 100)
    ax.set_xlabel("share of Mult-Adds (%)")
    ax.set_ylabel("share of measured time (%)")
    ax.set_title("Where the time goes, by layer type (one point per network)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def save_latency_plots(result: ValidationResult, folder: str | os.PathLike[str]) -> list[Path]:
    """Write both figures as PNG into ``folder`` (created when missing), both or neither; return their paths."""
    folder = Path(folder)
    figures = {"latency_vs_mult_adds.png": plot_latency_vs_mult_adds(result), "time_share.png": plot_time_share(result)}
    return atomic_write_many(
        [(folder / name, lambda f, fig=fig: fig.savefig(f, format="png", dpi=120)) for name, fig in figures.items()],
        folder=folder,
    )
