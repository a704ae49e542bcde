"""Counting: exact integer parameters, Mult-Adds and bytes from the spec, under named conventions.

``conventions`` (what counts), ``presets`` (other tools' conventions), ``engine`` (per-layer rules and
:func:`count`), ``kinds`` (Table 2's layer kinds), ``memory`` (activation and weight bytes), ``sweeps`` (α x ρ
vectorised), ``closed_form`` (the cost as a polynomial in α and ρ), ``budget`` (the widest α under a budget).
"""

from __future__ import annotations

from . import presets as _presets  # noqa: F401  (registers the tool presets)
from .conventions import CONVENTIONS, OPTIONS, Convention, get_convention
from .dtypes import DATA_TYPES, DtypeCost, dtype_cost
from .engine import Cost, LayerCost, count

__all__ = [
    "CONVENTIONS",
    "OPTIONS",
    "Convention",
    "get_convention",
    "Cost",
    "LayerCost",
    "count",
    "DATA_TYPES",
    "DtypeCost",
    "dtype_cost",
]
