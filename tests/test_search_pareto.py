"""pareto_front against the definition, checked pair by pair (the O(n^2) oracle), ties and maximised columns
included."""

from __future__ import annotations

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
