"""The vectorised sweep against the scalar engine (the oracle): equal everywhere, odd resolutions included."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel.counting.sweeps import structure, sweep, sweep_arrays
from costmodel.errors import SpecError
from costmodel.spec.layers import window_out_size, window_out_size_array
from costmodel.spec.mobilenet import mobilenet_v1, scale_channels, scale_channels_array

VARIANTS = list(itertools.product([False, True], [True, False]))  # (shallow, separable)


def engine(
    alpha: float, resolution: int, shallow: bool = False, separable: bool = True, num_classes: int = 1000
) -> tuple[int, int]:
    net = mobilenet_v1(float(alpha), int(resolution), shallow=shallow, separable=separable, num_classes=num_classes)
    c = costmodel.count(net)
    return c.mult_adds, c.params


# α values: anywhere in [1/32, 3], on the 1/1024 lattice, and one float step either side of a lattice point,
# where int(c·α) changes.
lattice = st.integers(32, 3072).map(lambda m: m / 1024)
alphas = st.one_of(
    st.floats(1 / 32, 3.0, allow_nan=False),
    lattice,
    lattice.map(lambda a: float(np.nextafter(a, 0))).filter(lambda a: a >= 1 / 32),
    lattice.map(lambda a: float(np.nextafter(a, 4))),
)
resolutions = st.integers(32, 700)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(alphas, resolutions), min_size=10, max_size=40),  # ~3,500 configurations per run
    variant=st.sampled_from(VARIANTS),
    num_classes=st.sampled_from([1000, 1001, 10]),
)
def test_paired_sweep_equals_engine(pairs, variant, num_classes):
    a, r = (np.array(x) for x in zip(*pairs, strict=True))
    out = sweep_arrays(a, r, grid=False, shallow=variant[0], separable=variant[1], num_classes=num_classes)
    expected = [engine(x, y, *variant, num_classes) for x, y in pairs]
    assert list(zip(out.mult_adds.tolist(), out.params.tolist(), strict=True)) == expected
    assert out.alpha.tolist() == a.tolist() and out.resolution.tolist() == r.tolist()


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(alphas, min_size=1, max_size=6),
    r=st.lists(resolutions, min_size=1, max_size=6),
    variant=st.sampled_from(VARIANTS),
)
def test_grid_sweep_equals_engine_in_product_order(a, r, variant):
    out = sweep_arrays(a, r, grid=True, shallow=variant[0], separable=variant[1])
    points = list(itertools.product(a, r))
    assert list(zip(out.alpha.tolist(), out.resolution.tolist(), strict=True)) == points
    assert list(zip(out.mult_adds.tolist(), out.params.tolist(), strict=True)) == [
        engine(x, y, *variant) for x, y in points
    ]


def test_large_paired_sweep_uses_table_path_and_matches_engine_on_a_sample():
    # 50,000 points over few distinct values take the look-up-table path; 200 of them checked by the engine
    rng = np.random.default_rng(1)
    a = rng.choice([0.25, 0.5, 0.75, 1.0, 0.3, 1.3], 50_000)
    r = rng.integers(32, 300, 50_000)
    out = sweep_arrays(a, r, grid=False)
    for i in rng.choice(50_000, 200, replace=False):
        assert (out.mult_adds[i], out.params[i]) == engine(a[i], r[i])


def test_wide_alpha_range_uses_unique_path():
    # α spread so wide that the 1/1024 lattice range exceeds the number of points: codes come from np.unique
    a = np.array([1 / 32, 900.0, 0.75])
    r = np.array([33, 40, 224])
    out = sweep_arrays(a, r, grid=False)
    assert list(zip(out.mult_adds.tolist(), out.params.tolist(), strict=True)) == [
        engine(x, y) for x, y in zip(a, r, strict=True)
    ]


def test_scalar_alpha_broadcasts_against_resolutions():
    out = sweep_arrays(0.5, [128, 129, 130], grid=False)
    assert out.mult_adds.tolist() == [engine(0.5, x)[0] for x in (128, 129, 130)]


@pytest.mark.parametrize("rho", [1.0, 0.857, 0.714, 0.571, 0.5, 0.33])
def test_rho_rounds_like_the_builder(rho):
    out = sweep_arrays(1.0, rho=rho)
    net = mobilenet_v1(1.0, rho=rho)
    assert out.resolution.tolist() == [net.input_size]
    assert out.mult_adds[0] == costmodel.count(net).mult_adds


def test_dataframe_columns_and_variants():
    df = sweep([0.5, 1.0], [160, 224], shallow=[False, True], separable=True)
    assert list(df.columns) == ["alpha", "resolution", "rho", "shallow", "separable", "mult_adds", "params"]
    assert len(df) == 8
    for row in df.itertuples():
        assert (row.mult_adds, row.params) == engine(row.alpha, row.resolution, row.shallow, row.separable)
        assert row.rho == row.resolution / 224
    assert df["mult_adds"].dtype == np.int64


@settings(max_examples=300, deadline=None)
@given(channels=st.integers(1, 4096), alpha=st.one_of(st.floats(1e-3, 8.0), lattice))
def test_vectorised_channel_rounding_is_scale_channels(channels, alpha):
    try:
        expected = scale_channels(channels, alpha)
    except SpecError:
        with pytest.raises(SpecError, match="too small"):
            scale_channels_array(channels, np.array([alpha]))
        return
    assert scale_channels_array(channels, np.array([alpha])).tolist() == [expected]


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode"),
    [
        (k, s, p, c)
        for k in (1, 2, 3, 5, 7, 11)
        for s in (1, 2, 3, 4)
        for p in ("tf_same", 0, 1, 2, 3, (0, 1), (2, 0))
        for c in (0, 1)
    ],
)
def test_vectorised_size_rule_is_window_out_size(kernel, stride, padding, ceil_mode):
    n = np.arange(1, 260)
    got = window_out_size_array(n, kernel, stride, padding, bool(ceil_mode)).tolist()
    assert got == [window_out_size(int(x), kernel, stride, padding, bool(ceil_mode)) for x in n]


@pytest.mark.parametrize("variant", VARIANTS)
def test_structure_is_read_off_the_built_network(variant):
    s = structure(*variant)
    net = mobilenet_v1(1.0, 224, shallow=variant[0], separable=variant[1])
    costed = [n.name for n in net if isinstance(n.layer, (costmodel.Conv2d, costmodel.Linear))]
    assert [t.name for t in s.terms] == costed
    assert s.stage_sizes_224 == (112, 56, 28, 14, 7, 1)
    # each term's base cost is that layer's engine cost at α = 1, 224
    by_name = {lc.name: lc for lc in costmodel.count(net).layers}
    for t in s.terms:
        weights = t.coeff * t.fixed * math.prod(t.channels)
        assert weights == by_name[t.name].params
        assert weights * s.stage_sizes_224[t.stage] ** 2 == by_name[t.name].mult_adds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": []}, "alpha is empty"),
        ({"alpha": [1.0], "resolution": []}, "resolution is empty"),
        (
            {"alpha": [1.0, 0.5], "resolution": [224, 192, 160], "grid": False},
            "alpha has 2 values but resolution has 3",
        ),
        ({"alpha": [1.0, float("nan")]}, "alpha must be a finite number > 0, got nan"),
        ({"alpha": [0.5, -0.25]}, "alpha must be a finite number > 0, got -0.25"),
        ({"alpha": [0.0]}, "got 0.0"),
        ({"alpha": [float("inf")]}, "got inf"),
        ({"alpha": [0.01]}, "alpha=0.01 is too small"),
        ({"alpha": ["a"]}, "alpha must be numbers"),
        ({"alpha": [True]}, "alpha must be numbers"),
        ({"alpha": [[1.0]]}, "alpha must be a scalar or a 1-D array"),
        ({"alpha": 1.0, "resolution": [224, 31]}, "resolution must be >= 32, got 31"),
        ({"alpha": 1.0, "resolution": [224.5]}, "resolution must be an integer, got 224.5"),
        ({"alpha": 1.0, "resolution": [224.0]}, "resolution must be an integer array"),
        ({"alpha": 1.0, "resolution": [-224]}, "got -224"),
        ({"alpha": 1.0, "rho": [0.5, 1.5]}, "rho must be in \\(0, 1\\], got 1.5"),
        ({"alpha": 1.0, "rho": [0.1]}, r"rho=0.1 is too small: resolution round\(0.1 \* 224\) = 22 is below 32"),
        ({"alpha": 1000.0, "resolution": 100_000}, "too large for the sweep's int64 counts"),
        # the check itself is exact: these wrapped around to negative or tiny counts in int64 arithmetic
        ({"alpha": 0.25, "resolution": [224, 2**63 - 1]}, "resolution must be at most 2,147,483,647"),
        ({"alpha": 0.25, "resolution": [224, 10**20]}, "resolution 100000000000000000000 is out of range"),
        ({"alpha": 1e30}, r"alpha=1e\+30 is too large: 32 channels would become 3.2e\+31"),
    ],
)
def test_bad_input_names_the_value(kwargs, message):
    with pytest.raises(SpecError, match=message):
        sweep_arrays(**kwargs)


def test_bad_variant_is_an_error():
    with pytest.raises(SpecError, match="shallow must be True, False"):
        sweep(1.0, shallow="yes")


def test_sweep_cli_csv(capsys):
    from costmodel.cli import main

    assert main(["sweep", "--alpha", "0.5", "1.0", "--resolution", "131", "224", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split(",")[:7] == [
        "alpha",
        "resolution",
        "rho",
        "shallow",
        "separable",
        "mult_adds",
        "params",
    ]
    rows = [line.split(",") for line in lines[1:]]
    assert [(float(r[0]), int(r[1]), int(r[5]), int(r[6])) for r in rows] == [
        (a, r, *engine(a, r)) for a, r in itertools.product([0.5, 1.0], [131, 224])
    ]


def test_sweep_cli_bad_input_exits_2(capsys):
    from costmodel.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--alpha", "0.5", "1.0", "--resolution", "224", "192", "160", "--paired"])
    assert exc.value.code == 2
    assert "alpha has 2 values but resolution has 3" in capsys.readouterr().err


def test_top_level_api_is_the_function():
    # costmodel.sweep(...) as the issue writes it; the module's other names import from costmodel.sweep
    assert costmodel.sweep is sweep and costmodel.sweep_arrays is sweep_arrays
    assert costmodel.sweep(0.5, 160)["mult_adds"].tolist() == [engine(0.5, 160)[0]]


def test_int64_check_is_exact_where_int64_would_wrap():
    """At 0.25-2,000,000,000 the count needs 82 bits: the sweep refuses it and names the scalar engine's count
    (Python integers), instead of printing a wrapped-around number."""
    exact = costmodel.count(costmodel.mobilenet_v1(0.25, 2_000_000_000)).mult_adds
    assert exact > 2**63
    with pytest.raises(SpecError, match=f"costs {exact:,} Mult-Adds: too large"):
        sweep_arrays(0.25, [224, 2_000_000_000])
