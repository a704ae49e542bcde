"""Budgets and frontiers: which MobileNetV1 configurations fit a Mult-Adds or parameter budget.

Costs are monotone non-decreasing step functions of α: α enters only through the channel counts
``int(c·α)``, which jump at α = k/c. Every base channel count c of MobileNetV1 divides L = 1024 (the largest),
so all jumps lie on the lattice α = m/1024 and costs are constant on each [m/1024, (m+1)/1024). The largest α
under a budget is therefore found exactly, as a lattice step, by a bisection over the integer m (each step one
exact count), not by a float bisection to some tolerance.

A budget below the smallest model: :func:`largest_alpha` returns ``None`` (documented, never a wrong number)
and :func:`under_budget` an empty DataFrame. Bad budgets (not a positive finite number) raise
:class:`~costmodel.errors.SpecError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpecError
from ..spec.mobilenet import resolve_resolution
from .sweeps import structure, sweep, sweep_arrays

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AlphaBudget", "largest_alpha", "under_budget", "pareto_frontier"]


@dataclass(frozen=True, slots=True)
class AlphaBudget:
    """The widest MobileNetV1 that fits a budget at one resolution.

    Every α in ``[alpha, alpha_sup)`` builds the same network, which fits; no α >= ``alpha_sup`` fits.
    """

    resolution: int
    alpha: float  # the smallest α of the widest fitting step (exact: a multiple of 1/1024)
    alpha_sup: float  # the supremum of fitting α, not attained: the next step's first α
    alpha_max_float: float  # the largest float64 α that fits (just below alpha_sup)
    mult_adds: int  # cost of the fitting network
    params: int
    next_mult_adds: int  # cost at alpha_sup, the first network over budget
    next_params: int


def _budgets(mult_adds: object, params: object) -> tuple[float | None, float | None]:
    """Checked (Mult-Adds, params) budgets; at least one must be given."""
    out = []
    for value, what in ((mult_adds, "Mult-Adds"), (params, "params")):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0
        ):
            raise SpecError(f"{what} budget must be a positive finite number, got {value!r}")
        out.append(None if value is None else float(value))
    if out == [None, None]:
        raise SpecError("give a Mult-Adds budget, a params budget, or both")
    return out[0], out[1]


def largest_alpha(
    resolution: int = 224,
    *,
    mult_adds: float | None = None,
    params: float | None = None,
    shallow: bool = False,
    separable: bool = True,
    num_classes: int | None = None,
    flavour: str = "paper",
) -> AlphaBudget | None:
    """The largest α whose network fits ``mult_adds`` and/or ``params`` at ``resolution``.

    Parameters
    ----------
    resolution : int
        Input resolution (>= 32).
    mult_adds, params : float, optional
        Budgets (counts, not millions); give one or both. A configuration fits when its cost is <= the budget.
    shallow, separable, num_classes, flavour
        The variant, as in :func:`~costmodel.spec.mobilenet.mobilenet_v1`.

    Returns
    -------
    AlphaBudget or None
        ``None`` when even the narrowest network (α = 1/32: one channel in the first layer) is over budget.

    Examples
    --------
    >>> b = largest_alpha(224, mult_adds=300e6)
    >>> b.alpha, b.alpha_sup, b.mult_adds <= 300e6 < b.next_mult_adds
    (0.7197265625, 0.720703125, True)
    """
    mult_adds_budget, params_budget = _budgets(mult_adds, params)
    resolution = resolve_resolution(resolution)
    s = structure(bool(shallow), bool(separable), num_classes, flavour)
    lattice = s.lattice
    if lattice is None:  # not the case for MobileNetV1, whose channel counts are powers of two
        raise SpecError("budget search needs power-of-two base channel counts")
    kw = {"shallow": shallow, "separable": separable, "num_classes": num_classes, "flavour": flavour}

    def cost(m: int) -> tuple[int, int]:
        return _cost_at(m / lattice, resolution, kw)

    def fits(c: tuple[int, int]) -> bool:
        return (mult_adds_budget is None or c[0] <= mult_adds_budget) and (
            params_budget is None or c[1] <= params_budget
        )

    lo = lattice // min(s.base_channels)  # α = 1/32: one channel in the narrowest layer
    if not fits(cost(lo)):
        return None
    hi = 2 * lo  # find a step over budget by doubling, then bisect: fits(lo) and not fits(hi)
    try:
        while fits(cost(hi)):
            lo, hi = hi, 2 * hi
    except SpecError:  # wider networks than this are beyond int64 counts (or α's channel limit)
        budget = " and ".join(
            f"{b:g} {what}" for b, what in ((mult_adds_budget, "Mult-Adds"), (params_budget, "params")) if b is not None
        )
        raise SpecError(
            f"the budget of {budget} is too large: every alpha up to {lo / lattice:g} fits at resolution "
            f"{resolution}, and wider networks are beyond what the sweep counts; give a smaller budget"
        ) from None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(cost(mid)) else (lo, mid)
    alpha_sup = hi / lattice
    (ma, pa), (mn, pn) = cost(lo), cost(hi)
    # the largest float below alpha_sup; int(c·α) there is the lower step's (power-of-two scaling is exact),
    # and the loop makes sure of it with the sweep's own rounding
    below = float(np.nextafter(alpha_sup, 0.0))
    while below > lo / lattice and not fits(_cost_at(below, resolution, kw)):
        below = float(np.nextafter(below, 0.0))
    return AlphaBudget(resolution, lo / lattice, alpha_sup, below, ma, pa, mn, pn)


def _cost_at(alpha: float, resolution: int, kw: dict) -> tuple[int, int]:
    out = sweep_arrays(alpha, resolution, grid=False, **kw)
    return int(out.mult_adds[0]), int(out.params[0])


def under_budget(
    alpha: object,
    resolution: object = 224,
    *,
    mult_adds: float | None = None,
    params: float | None = None,
    shallow: bool = False,
    separable: bool = True,
    num_classes: int | None = None,
    flavour: str = "paper",
) -> pd.DataFrame:
    """Every point of the grid ``alpha x resolution`` whose cost fits the budget(s), as :func:`sweep` rows.

    An empty DataFrame (same columns) when no point fits.
    """
    mult_adds_budget, params_budget = _budgets(mult_adds, params)
    df = sweep(
        alpha, resolution, grid=True, shallow=shallow, separable=separable, num_classes=num_classes, flavour=flavour
    )
    keep = np.ones(len(df), dtype=bool)
    if mult_adds_budget is not None:
        keep &= df["mult_adds"].to_numpy() <= mult_adds_budget
    if params_budget is not None:
        keep &= df["params"].to_numpy() <= params_budget
    return df[keep].reset_index(drop=True)


def pareto_frontier(df: pd.DataFrame, cost: str = "mult_adds", accuracy: str = "top1") -> pd.DataFrame:
    """The rows no other row dominates (cost <= and accuracy >=, one of them strictly), by ascending cost.

    Parameters
    ----------
    df : DataFrame
        Any rows with numeric ``cost`` and ``accuracy`` columns (e.g. :func:`costmodel.paper.accuracy.models`).

    Returns
    -------
    DataFrame
        The frontier rows, sorted by cost; ties (same cost and accuracy) are all kept.
    """
    for col in (cost, accuracy):
        if col not in df.columns:
            raise SpecError(f"no column {col!r} to build a frontier on; columns: {', '.join(map(str, df.columns))}")
    ordered = df.sort_values([cost, accuracy], ascending=[True, False], kind="stable")
    keep, best, best_cost = [], -math.inf, None
    for idx, c, a in zip(ordered.index, ordered[cost], ordered[accuracy], strict=True):
        # ascending cost: a row is on the frontier iff it beats every cheaper row's accuracy
        # (or ties the best at exactly the same cost)
        if a > best or (a == best and c == best_cost):
            keep.append(idx)
            if a > best:
                best, best_cost = a, c
    return ordered.loc[keep]
