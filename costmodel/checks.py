"""Validators shared by every stage: one spelling per rule, each naming the bad value in its error.

>>> positive_int(3, "stride")
3
>>> positive_int(True, "stride")
Traceback (most recent call last):
...
costmodel.errors.SpecError: stride must be a positive integer, got True
"""

from __future__ import annotations

from .errors import CostModelError, SpecError

__all__ = ["is_positive_int", "positive_int", "non_negative_int", "boolean"]


def _as_int(value: object) -> int | None:
    """``value`` as an ``int`` if it is an integer that is not a ``bool`` (NumPy integers included)."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
        return None
    return int(value.__index__())  # type: ignore[attr-defined]


def is_positive_int(value: object) -> bool:
    """True for an integer >= 1 that is not a ``bool`` (NumPy integers included)."""
    n = _as_int(value)
    return n is not None and n >= 1


def positive_int(value: object, what: str, error: type[CostModelError] = SpecError) -> int:
    """``value`` as an ``int`` if it is a positive integer (not a bool), else ``error`` naming ``what``."""
    n = _as_int(value)
    if n is None or n < 1:
        raise error(f"{what} must be a positive integer, got {value!r}")
    return n


def non_negative_int(value: object, what: str, error: type[CostModelError] = SpecError) -> int:
    """``value`` as an ``int`` if it is an integer >= 0 (not a bool), else ``error`` naming ``what``."""
    n = _as_int(value)
    if n is None or n < 0:
        raise error(f"{what} must be a non-negative integer, got {value!r}")
    return n


def boolean(value: object, what: str, error: type[CostModelError] = SpecError) -> bool:
    """``value`` if it is a ``bool`` (NumPy bools included), else ``error``: ``separable="no"`` is not True."""
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_, without importing NumPy
        return bool(value)
    raise error(f"{what} must be True or False, got {value!r}")
