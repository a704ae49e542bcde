"""The closed form against the engine: equal wherever channels and sizes stay integral, and not elsewhere."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel.counting.closed_form import applies, closed_form
from costmodel.spec.mobilenet import mobilenet_v1

VARIANTS = list(itertools.product([False, True], [True, False]))  # (shallow, separable)


def engine(alpha, resolution, shallow=False, separable=True):
    return costmodel.count(mobilenet_v1(alpha, resolution, shallow=shallow, separable=separable))


def test_totals_at_alpha_one_are_the_golden_counts():
    # 568,740,352 Mult-Adds and 4,209,088 params at 1.0-224: the golden totals
    total = closed_form().total
    assert total.P + total.Q + total.R == 568_740_352
    assert total.S + total.T == 4_209_088


@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 96), n=st.integers(1, 24), variant=st.sampled_from(VARIANTS))
def test_formula_equals_engine_where_channels_and_sizes_stay_integral(m, n, variant):
    alpha, resolution = m / 32, 32 * n  # m/32 is exact in binary floating point
    cf = closed_form(*variant)
    cost = engine(alpha, resolution, *variant)
    assert applies(alpha, resolution, shallow=variant[0], separable=variant[1])
    assert cf.mult_adds(alpha, resolution) == cost.mult_adds
    assert cf.params(alpha) == cost.params


@settings(max_examples=200, deadline=None)
@given(alpha=st.floats(1 / 32, 3.0), resolution=st.integers(32, 600))
def test_applies_is_exactly_the_stated_condition(alpha, resolution):
    # the module states: α a multiple of 1/32 and the resolution a multiple of 32
    stated = (Fraction(alpha) * 32).denominator == 1 and resolution % 32 == 0
    assert applies(alpha, resolution) == stated
    cf = closed_form()
    assert (cf.alpha_step, cf.resolution_step) == (Fraction(1, 32), 32)
    if stated:
        assert cf.mult_adds(alpha, resolution) == engine(alpha, resolution).mult_adds


@pytest.mark.parametrize(
    ("alpha", "resolution"),
    [(0.3, 224), (0.1, 160), (0.75, 225), (1.0, 200), (1.0, 33), (0.5, 144)],
)
def test_formula_misses_the_engine_where_it_does_not_apply(alpha, resolution):
    cost = engine(alpha, resolution)
    assert not applies(alpha, resolution)
    assert closed_form().mult_adds(alpha, resolution) != cost.mult_adds


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("alpha", "resolution"), [(1.0, 224), (0.5, 128), (0.75, 96)])
def test_per_kind_coefficients_match_the_engines_per_kind_counts(variant, alpha, resolution):
    cf = closed_form(*variant)
    by_kind = engine(alpha, resolution, *variant).by_kind()
    rho = Fraction(resolution, 224)
    assert set(cf.by_kind) == {k for k in by_kind if k not in ("Avg Pool", "Softmax")}
    for kind, c in cf.by_kind.items():
        params, mult_adds = by_kind[kind]
        assert c.mult_adds(alpha, rho) == mult_adds
        assert c.params(alpha) == params
    table = cf.table()
    assert table.iloc[-1]["kind"] == "total"
    assert (table.iloc[:-1][["P", "Q", "R", "S", "T"]].sum() == table.iloc[-1][["P", "Q", "R", "S", "T"]]).all()


def test_only_layers_with_a_map_carry_rho():
    # FC sees a 1x1 map: it is all R (Mult-Adds) and T (params); pointwise convs are all P and S
    cf = closed_form()
    fc, pw = cf.by_kind["FC"], cf.by_kind["Conv 1x1"]
    assert (fc.P, fc.Q, fc.S) == (0, 0, 0) and fc.R == fc.T == 1024 * 1000
    assert (pw.Q, pw.R, pw.T) == (0, 0, 0)


def test_formula_cli_prints_the_coefficients(capsys):
    import json

    from costmodel.cli import main

    assert main(["formula", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    total = out["coefficients"][-1]
    assert total["kind"] == "total"
    assert total["P"] + total["Q"] + total["R"] == costmodel.count(mobilenet_v1()).mult_adds
    assert "multiple of 1/32" in out["applies"] and "multiple of 32" in out["applies"]
    assert main(["formula", "--full-conv"]) == 0
    assert "Conv 3x3" in capsys.readouterr().out
