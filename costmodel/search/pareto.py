"""Pareto fronts over cost columns: the candidates no other candidate beats on every column at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["pareto_front"]

_BLOCK = 1024  # points compared against the front at once (memory: _BLOCK x front size booleans per column)


def _matrix(data: Any, columns: Sequence[str] | None) -> np.ndarray:
    import numpy as np

    if hasattr(data, "columns") and callable(data.columns) and not isinstance(data, Mapping):
        data = data.columns()  # a PopulationCost
    if isinstance(data, Mapping) or hasattr(data, "keys"):
        if columns is None:
            raise SpecError("pareto_front() needs the names of the columns to compare, e.g. ('mult_adds', 'latency_s')")
        missing = [c for c in columns if c not in data]
        if missing:
            raise SpecError(f"no column {missing[0]!r}; choose from {', '.join(map(str, data.keys()))}")
        cols = [np.asarray(data[c]) for c in columns]
        if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
            raise SpecError("pareto_front() columns must be 1-D arrays of one length")
        return np.column_stack(cols) if cols[0].size else np.zeros((0, len(cols)))
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise SpecError(f"pareto_front() needs an (n, k) array or named columns, got shape {arr.shape}")
    if columns is not None:
        arr = arr[:, [int(c) for c in columns]]
    return arr


def pareto_front(data: Any, columns: Sequence[Any] | None = None, *, maximize: Sequence[Any] = ()) -> np.ndarray:
    """Indices of the non-dominated rows, in increasing order of the first column.

    A row is dominated when another is at least as good in every column and better in one; lower is better,
    except for the columns named in ``maximize`` (e.g. a predicted accuracy). Rows with equal values are all
    kept. Two columns take one sort (O(n log n)); three or more compare each row with the front found so far.

    Parameters
    ----------
    data : PopulationCost, mapping of arrays, or array of shape (n, k)
        The candidates' columns.
    columns : sequence, optional
        Column names (for a population or mapping; required there) or indices (for an array).
    maximize : sequence
        Columns (names or indices, as in ``columns``) where higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> pareto_front(np.array([[1, 5], [2, 2], [3, 3], [4, 1], [2, 2]])).tolist()
    [0, 1, 4, 3]
    """
    import numpy as np

    x = _matrix(data, columns)
    k = x.shape[1]
    if k < 1:
        raise SpecError("pareto_front() needs at least one column")
    names = list(columns) if columns is not None else list(range(k))
    flip = np.ones(k)
    for m in maximize:
        if m not in names:
            raise SpecError(f"maximize names {m!r}, which is not one of the columns {names}")
        flip[names.index(m)] = -1.0
    x = x.astype(np.float64) * flip
    if np.isnan(x).any():
        raise SpecError("pareto_front() columns must not contain NaN")
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(x.T[::-1])  # by the first column, then the second...
    xs = x[order]
    if k == 1:
        keep = xs[:, 0] == xs[0, 0]
    elif k == 2:
        keep = _front2(xs)
    else:
        keep = _front_general(xs)
    front: np.ndarray = order[keep]
    return front


def _front2(xs: np.ndarray) -> np.ndarray:
    """Two columns, rows sorted by (c0, c1): a row stays when its c1 is the least of its c0 group and below
    every c1 of a smaller c0."""
    import numpy as np

    c0, c1 = xs[:, 0], xs[:, 1]
    starts = np.flatnonzero(np.r_[True, c0[1:] != c0[:-1]])
    group_min = c1[starts]  # sorted: the first of a group has its least c1
    before = np.minimum.accumulate(np.r_[np.inf, group_min[:-1]])  # least c1 of every smaller c0
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(c0)]))
    keep: np.ndarray = (c1 == group_min[group]) & (c1 < before[group])
    return keep


def _dominated(by: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``: is some row of ``by`` <= it in every column and < in one? (column by column)"""
    import numpy as np

    le = np.ones((len(rows), len(by)), dtype=bool)
    lt = np.zeros((len(rows), len(by)), dtype=bool)
    for c in range(rows.shape[1]):
        p, q = rows[:, c, None], by[None, :, c]
        le &= q <= p
        lt |= q < p
    return np.asarray((le & lt).any(axis=1))


def _front_general(xs: np.ndarray) -> np.ndarray:
    """Rows in lexicographic order: a later row never dominates an earlier one, so the front only grows."""
    import numpy as np

    keep = np.zeros(len(xs), dtype=bool)
    front = np.zeros((0, xs.shape[1]))
    for lo in range(0, len(xs), _BLOCK):
        block = xs[lo : lo + _BLOCK]
        idx = np.flatnonzero(~_dominated(front, block)) if len(front) else np.arange(len(block))
        cand = block[idx]
        ok = ~_dominated(cand, cand)
        keep[lo + idx[ok]] = True
        front = np.concatenate([front, cand[ok]])
    return keep
