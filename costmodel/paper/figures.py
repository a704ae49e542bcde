"""Figures from data: each function takes numbers (or computes them from the spec) and returns a Figure.

- :func:`figure4` / :func:`figure5`: the paper's Figures 4 and 5, published top-1 of the 16 TF-slim models
  against computed Mult-Adds (log scale) / parameters, points labelled ``α-resolution``, with the log-linear
  **empirical fit** (:func:`costmodel.paper.accuracy.loglinear_fit`).
- :func:`cost_heatmap`: Mult-Adds over the α x ρ plane (:func:`costmodel.counting.sweeps.sweep`), labelled contours.
- :func:`params_vs_alpha`: parameters over α (they do not depend on ρ).
- :func:`layer_comparison`: standard vs depthwise separable convolution for Table 3's layer
  (D_K = 3, M = N = 512, D_F = 14), counted by the engine.

Plots never count: costs come from the engine or the sweep. matplotlib is imported when a function is called;
figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state, any backend).
:func:`save` writes PNG and SVG atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._files import atomic_write_many
from ..errors import CostModelError
from ..report.labels import place_labels

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .accuracy import LogLinearFit

__all__ = [
    "figure4",
    "figure5",
    "tradeoff_figure",
    "cost_heatmap",
    "params_vs_alpha",
    "layer_comparison",
    "save",
    "all_figures",
]

MILLION = 1e6


def _figure(width: float = 6.4, height: float = 4.8) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def tradeoff_figure(
    df: pd.DataFrame,
    x: str,
    y: str = "top1",
    fit: LogLinearFit | None = None,
    *,
    title: str = "",
    paper: pd.DataFrame | None = None,
) -> Figure:
    """Accuracy against a cost, one labelled point per row, and the fit line if given.

    Parameters
    ----------
    df : DataFrame
        Columns ``model``, ``x`` (a count: plotted in millions) and ``y`` (accuracy, %).
    x : {"mult_adds", "params"}
    fit : LogLinearFit, optional
        Drawn over the data's cost range, labelled as an empirical fit.
    paper : DataFrame, optional
        Extra points (columns ``x`` and ``top1_pct``), e.g. the paper's Tables 6-7, drawn as crosses.

    Returns
    -------
    Figure
        One axes: ``collections[0]`` holds the points (x in millions, y), ``collections[1]`` the ``paper``
        points if given, ``lines[0]`` the fit.
    """
    fig = _figure()
    ax = fig.add_subplot()
    xs = df[x].to_numpy(dtype=np.float64) / MILLION
    ys = df[y].to_numpy(dtype=np.float64)
    ax.scatter(xs, ys, zorder=3, label="published (TF-slim model card)")
    crosses: list[tuple[float, float]] = []
    if paper is not None:
        px = paper[x].to_numpy(dtype=np.float64) / MILLION
        ax.scatter(px, paper["top1_pct"], marker="x", color="black", zorder=4, label="paper, Tables 6-7")
        crosses = list(zip(px.tolist(), paper["top1_pct"].to_numpy(dtype=np.float64).tolist(), strict=True))
    if fit is not None:
        grid = np.geomspace(xs.min(), xs.max(), 50)
        label = f"{fit.label} (log-linear, R² = {fit.r_squared:.3f})"
        ax.plot(grid, fit.predict(grid * MILLION).to_numpy(), "--", label=label)
    ax.set_xscale("log")
    ticks = [
        t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if xs.min() / 1.5 <= t <= xs.max() * 1.5
    ]
    if len(ticks) >= 2:
        from matplotlib.ticker import NullFormatter

        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    unit = "Mult-Adds" if x == "mult_adds" else "parameters"
    ax.set_xlabel(f"{unit} (millions, log scale)")
    ax.set_ylabel(f"ImageNet {y.replace('top', 'top-')} accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    labels = [str(label).replace("_", "-") for label in df["model"]]
    place_labels(ax, list(zip(xs.tolist(), ys.tolist(), strict=True)), labels, avoid_points=crosses)
    return fig


def _tradeoff(x: str, title: str, df: pd.DataFrame | None, fit: LogLinearFit | None) -> Figure:
    from .accuracy import loglinear_fit, models, paper_accuracy, with_costs

    df = models() if df is None else df
    fit = loglinear_fit(x, data=df) if fit is None else fit
    return tradeoff_figure(df, x, fit=fit, title=title, paper=with_costs(paper_accuracy()))


def figure4(df: pd.DataFrame | None = None, fit: LogLinearFit | None = None) -> Figure:
    """The paper's Figure 4: top-1 against Mult-Adds (log scale) for the 16 card models, with the empirical
    fit; the paper's own Tables 6-7 points as crosses."""
    return _tradeoff("mult_adds", "Figure 4: ImageNet accuracy vs Mult-Adds", df, fit)


def figure5(df: pd.DataFrame | None = None, fit: LogLinearFit | None = None) -> Figure:
    """The paper's Figure 5: top-1 against parameters (log scale) for the 16 card models, with the empirical
    fit; the paper's own Tables 6-7 points as crosses."""
    return _tradeoff("params", "Figure 5: ImageNet accuracy vs parameters", df, fit)


def cost_heatmap(
    quantity: str = "mult_adds",
    alpha: Sequence[float] | np.ndarray | None = None,
    resolution: Sequence[int] | np.ndarray | None = None,
) -> Figure:
    """Mult-Adds (millions) over the α x ρ plane, ρ = resolution / 224, with labelled contours.

    Parameters do not depend on ρ (the input size changes no weight): :func:`params_vs_alpha` draws them over
    α alone, and ``quantity="params"`` is an error. The default grid is fine (every resolution from 96 to 224,
    α in steps of 0.0025), so the contours follow the exact counts' small steps (channel rounding, the stride
    rule) instead of a coarse grid's interpolation.

    Returns
    -------
    Figure
        ``axes[0].collections[0]`` is a QuadMesh whose array, shape (len(resolution), len(alpha)), holds the
        cost in millions: row i is ``resolution[i]``, column j is ``alpha[j]``.
    """
    from ..counting.sweeps import sweep_arrays

    if quantity == "params":
        raise CostModelError("parameters do not depend on the resolution multiplier rho: use params_vs_alpha()")
    if quantity != "mult_adds":
        raise CostModelError(f"heatmap quantity must be 'mult_adds', got {quantity!r}")
    alpha = np.linspace(0.25, 1.0, 301) if alpha is None else np.asarray(alpha, dtype=np.float64)
    resolution = np.arange(96, 225) if resolution is None else np.asarray(resolution, dtype=np.int64)
    out = sweep_arrays(alpha, resolution, grid=True)
    values = out.mult_adds.reshape(alpha.size, resolution.size).T / MILLION
    fig = _figure()
    ax = fig.add_subplot()
    rho = resolution / 224
    mesh = ax.pcolormesh(alpha, rho, values, shading="nearest", cmap="viridis", rasterized=True)
    if values.shape[0] > 1 and values.shape[1] > 1:
        levels = [v for v in (10, 25, 50, 100, 200, 300, 400, 500) if values.min() < v < values.max()]
        if levels:
            lines = ax.contour(alpha, rho, values, levels=levels, colors="white", linewidths=0.8)
            ax.clabel(lines, fmt=lambda v: f"{v:g} M", fontsize=7, inline=True, inline_spacing=3)
    fig.colorbar(mesh, ax=ax, label="Mult-Adds (millions)")
    ax.set_xlabel("width multiplier α")
    ax.set_ylabel("resolution multiplier ρ = resolution / 224")
    ax.set_title("MobileNetV1 Mult-Adds over α x ρ (exact counts; contours in millions)", fontsize=10)
    return fig


def params_vs_alpha(alpha: Sequence[float] | np.ndarray | None = None) -> Figure:
    """MobileNetV1 parameters (millions) over α: the same at every resolution, so one line, not a plane.

    The paper's four widths (α = 1, 0.75, 0.5, 0.25) are marked and labelled with their counts.

    Returns
    -------
    Figure
        ``axes[0].lines[0]`` holds (α, parameters in millions) over ``alpha`` (default: 0.25 to 1 in steps of
        0.0025); ``axes[0].collections[0]`` the four marked widths.
    """
    from ..counting.sweeps import sweep_arrays

    alpha = np.linspace(0.25, 1.0, 301) if alpha is None else np.asarray(alpha, dtype=np.float64)
    params = sweep_arrays(alpha, 224, grid=True).params / MILLION
    marked = np.array([0.25, 0.5, 0.75, 1.0])
    marked_params = sweep_arrays(marked, 224, grid=True).params / MILLION
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    ax.plot(alpha, params, lw=1.2, label="exact count (any resolution)")
    ax.scatter(marked, marked_params, color="C3", zorder=3, label="the paper's widths")
    ax.set_xlabel("width multiplier α")
    ax.set_ylabel("parameters (millions)")
    ax.set_title("MobileNetV1 parameters over α (independent of ρ: the input size changes no weight)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    labels = [f"α={a:g}: {p:.2f} M" for a, p in zip(marked, marked_params, strict=True)]
    place_labels(ax, list(zip(marked.tolist(), marked_params.tolist(), strict=True)), labels, fontsize=8)
    return fig


def layer_costs(alpha: float = 1.0, d_f: int = 14) -> dict[str, dict[str, int]]:
    """Engine counts for Table 3's layer (D_K = 3, M = N = int(512·α), D_F x D_F) as a standard and as a
    depthwise separable convolution, built by :func:`costmodel.paper.tables.table3_network`.

    Returns {"standard" | "depthwise" | "pointwise": {"mult_adds": int, "params": int}}.
    """
    from ..counting.engine import count
    from .tables import table3_network

    (standard,) = count(table3_network(alpha, d_f, separable=False)).layers
    depthwise, pointwise = count(table3_network(alpha, d_f, separable=True)).layers
    out = {"standard": standard, "depthwise": depthwise, "pointwise": pointwise}
    return {k: {"mult_adds": lc.mult_adds, "params": lc.params} for k, lc in out.items()}


def layer_comparison(alpha: float = 1.0, d_f: int = 14) -> Figure:
    """Standard vs depthwise separable convolution for Table 3's layer: Mult-Adds and parameters (millions).

    One bar per convolution, on a log scale (the depthwise layer's 1.8 M Mult-Adds sit beside the standard
    one's 462 M), each with its value written on it; the separable total and its ratio to the standard layer
    are in the panel's title.

    Returns
    -------
    Figure
        Two axes (Mult-Adds, parameters). In each, ``containers[0]`` is the standard bar and
        ``containers[1]``/``containers[2]`` the depthwise and pointwise bars.
    """
    from matplotlib.ticker import FuncFormatter

    costs = layer_costs(alpha, d_f)
    fig = _figure(8.0, 4.2)
    axes = fig.subplots(1, 2)
    for ax, quantity in zip(axes, ("mult_adds", "params"), strict=True):
        std = costs["standard"][quantity] / MILLION
        dw = costs["depthwise"][quantity] / MILLION
        pw = costs["pointwise"][quantity] / MILLION
        what = "Mult-Adds" if quantity == "mult_adds" else "parameters"
        bars = (("standard 3x3", std, "tab:red"), ("depthwise 3x3", dw, "tab:blue"), ("pointwise 1x1", pw, "tab:cyan"))
        for name, value, colour in bars:
            ax.bar_label(ax.bar([name], [value], color=colour), labels=[_millions(value)], fontsize=8, padding=2)
        ax.set_yscale("log")
        ax.set_ylim(min(std, dw, pw) / 3, max(std, dw, pw) * 4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.01, 1, 100: not 10^-2, 10^0
        ax.set_ylabel(f"{what} (millions, log scale)")
        ax.set_xlabel("convolution (separable = depthwise + pointwise)")
        ratio = (dw + pw) / std
        ax.set_title(f"{what}: separable {_millions(dw + pw)} = {ratio:.3f} x standard", fontsize=9)
    from ..spec.mobilenet import scale_channels

    m = scale_channels(512, alpha)
    fig.suptitle(f"Table 3's layer, D_K=3, M=N={m}, D_F={d_f}: standard vs depthwise separable", fontsize=10)
    return fig


def _millions(value: float) -> str:
    """A count in millions as Table 3 prints it: 462 M, 52.3 M, 1.81 M, 0.0046 M."""
    return f"{value:.3g} M" if value >= 0.01 else f"{value:.2g} M"


def save(fig: Figure, directory: str | Path, stem: str, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``directory/stem.<format>`` for each format (see :func:`save_all`)."""
    return save_all({stem: fig}, directory, formats)


def save_all(
    figures: Mapping[str, Figure], directory: str | Path, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write every figure as ``directory/<stem>.<format>``, all files or none: each is drawn into a temporary
    file first, and only when all are complete are they renamed into place. ``directory`` is created when
    missing. Returns the paths written."""
    from matplotlib.backend_bases import get_registered_canvas_class

    for fmt in formats:  # import each format's backend now, not while a file is open (a SIGTERM then is clean)
        get_registered_canvas_class(fmt)
    items = [
        (Path(directory) / f"{stem}.{fmt}", lambda f, fig=fig, fmt=fmt: fig.savefig(f, format=fmt, dpi=150))
        for stem, fig in figures.items()
        for fmt in formats
    ]
    return atomic_write_many(items, folder=directory)


def all_figures() -> dict[str, Figure]:
    """Every figure the ``costmodel plot`` command writes, by file stem."""
    return {
        "figure4_top1_vs_mult_adds": figure4(),
        "figure5_top1_vs_params": figure5(),
        "heatmap_mult_adds": cost_heatmap("mult_adds"),
        "params_vs_alpha": params_vs_alpha(),
        "table3_layer_standard_vs_separable": layer_comparison(),
    }
