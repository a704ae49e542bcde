"""Point labels that do not overlap: each label goes to the first free spot around its point.

matplotlib draws an annotation where it is told, on top of whatever is there. :func:`place_labels` tries, for
each point in turn, a ring of spots around it (right, left, above, below, the diagonals), then rings further
out joined to the point by a thin line, and keeps the first spot whose text box overlaps no label placed
before, no data point, no legend and no title, and stays inside the axes. When every spot is taken, the one
with the least overlap wins. Text boxes come from the renderer (``Text.get_window_extent``), after the figure's
layout is final, so what is checked is what is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Annotation
    from matplotlib.transforms import Bbox

__all__ = ["place_labels"]

#: Spots around a point, in points: (dx, dy, horizontal alignment, vertical alignment), nearest first.
_RING = (
    (4, 2, "left", "bottom"),
    (4, -2, "left", "top"),
    (-4, 2, "right", "bottom"),
    (-4, -2, "right", "top"),
    (0, 5, "center", "bottom"),
    (0, -5, "center", "top"),
    (6, 0, "left", "center"),
    (-6, 0, "right", "center"),
)
#: How far out the rings go (multiples of the first ring's offsets, plus a fixed step in points).
_RADII = (1, 3, 5, 8, 12)
_STEP = 7


def _area(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(
    ax: Axes,
    xy: Sequence[tuple[float, float]],
    labels: Sequence[str],
    *,
    fontsize: float = 7,
    marker_px: float = 4.0,
    avoid_points: Sequence[tuple[float, float]] = (),
    pad_px: float = 1.0,
) -> list[Annotation]:
    """Annotate every point of ``xy`` (data coordinates) with its label, without overlaps where room allows.

    Parameters
    ----------
    ax : Axes
        Its figure's layout is finalised first (``draw_without_rendering``); the annotations do not take part
        in the layout, so placing them does not move the axes.
    xy, labels : sequences of the same length
        The points and their texts; annotations are added to ``ax.texts`` in this order.
    marker_px : float
        Half the size of a drawn marker in pixels: a label keeps off every point (``xy`` and ``avoid_points``).

    Returns
    -------
    list of Annotation
        One per point, in order.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure (no pyplot): measure text as Agg draws it
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # the final layout: positions in pixels are the drawn ones
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken: list[Bbox] = []
    legend = ax.get_legend()
    if legend is not None:
        taken.append(legend.get_window_extent(renderer))
    if ax.title.get_text():
        taken.append(ax.title.get_window_extent(renderer))
    to_pixels = ax.transData.transform
    for px, py in [*xy, *avoid_points]:
        cx, cy = to_pixels((px, py))
        taken.append(Bbox.from_extents(cx - marker_px, cy - marker_px, cx + marker_px, cy + marker_px))
    px_per_point = fig.dpi / 72.0
    out: list[Annotation] = []
    for (px, py), label in zip(xy, labels, strict=True):
        # The text's size, once; each spot's box is then arithmetic (the drawn annotation is checked below).
        probe = ax.annotate(label, (px, py), fontsize=fontsize, annotation_clip=False)
        size = probe.get_window_extent(renderer)
        probe.remove()
        width, height = size.width, size.height
        cx, cy = to_pixels((px, py))
        best: tuple[float, float, float, str, str, int] | None = None  # (overlap, dx, dy, ha, va, radius)
        for radius in _RADII:
            for dx, dy, ha, va in _RING:
                ox = dx * radius + _STEP * (radius - 1) * _sign(dx)
                oy = dy * radius + _STEP * (radius - 1) * _sign(dy)
                x0 = cx + ox * px_per_point - {"left": 0.0, "center": width / 2, "right": width}[ha]
                y0 = cy + oy * px_per_point - {"bottom": 0.0, "center": height / 2, "top": height}[va]
                box = Bbox.from_bounds(x0, y0, width, height).padded(pad_px)
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                overlap = sum(_area(box, other) for other in taken) + (0.0 if inside else 1e6)
                if best is None or overlap < best[0]:
                    best = (overlap, ox, oy, ha, va, radius)
                if overlap == 0.0:
                    break
            if best is not None and best[0] == 0.0:
                break
        assert best is not None
        _, ox, oy, ha, va, radius = best
        arrow = {"arrowstyle": "-", "color": "0.6", "lw": 0.5} if radius > 1 else None
        ann = ax.annotate(
            label, (px, py), textcoords="offset points", xytext=(ox, oy), fontsize=fontsize, ha=ha, va=va,
            arrowprops=arrow, annotation_clip=False,
        )  # fmt: skip
        ann.set_in_layout(False)
        taken.append(ann.get_window_extent(renderer).padded(pad_px))
        out.append(ann)
    return out


def _sign(value: float) -> float:
    return 1.0 if value > 0 else -1.0 if value < 0 else 0.0
