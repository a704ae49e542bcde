"""Every figure can be read: no two labels overlap, every axis says what it shows and in which unit, and the
latency figures name the runtime that measured and the population they plot.

What is checked is what the renderer draws: text boxes come from ``Text.get_window_extent`` after an Agg draw,
so a label placed on top of another fails here, not in a reader's eye. The latency figures are drawn from
measurements whose runtime and networks the test sets itself (the recorded ONNX Runtime profile of
tests/fixtures, and NumPy measurements of OFA candidates and zoo networks), so the names it expects are
independent of the plotting code.
"""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.category import UnitData  # noqa: E402

import costmodel  # noqa: E402
from costmodel.latency.model import predict  # noqa: E402
from costmodel.latency.networks import ZOO  # noqa: E402
from costmodel.latency.plots import plot_latency_vs_mult_adds, plot_time_share  # noqa: E402
from costmodel.latency.profiles import DeviceProfile  # noqa: E402
from costmodel.latency.runtimes import Measurement  # noqa: E402
from costmodel.latency.validate import compare  # noqa: E402
from costmodel.paper.figures import all_figures  # noqa: E402

#: Quantities that have no unit, named by their symbol in the label (the paper's multipliers).
UNITLESS = ("α", "ρ")
#: Boxes may touch: an overlap below this many pixels in either direction is antialiasing, not a collision.
TOUCH_PX = 1.0


def _synthetic(networks, runtime, seed=0):
    """Measurements of a stand-in device: the prediction of a fixed profile times a per-network factor."""
    truth = DeviceProfile(1e11, 1e10, default_efficiency=0.5)
    rng = np.random.default_rng(seed)
    out = []
    for net in networks:
        factor = rng.uniform(0.9, 1.1)
        layer_s = {lat.name: factor * lat.seconds for lat in predict(net, truth).leaves()}
        out.append(Measurement(net, layer_s, sum(layer_s.values()), runtime=runtime))
    return truth, out


def _ort_mobilenets():
    from test_latency_runtimes import BANDWIDTH, CACHE, PEAK, recorded

    from costmodel.latency.calibrate import fit_profile

    fit = [m for rec, _, m in recorded() if not rec["held_out"]]
    held = [m for rec, _, m in recorded() if rec["held_out"]]
    return compare(fit_profile(PEAK, BANDWIDTH, fit, runtime="onnxruntime", cache_bytes=CACHE), held)


def _ofa_candidates():
    from costmodel.search.latency import _named

    space = costmodel.search_space("ofa_mobilenet_v3")
    nets = [_named(space.build(g, 160), f"ofa_mobilenet_v3 {i}") for i, g in enumerate(space.sample(24, seed=3))]
    return compare(*_synthetic(nets, "numpy"))


def _zoo():
    nets = [costmodel.mobilenet_v1(a, r) for a, r in ((1.0, 224), (0.35, 160), (0.25, 128))]
    return compare(*_synthetic(nets + [costmodel.network(n, resolution=224) for n in ZOO], "numpy", seed=1))


#: (result builder, the runtime's name, the population's words, what must not be claimed)
RESULTS = {
    "ort_mobilenets": (_ort_mobilenets, "ONNX Runtime", "6 MobileNetV1", "reference executor"),
    "ofa_candidates": (_ofa_candidates, "NumPy reference executor", "24 ofa_mobilenet_v3 candidates", "MobileNetV1"),
    "zoo": (_zoo, "NumPy reference executor", "3 MobileNetV1 + 10 other networks", "ONNX"),
}


def _figures():
    out = dict(all_figures())
    for name, (make, *_) in RESULTS.items():
        result = make()
        out[f"latency_{name}"] = plot_latency_vs_mult_adds(result)
        out[f"time_share_{name}"] = plot_time_share(result)
    return out


@pytest.fixture(scope="module")
def figures():
    return _figures()


def _drawn(fig):
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _labels(fig):
    """Every text a reader reads as a label: titles, axis labels, annotations, bar and contour labels, legends."""
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += legend.get_texts()
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _overlap(a, b):
    return min(a.x1, b.x1) - max(a.x0, b.x0) > TOUCH_PX and min(a.y1, b.y1) - max(a.y0, b.y0) > TOUCH_PX


FIGURES = [
    "figure4_top1_vs_mult_adds",
    "figure5_top1_vs_params",
    "heatmap_mult_adds",
    "params_vs_alpha",
    "table3_layer_standard_vs_separable",
    *(f"{kind}_{name}" for name in RESULTS for kind in ("latency", "time_share")),
]


def test_every_figure_is_checked(figures):
    assert sorted(figures) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_no_two_labels_overlap(figures, name):
    fig = figures[name]
    renderer = _drawn(fig)
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _labels(fig)]
    clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if _overlap(box_a, box_b)]
    assert not clashes, clashes
    # ... nor does a point label sit under a legend, or run off the figure
    frame = fig.bbox
    for ax in fig.axes:
        legend = ax.get_legend()
        legend_box = legend.get_window_extent(renderer) if legend is not None else None
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            assert legend_box is None or not _overlap(box, legend_box), (text.get_text(), "under the legend")
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text


def _numeric(axis):
    return not isinstance(axis.get_units(), UnitData)  # a categorical axis holds names, not quantities


@pytest.mark.parametrize("name", FIGURES)
def test_every_axis_has_a_label_with_its_unit(figures, name):
    fig = figures[name]
    for ax in fig.axes:
        colorbar = getattr(ax, "_colorbar", None)
        axes = [colorbar.long_axis] if colorbar is not None else [ax.xaxis, ax.yaxis]
        for axis in axes:
            label = axis.label.get_text()
            assert label, f"{name}: an axis without a label"
            if _numeric(axis):
                assert ("(" in label and ")" in label) or any(s in label for s in UNITLESS), (name, label)


@pytest.mark.parametrize("name", list(RESULTS))
def test_latency_figures_name_the_runtime_and_the_population(figures, name):
    _, runtime, population, never = RESULTS[name]
    for kind in ("latency", "time_share"):
        fig = figures[f"{kind}_{name}"]
        ax = fig.axes[0]
        words = " ".join([ax.get_title(), *(t.get_text() for t in ax.get_legend().get_texts())])
        assert runtime in ax.get_title() and population in ax.get_title(), ax.get_title()
        assert never not in words, (never, words)
    legend = [t.get_text() for t in figures[f"latency_{name}"].axes[0].get_legend().get_texts()]
    assert legend[0] == f"measured ({runtime})"


def _marker_path(collection):
    return collection.get_paths()[0].vertices.round(6).tobytes()


@pytest.mark.parametrize("name", ["ort_mobilenets", "zoo"])
def test_marker_shapes_are_explained_in_the_legend(figures, name):
    """Every MobileNet width has its shape in the legend, and the points of that width are drawn with it."""
    result = RESULTS[name][0]()
    ax = figures[f"latency_{name}"].axes[0]
    legend = ax.get_legend()
    shapes = {t.get_text(): _marker_path(h) for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    drawn = [c for c in ax.collections if len(c.get_offsets())]  # per network: measured, then predicted
    assert len(drawn) == 2 * len(result.configs)
    for c, measured in zip(result.configs, drawn[::2], strict=True):
        key = f"MobileNetV1 α = {c.alpha:g}" if not math.isnan(c.alpha) else "other network"
        assert shapes[key] == _marker_path(measured), key
    assert len(set(shapes[k] for k in shapes if k.startswith("MobileNetV1"))) == len(
        {c.alpha for c in result.configs if not math.isnan(c.alpha)}
    )  # one shape per width


@pytest.mark.parametrize("name", list(RESULTS))
def test_every_kind_has_its_own_colour(figures, name):
    ax = figures[f"time_share_{name}"].axes[0]
    colours = [tuple(np.round(c.get_facecolor()[0], 6)) for c in ax.collections]
    assert len(colours) == len(RESULTS[name][0]().kinds()) and len(set(colours)) == len(colours)
