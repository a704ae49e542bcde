"""Budgets and frontiers against brute force over the scalar engine."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel.cli import main
from costmodel.counting.budget import largest_alpha, pareto_frontier, under_budget
from costmodel.errors import SpecError
from costmodel.paper.accuracy import frontier


def engine(alpha, resolution, **kw):
    c = costmodel.count(costmodel.mobilenet_v1(alpha, resolution, **kw))
    return c.mult_adds, c.params


def brute_largest_lattice_alpha(resolution, mult_adds=None, params=None, **kw):
    """Scan α = m/1024 upward with the scalar engine; the last one that fits (costs are monotone)."""
    best = None
    for m in range(32, 4 * 1024):
        ma, pa = engine(m / 1024, resolution, **kw)
        if (mult_adds is None or ma <= mult_adds) and (params is None or pa <= params):
            best = m
        else:
            break
    return best


@pytest.mark.parametrize(
    ("resolution", "budget"),
    [
        (224, {"mult_adds": 300e6}),
        (160, {"mult_adds": 100e6}),
        (131, {"mult_adds": 50e6}),
        (224, {"params": 2e6}),
        (192, {"params": 1e6, "mult_adds": 100e6}),
        (224, {"mult_adds": 568_740_352}),  # exactly 1.0-224: fits
        (224, {"mult_adds": 568_740_351}),  # one below: 1.0 no longer fits
    ],
)
def test_largest_alpha_is_the_brute_force_lattice_step(resolution, budget):
    got = largest_alpha(resolution, **budget)
    m = brute_largest_lattice_alpha(resolution, **budget)
    assert got.alpha == m / 1024 and got.alpha_sup == (m + 1) / 1024
    assert (got.mult_adds, got.params) == engine(got.alpha, resolution)
    assert (got.next_mult_adds, got.next_params) == engine(got.alpha_sup, resolution)
    # every float α up to alpha_max_float builds the fitting network; alpha_sup does not fit
    assert engine(got.alpha_max_float, resolution) == (got.mult_adds, got.params)
    fits = [
        (budget.get("mult_adds") is None or c[0] <= budget["mult_adds"])
        and (budget.get("params") is None or c[1] <= budget["params"])
        for c in (engine(got.alpha_max_float, resolution), engine(got.alpha_sup, resolution))
    ]
    assert fits == [True, False]


def test_exact_budget_of_the_full_model():
    assert largest_alpha(224, mult_adds=568_740_352).alpha == 1.0
    assert largest_alpha(224, mult_adds=568_740_351).alpha < 1.0


@settings(max_examples=40, deadline=None)
@given(alpha=st.floats(1 / 32, 1.5), resolution=st.integers(32, 320))
def test_largest_alpha_brackets_any_feasible_alpha(alpha, resolution):
    # a budget equal to some configuration's cost: that α fits, so the answer is at least α's step
    ma, _ = engine(alpha, resolution)
    got = largest_alpha(resolution, mult_adds=ma)
    # costs rise at every 1/1024 step (the last layer's 1024 channels), so the answer is α's own step
    assert got.alpha == math.floor(alpha * 1024) / 1024 <= alpha < got.alpha_sup
    assert got.mult_adds <= ma < got.next_mult_adds


def test_budget_below_the_smallest_model_is_none():
    smallest = engine(1 / 32, 224)[0]
    assert largest_alpha(224, mult_adds=smallest - 1) is None
    assert largest_alpha(224, mult_adds=smallest).alpha == 1 / 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give a Mult-Adds budget"),
        ({"mult_adds": -1}, "Mult-Adds budget must be a positive finite number, got -1"),
        ({"mult_adds": float("nan")}, "got nan"),
        ({"params": float("inf")}, "params budget .* got inf"),
        ({"params": True}, "got True"),
        ({"mult_adds": 1e8, "resolution": 31}, "resolution must be >= 32, got 31"),
    ],
)
def test_bad_budgets(kwargs, message):
    with pytest.raises(SpecError, match=message):
        largest_alpha(**kwargs)


@pytest.mark.parametrize("budget", [{"mult_adds": 150e6}, {"params": 1.5e6}, {"mult_adds": 1e8, "params": 1e6}])
def test_under_budget_is_the_brute_force_filter(budget):
    alphas, resolutions = [0.25, 0.4, 0.5, 0.6, 0.75, 1.0], [96, 128, 131, 160, 192, 224]
    df = under_budget(alphas, resolutions, **budget)
    expected = [
        (a, r)
        for a, r in itertools.product(alphas, resolutions)
        if all(c <= budget[k] for k, c in zip(("mult_adds", "params"), engine(a, r), strict=True) if k in budget)
    ]
    assert list(zip(df["alpha"], df["resolution"], strict=True)) == expected


def test_under_budget_empty_when_nothing_fits():
    df = under_budget([0.5, 1.0], [224], mult_adds=10)
    assert df.empty and "mult_adds" in df.columns


def brute_frontier(df, cost, acc):
    keep = []
    for i, row in df.iterrows():
        dominated = any(
            (o[cost] <= row[cost] and o[acc] >= row[acc]) and (o[cost] < row[cost] or o[acc] > row[acc])
            for _, o in df.iterrows()
        )
        if not dominated:
            keep.append(i)
    return sorted(keep)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(0, 20)), min_size=1, max_size=25))
def test_pareto_frontier_is_the_brute_force_non_dominated_set(points):
    df = pd.DataFrame(points, columns=["cost", "acc"])
    got = pareto_frontier(df, "cost", "acc")
    assert sorted(got.index) == brute_frontier(df, "cost", "acc")
    assert list(got["cost"]) == sorted(got["cost"])


@pytest.mark.parametrize("cost", ["mult_adds", "params"])
def test_frontier_of_the_16_models(cost):
    from costmodel.paper.accuracy import models

    df = models()
    got = frontier(cost)
    assert sorted(got.index) == brute_frontier(df, cost, "top1")
    # params: only the 224 models (every resolution of one α has the same params; 224 is the most accurate)
    if cost == "params":
        assert set(got["model"]) == {"1.0_224", "0.75_224", "0.50_224", "0.25_224"}


def test_budget_cli(capsys):
    assert main(["budget", "--mult-adds", "300e6", "--resolution", "224", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("resolution,alpha,alpha_sup,mult_adds,params")
    assert out[1].startswith(f"224,{largest_alpha(224, mult_adds=300e6).alpha}")
    assert main(["budget", "--mult-adds", "1e5"]) == 0
    assert "no alpha fits" in capsys.readouterr().out
    assert main(["budget", "--frontier", "params", "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("_224") == 4


def test_budget_cli_bad_budget_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["budget", "--mult-adds", "-5"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a count must be positive, got '-5'" in err  # a count, not -5.0 (issue 21)
