"""What the figures draw, checked against the engine and the published data (not only that a file exists)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import costmodel  # noqa: E402
from costmodel.cli import main  # noqa: E402
from costmodel.errors import CostModelError  # noqa: E402
from costmodel.paper.accuracy import loglinear_fit, model_card, paper_accuracy  # noqa: E402
from costmodel.paper.figures import cost_heatmap, figure4, figure5, layer_comparison, params_vs_alpha  # noqa: E402


def engine(alpha, resolution):
    c = costmodel.count(costmodel.mobilenet_v1(float(alpha), int(resolution)))
    return c.mult_adds, c.params


@pytest.mark.parametrize(("make", "quantity"), [(figure4, "mult_adds"), (figure5, "params")])
def test_tradeoff_points_are_engine_costs_and_published_top1(make, quantity):
    fig = make()
    ax = fig.axes[0]
    card = model_card()
    offsets = ax.collections[0].get_offsets()
    points = zip(card["alpha"], card["resolution"], strict=True)
    expected_x = [engine(a, r)[quantity == "params"] / 1e6 for a, r in points]
    np.testing.assert_allclose(offsets[:, 0], expected_x, rtol=1e-12)  # same float division: ~exact
    np.testing.assert_array_equal(offsets[:, 1], card["top1"].to_numpy())
    labels = [t.get_text() for t in ax.texts]
    assert labels == [m.replace("_", "-") for m in card["model"]]
    assert ax.get_xscale() == "log"
    # the fit line: top1 = a + b log10(cost), evaluated independently at the plotted x
    fit = loglinear_fit(quantity)
    xy = ax.lines[0].get_xydata()
    np.testing.assert_allclose(xy[:, 1], fit.intercept + fit.slope * np.log10(xy[:, 0] * 1e6), rtol=1e-12)
    assert "empirical fit" in ax.lines[0].get_label()
    assert xy[0, 0] == pytest.approx(min(expected_x)) and xy[-1, 0] == pytest.approx(max(expected_x))
    # the paper's Tables 6-7 points: published top-1 at the engine's cost of each row's configuration
    paper = paper_accuracy()
    crosses = ax.collections[1].get_offsets()
    expected = [
        engine(a, r)[quantity == "params"] / 1e6 for a, r in zip(paper["alpha"], paper["resolution"], strict=True)
    ]
    np.testing.assert_allclose(crosses[:, 0], expected, rtol=1e-12)
    np.testing.assert_array_equal(crosses[:, 1], paper["top1_pct"].to_numpy())


def test_heatmap_cells_are_engine_counts():
    alpha, resolution = [0.25, 0.3, 0.5, 1.0], [96, 131, 160, 224]
    fig = cost_heatmap("mult_adds", alpha, resolution)
    mesh = fig.axes[0].collections[0]
    values = np.asarray(mesh.get_array()).reshape(len(resolution), len(alpha))
    for i, r in enumerate(resolution):
        for j, a in enumerate(alpha):
            assert values[i, j] == engine(a, r)[0] / 1e6
    # the contours are labelled with their level in millions
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels and all(t.endswith(" M") and float(t[:-2]) in (10, 25, 50, 100, 200, 300, 400, 500) for t in labels)


def test_parameters_are_drawn_over_alpha_only():
    """Parameters do not depend on the resolution (the engine says so at two resolutions): one line over α."""
    alpha = [0.25, 0.3, 0.5, 0.75, 1.0]
    fig = params_vs_alpha(alpha)
    xy = fig.axes[0].lines[0].get_xydata()
    np.testing.assert_array_equal(xy[:, 0], alpha)
    for a, p in zip(alpha, xy[:, 1], strict=True):
        assert p == engine(a, 224)[1] / 1e6 == engine(a, 128)[1] / 1e6
    assert "independent of ρ" in fig.axes[0].get_title()
    with pytest.raises(CostModelError, match="rho"):
        cost_heatmap("params")


def test_layer_comparison_bars_are_table3_counts():
    fig = layer_comparison()
    ma, pa = fig.axes
    # Table 3: standard 3x3, 512 -> 512, 14x14: D_K²·M·N·D_F² and D_K²·M·N, written out
    std_ma, std_p = 9 * 512 * 512 * 14 * 14, 9 * 512 * 512
    dw_ma, pw_ma = 9 * 512 * 14 * 14, 512 * 512 * 14 * 14
    heights = [[bar.get_height() for bar in c] for c in ma.containers]
    assert heights == [[std_ma / 1e6], [dw_ma / 1e6], [pw_ma / 1e6]]
    heights = [[bar.get_height() for bar in c] for c in pa.containers]
    assert heights == [[std_p / 1e6], [9 * 512 / 1e6], [512 * 512 / 1e6]]
    assert round(std_ma / 1e6) == 462 and round((dw_ma + pw_ma) / 1e6, 1) == 52.3  # Table 3's printed values
    # every bar is visible (log scale) and carries its value; the separable total is Table 3's 52.3 M
    assert ma.get_yscale() == "log" and pa.get_yscale() == "log"
    assert [t.get_text() for t in ma.texts] == ["462 M", "0.903 M", "51.4 M"]
    assert "separable 52.3 M" in ma.get_title()
    assert ma.get_ylabel() == "Mult-Adds (millions, log scale)"
    assert pa.get_ylabel() == "parameters (millions, log scale)"


def test_plot_cli_writes_png_and_svg(tmp_path):
    out = tmp_path / "figs"
    assert main(["plot", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    stems = {"figure4_top1_vs_mult_adds", "figure5_top1_vs_params", "heatmap_mult_adds", "params_vs_alpha"}
    stems.add("table3_layer_standard_vs_separable")
    assert files == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "svg"))
    assert (out / "params_vs_alpha.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "figure4_top1_vs_mult_adds.svg").read_bytes()[:500]


def test_plot_cli_unwritable_folder_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["plot", "--out", str(blocker / "figs")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write into" in err
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]
