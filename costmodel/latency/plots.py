"""Figures for the latency model (matplotlib, imported lazily; reports never count).

- :func:`plot_latency_vs_mult_adds`: measured (and predicted) latency against Mult-Adds for the held-out
  networks -- the plot the paper could not show: equal Mult-Adds, unequal milliseconds. The legend names the
  runtime that measured, the title the population plotted.
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
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .validate import ConfigResult, ValidationResult

__all__ = ["plot_latency_vs_mult_adds", "plot_time_share", "save_latency_plots"]

#: Marker shapes of MobileNet widths; other networks are drawn as "P".
_SHAPES = ("o", "s", "^", "D", "v", "<", ">", "p", "h", "*", "d", "8")
_OTHER = "P"
_PAPER_SHAPES = {1.0: "o", 0.75: "s", 0.5: "^", 0.25: "D"}  # the paper's four widths keep their shapes


def _figure(width: float = 6.4, height: float = 4.6) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")  # no pyplot: no global state, no display


def _plain_log(ax: Axes) -> None:
    """Log axes with ticks that read 0.5, 1, 2, 5, 10 (not 10^0), at least three per axis where the data span
    less than a decade (then 1, 1.5, 2, 3, 4, 6, 8 times a power of ten)."""
    import math

    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        for steps in ((1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)):
            decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            ticks = [m * 10.0**e for e in decades for m in steps if lo <= m * 10.0**e <= hi]
            if len(ticks) >= 3:
                break
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _point_label(c: ConfigResult) -> str:
    """α-resolution for a MobileNet, the candidate's number for a search-space candidate, else its name."""
    if c.family.endswith(" candidates"):
        return "#" + c.name.rsplit(" ", 1)[-1]
    return c.label


def plot_latency_vs_mult_adds(result: ValidationResult) -> Figure:
    """Measured latency (ms, batch 1) vs Mult-Adds (millions), log-log, one labelled point per network, with the
    model's prediction as an open marker joined to it.

    The legend names the runtime that measured (:attr:`ValidationResult.measured_with`) and the marker shape of
    each MobileNet width; the title names the population (:attr:`ValidationResult.population`). Labels are
    placed where they overlap nothing (:func:`costmodel.report.labels.place_labels`).
    """
    from ..report.labels import place_labels

    fig = _figure(6.8, 5.0)
    ax = fig.add_subplot()
    alphas = sorted({c.alpha for c in result.configs if c.alpha == c.alpha}, reverse=True)
    shape = {a: _PAPER_SHAPES[a] for a in alphas if a in _PAPER_SHAPES}
    spare = iter([m for m in _SHAPES if m not in _PAPER_SHAPES.values()] * len(alphas))
    shape |= {a: next(spare) for a in alphas if a not in shape}
    measured, predicted = [], []
    for c in result.configs:
        x = c.mult_adds / 1e6
        marker = shape.get(c.alpha, _OTHER) if alphas else "o"
        ax.plot([x, x], [c.measured_s * 1e3, c.predicted_s * 1e3], color="0.75", lw=0.8, zorder=1)
        ax.scatter(x, c.measured_s * 1e3, marker=marker, color="C0", zorder=3)
        ax.scatter(x, c.predicted_s * 1e3, marker=marker, facecolors="none", edgecolors="C3", zorder=2)
        measured.append((x, c.measured_s * 1e3))
        predicted.append((x, c.predicted_s * 1e3))
    ax.scatter([], [], color="C0", label=f"measured ({result.measured_with})")
    ax.scatter([], [], facecolors="none", edgecolors="C3", label=f"predicted (profile {result.profile.name!r})")
    others = any(c.alpha != c.alpha for c in result.configs)
    if alphas:  # shapes mean something only when MobileNet widths are there to tell apart
        for a in alphas:
            ax.scatter([], [], marker=shape[a], color="0.4", label=f"MobileNetV1 α = {a:g}")
        if others:
            ax.scatter([], [], marker=_OTHER, color="0.4", label="other network")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_xlabel("Mult-Adds (millions, log scale)")
    ax.set_ylabel("latency, batch 1 (ms, log scale)")
    ax.set_title(
        f"Latency vs Mult-Adds: {result.population}, measured on {result.measured_with}\n"
        f"median |error| {result.median_abs_error_pct:.1f} %, Spearman {result.spearman:.3f}",
        fontsize=9,
    )
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize=7, loc="upper left")
    place_labels(ax, measured, [_point_label(c) for c in result.configs], avoid_points=predicted, fontsize=6.5)
    return fig


def plot_time_share(result: ValidationResult) -> Figure:
    """Per layer type: measured time share (%) vs Mult-Adds share (%), one point per network.

    Every kind has its own colour (tab20, then tab20b: up to 40 kinds) and, cycling, its own marker.
    """
    from matplotlib import colormaps

    palette = [*colormaps["tab20"].colors, *colormaps["tab20b"].colors]  # type: ignore[attr-defined]
    fig = _figure(8.4, 5.0)
    ax = fig.add_subplot()
    for i, kind in enumerate(result.kinds()):
        xs, ys = [], []
        for c in result.configs:
            time_total = sum(c.measured_by_kind_s.values())
            mult_adds_total = sum(c.mult_adds_by_kind.values())
            xs.append(100.0 * c.mult_adds_by_kind.get(kind, 0) / mult_adds_total)
            ys.append(100.0 * c.measured_by_kind_s.get(kind, 0.0) / time_total)
        colour = palette[i % len(palette)]
        ax.scatter(xs, ys, color=colour, marker=_SHAPES[i % 7], label=kind, s=18)
    ax.plot([0, 100], [0, 100], color="0.5", lw=0.8, ls="--", label="time share = Mult-Adds share")
    ax.set_xlim(-2, 100)
    ax.set_ylim(-2, 100)
    ax.set_xlabel("share of Mult-Adds (%)")
    ax.set_ylabel("share of measured time (%)")
    ax.set_title(
        f"Where the time goes, by layer kind (one point per network)\n{result.population}, measured on "
        f"{result.measured_with}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=2 if len(result.kinds()) > 16 else 1)
    return fig


def save_latency_plots(result: ValidationResult, folder: str | os.PathLike[str]) -> list[Path]:
    """Write both figures as PNG into ``folder`` (created when missing), both or neither; return their paths."""
    folder = Path(folder)
    figures = {"latency_vs_mult_adds.png": plot_latency_vs_mult_adds(result), "time_share.png": plot_time_share(result)}
    return atomic_write_many(
        [(folder / name, lambda f, fig=fig: fig.savefig(f, format="png", dpi=120)) for name, fig in figures.items()],
        folder=folder,
    )
