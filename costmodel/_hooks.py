"""The one hook by which a result object reaches the report layer.

Result objects (:class:`~costmodel.counting.engine.Cost`, :class:`~costmodel.counting.memory.NetworkMemory`,
:class:`~costmodel.latency.model.LatencyPrediction`, ...) live in the counting and latency stages and know
nothing of pandas or of the reports. Their ``.table()`` method calls :func:`table`; each report module registers
one builder per result type, by the type's qualified name, when it is imported. ``import costmodel`` imports the
report modules (cheaply: they load pandas only when a table is built, and registering by name imports none of
the result modules), so the builders are there whatever a caller imported first. Imports run with the data flow:
the reports know the results, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .errors import CostModelError

__all__ = ["table", "register_table"]

_F = TypeVar("_F", bound=Callable[..., Any])
_BUILDERS: dict[str, Callable[..., Any]] = {}


def _key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_table(qualified_name: str) -> Callable[[_F], _F]:
    """Register ``builder(result, **options)`` as the table of results of the type named ``qualified_name``
    (``"costmodel.counting.engine.Cost"``)."""

    def decorate(builder: _F) -> _F:
        _BUILDERS[qualified_name] = builder
        return builder

    return decorate


def table(result: object, **options: Any) -> Any:
    """A pandas DataFrame (or a tuple of them) for a result object; see the module docstring."""
    builder = _BUILDERS.get(_key(type(result)))
    if builder is None:
        raise CostModelError(f"no table builder registered for {type(result).__name__}")
    return builder(result, **options)
