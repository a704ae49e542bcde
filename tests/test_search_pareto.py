"""pareto_front against the definition, checked pair by pair (the O(n^2) oracle), ties and maximised columns
included."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel.errors import SpecError
from costmodel.search import pareto_front


def brute_force(x: np.ndarray) -> set[int]:
    """Rows that no other row is <= in every column and < in one."""
    return {i for i in range(len(x)) if not any((x[j] <= x[i]).all() and (x[j] < x[i]).any() for j in range(len(x)))}


@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 4), n=st.integers(0, 80), levels=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_equals_the_definition(k, n, levels, seed):
    x = np.random.default_rng(seed).integers(0, levels, size=(n, k))  # few levels: many ties
    front = pareto_front(x)
    assert set(front.tolist()) == brute_force(x) and len(set(front.tolist())) == len(front)
    assert (np.diff(x[front, 0]) >= 0).all()  # in increasing order of the first column


def test_large_fronts_against_the_definition_on_a_sample():
    rng = np.random.default_rng(3)
    x = rng.random((3000, 3))
    front = set(pareto_front(x).tolist())
    assert front == brute_force(x)


def test_maximize_and_named_columns():
    x = np.array([[1.0, 0.70], [2.0, 0.75], [3.0, 0.74], [4.0, 0.80], [2.0, 0.60]])  # cost, accuracy
    assert pareto_front(x, maximize=[1]).tolist() == [0, 1, 3]
    cols = {"mult_adds": x[:, 0], "top1": x[:, 1]}
    assert pareto_front(cols, ["mult_adds", "top1"], maximize=["top1"]).tolist() == [0, 1, 3]


def test_on_a_population():
    space = costmodel.search_space("mobilenet_v1")
    pop = costmodel.cost_population(space, space.sample(2000, seed=2), np.resize([128, 160, 224], 2000))
    front = pareto_front(pop, ["mult_adds", "peak_activation_bytes", "params"])
    x = np.column_stack([pop.mult_adds, pop.peak_activation_bytes, pop.params])
    dominates = (x[:, None, :] <= x[None, :, :]).all(axis=2) & (x[:, None, :] < x[None, :, :]).any(axis=2)
    # [i, j]: row i dominates row j. The front is exactly the rows nothing dominates.
    assert set(front.tolist()) == set(np.flatnonzero(~dominates.any(axis=0)).tolist())


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((np.zeros(5),), {}, "shape"),
        (({"a": np.zeros(3)},), {}, "names of the columns"),
        (({"a": np.zeros(3)}, ["b"]), {}, "no column 'b'"),
        ((np.zeros((3, 2)),), {"maximize": [5]}, "maximize"),
        ((np.array([[1.0, np.nan]]),), {}, "NaN"),
    ],
)
def test_bad_input(args, kwargs, message):
    with pytest.raises(SpecError, match=message):
        pareto_front(*args, **kwargs)


def _brute_force_exact(columns, maximize=()):
    """The definition on Python integers (exact at any size): rows no other row beats."""
    rows = [tuple(-int(v) if j in maximize else int(v) for j, v in enumerate(r)) for r in zip(*columns, strict=True)]
    return {i for i, r in enumerate(rows) if not any(all(a <= b for a, b in zip(s, r, strict=True)) and s != r
                                                      for s in rows)}  # fmt: skip


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("maximize", [(), (0,)])
def test_int64_columns_are_compared_exactly_above_2_53(k, maximize):
    """Counts near 2**62 differ by 1: float64 cannot tell them apart (2**62 + 1 == 2**62 in float64)."""
    rng = np.random.default_rng(k)
    cols = [2**62 + rng.integers(0, 4, 60) for _ in range(k)]
    assert float(2**62 + 1) == float(2**62)  # why a float64 comparison would be wrong
    front = pareto_front(np.column_stack(cols), maximize=list(maximize))
    assert set(front.tolist()) == _brute_force_exact(cols, maximize)
    named = {f"c{i}": c for i, c in enumerate(cols)}
    front = pareto_front(named, list(named), maximize=[f"c{i}" for i in maximize])
    assert set(front.tolist()) == _brute_force_exact(cols, maximize)


def test_extreme_int64_values_and_mixed_columns():
    lo, hi = -(2**63), 2**63 - 1
    x = {"a": np.array([lo, hi, lo + 1]), "b": np.array([0.5, 0.25, 0.5])}
    assert pareto_front(x, ["a", "b"]).tolist() == [0, 1]  # row 2 is beaten by row 0 on a
    assert pareto_front(x, ["a", "b"], maximize=["a"]).tolist() == [1]  # ~x, not -x: no overflow at the least int64


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((np.zeros((3, 2)), [5]), {}, "column index 5 is not an integer in 0..1"),
        ((np.zeros((3, 2)), ["a"]), {}, "column index 'a'"),
        ((np.zeros((3, 2)), [1.0]), {}, "column index 1.0"),
        ((np.array([["a", "b"], ["c", "d"]]),), {}, "must hold integers or real numbers"),
        ((np.array([[1j, 2], [3, 4]]),), {}, "complex128"),
        (({"a": ["x", "y"]}, ["a"]), {}, "column 'a' must hold integers"),
        (({"a": np.zeros(2)}, [["a"]]), {}, "no column ['a']"),
        ((np.zeros((3, 2)),), {"maximize": "0"}, "maximize must be a sequence"),
        ((np.zeros((3, 2)), 7), {}, "columns must be a sequence"),
    ],
)
def test_bad_columns_are_named(args, kwargs, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        pareto_front(*args, **kwargs)
