"""Pareto fronts over cost columns: the candidates no other candidate beats on every column at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["pareto_front"]

_BLOCK = 1024  # points compared against the front at once (memory: _BLOCK x front size booleans per column)


def _column(values: Any, name: object) -> np.ndarray:
    """One column as a 1-D array compared exactly: integers stay integers (int64/uint64, never float64, which
    loses differences above 2**53), floats stay floats; anything else is a :class:`SpecError` naming it."""
    import numpy as np

    try:
        col = np.asarray(values)
    except (TypeError, ValueError, RecursionError):
        raise SpecError(f"pareto_front(): column {name!r} is not an array of numbers") from None
    if col.dtype.kind == "b":
        col = col.astype(np.int64)
    if col.dtype.kind not in "iuf":
        raise SpecError(
            f"pareto_front(): column {name!r} must hold integers or real numbers (int64, uint64 or float), got "
            f"dtype {col.dtype}"
        )
    if col.dtype.kind == "f" and np.isnan(col).any():
        raise SpecError("pareto_front() columns must not contain NaN")
    return col


def _columns(data: Any, columns: Sequence[Any] | None) -> tuple[list[np.ndarray], list[Any]]:
    """The columns to compare, each a 1-D array of one length, and their names (or indices)."""
    import numpy as np

    if hasattr(data, "columns") and callable(data.columns) and not isinstance(data, Mapping):
        data = data.columns()  # a PopulationCost
    if isinstance(data, Mapping) or hasattr(data, "keys"):  # a mapping, or a DataFrame
        if columns is None:
            raise SpecError("pareto_front() needs the names of the columns to compare, e.g. ('mult_adds', 'latency_s')")
        names = _names(columns)
        missing = [c for c in names if not _hashable(c) or c not in data]
        if missing:
            raise SpecError(f"no column {missing[0]!r}; choose from {', '.join(map(str, data.keys()))}")
        cols = [_column(data[c], c) for c in names]
        if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
            raise SpecError("pareto_front() columns must be 1-D arrays of one length")
        return cols, names
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError, RecursionError):
        raise SpecError("pareto_front() needs an (n, k) array or named columns") from None
    if arr.ndim != 2:
        raise SpecError(f"pareto_front() needs an (n, k) array or named columns, got shape {arr.shape}")
    k = arr.shape[1]
    names = list(range(k)) if columns is None else _names(columns)
    for c in names:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not -k <= int(c) < k:
            raise SpecError(f"pareto_front(): column index {c!r} is not an integer in 0..{k - 1}")
    return [_column(arr[:, int(c)], c) for c in names], names


def _names(columns: object) -> list[Any]:
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence):
        raise SpecError(f"pareto_front(): columns must be a sequence of names or indices, got {columns!r}")
    return list(columns)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _lower_is_better(col: np.ndarray) -> np.ndarray:
    """``col`` turned so that lower is better, exactly: ``~x`` (= -x - 1) for integers, never overflowing
    (``-x`` of the least int64 does), and ``-x`` for floats."""
    import numpy as np

    out: np.ndarray = np.invert(col) if col.dtype.kind in "iu" else np.negative(col)
    return out


def pareto_front(data: Any, columns: Sequence[Any] | None = None, *, maximize: Sequence[Any] = ()) -> np.ndarray:
    """Indices of the non-dominated rows, in increasing order of the first column.

    A row is dominated when another is at least as good in every column and better in one; lower is better,
    except for the columns named in ``maximize`` (e.g. a predicted accuracy). Rows with equal values are all
    kept. Two columns take one sort (O(n log n)); three or more compare each row with the front found so far.
    Every column is compared in its own type, exactly: integer counts above 2**53 are not rounded to floats.

    Parameters
    ----------
    data : PopulationCost, mapping of arrays, or array of shape (n, k)
        The candidates' columns: integers or real numbers (no NaN).
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

    cols, names = _columns(data, columns)
    k = len(cols)
    if k < 1:
        raise SpecError("pareto_front() needs at least one column")
    if isinstance(maximize, (str, bytes)) or not isinstance(maximize, Sequence):
        raise SpecError(f"pareto_front(): maximize must be a sequence of column names or indices, got {maximize!r}")
    for m in maximize:
        if not _hashable(m) or m not in names:
            raise SpecError(f"maximize names {m!r}, which is not one of the columns {names}")
        i = names.index(m)
        cols[i] = _lower_is_better(cols[i])
    n = len(cols[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(cols[::-1])  # by the first column, then the second...
    xs = [c[order] for c in cols]
    if k == 1:
        keep = xs[0] == xs[0][0]
    elif k == 2:
        keep = _front2(xs[0], xs[1])
    else:
        keep = _front_general(xs)
    front: np.ndarray = order[keep]
    return front


def _front2(c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """Two columns, rows sorted by (c0, c1): a row stays when its c1 is the least of its c0 group and below
    every c1 of a smaller c0."""
    import numpy as np

    starts = np.flatnonzero(np.r_[True, c0[1:] != c0[:-1]])
    group_min = c1[starts]  # sorted: the first of a group has its least c1
    least = np.minimum.accumulate(group_min)  # least c1 of the groups up to each one
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(c0)]))
    below = np.ones(len(c0), dtype=bool)  # the first group has no smaller c0
    later = group > 0
    below[later] = c1[later] < least[group[later] - 1]
    keep: np.ndarray = (c1 == group_min[group]) & below
    return keep


def _dominated(by: list[np.ndarray], rows: list[np.ndarray]) -> np.ndarray:
    """For each of ``rows``: is some row of ``by`` <= it in every column and < in one? (column by column)"""
    import numpy as np

    n, m = len(rows[0]), len(by[0])
    le = np.ones((n, m), dtype=bool)
    lt = np.zeros((n, m), dtype=bool)
    for p_col, q_col in zip(rows, by, strict=True):
        p, q = p_col[:, None], q_col[None, :]
        le &= q <= p
        lt |= q < p
    return np.asarray((le & lt).any(axis=1))


def _front_general(xs: list[np.ndarray]) -> np.ndarray:
    """Rows in lexicographic order: a later row never dominates an earlier one, so the front only grows."""
    import numpy as np

    n = len(xs[0])
    keep = np.zeros(n, dtype=bool)
    front = [c[:0] for c in xs]
    for lo in range(0, n, _BLOCK):
        block = [c[lo : lo + _BLOCK] for c in xs]
        idx = np.flatnonzero(~_dominated(front, block)) if len(front[0]) else np.arange(len(block[0]))
        cand = [c[idx] for c in block]
        ok = ~_dominated(cand, cand)
        keep[lo + idx[ok]] = True
        front = [np.concatenate([f, c[ok]]) for f, c in zip(front, cand, strict=True)]
    return keep
