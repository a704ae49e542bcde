"""The one rule for the ``seed`` argument of every function that draws random numbers.

``seed`` is ``None`` (fresh entropy from the operating system: a different draw on every call), a non-negative
integer (the same draw every time), or a :class:`numpy.random.Generator` (drawn from, and so advanced: an
evolutionary loop passes one generator to every call). Anything else is an error of the caller's hierarchy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from .errors import CostModelError, SpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Seed", "rng"]

#: What a ``seed`` argument accepts.
Seed = Union[int, "np.random.Generator", None]


def rng(seed: object, what: str = "seed", error: type[CostModelError] = SpecError) -> Any:
    """A :class:`numpy.random.Generator` for ``seed`` (see the module docstring), else ``error`` naming it.

    >>> bool(rng(3).integers(10) == rng(3).integers(10))
    True
    >>> rng(-1)
    Traceback (most recent call last):
    ...
    costmodel.errors.SpecError: seed must be None, an integer >= 0 or a numpy.random.Generator, got -1
    """
    import numpy as np

    if isinstance(seed, np.random.Generator):
        return seed
    ok = seed is None or (
        not isinstance(seed, (bool, np.bool_)) and isinstance(seed, (int, np.integer)) and int(seed) >= 0
    )
    if not ok:
        text = repr(seed) if len(repr(seed)) <= 60 else repr(seed)[:57] + "..."
        raise error(f"{what} must be None, an integer >= 0 or a numpy.random.Generator, got {text}")
    return np.random.default_rng(None if seed is None else int(seed))
