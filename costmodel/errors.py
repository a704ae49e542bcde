"""The one exception hierarchy of costmodel.

Every error the package raises on bad input is a :class:`CostModelError`; the CLI turns any of them into one
line on stderr and exit status 2. The subclasses also derive from the matching built-in (``ValueError``,
``KeyError``...) so that callers who catch those keep working.
"""

from __future__ import annotations

__all__ = [
    "CostModelError",
    "SpecError",
    "ConventionError",
    "DataError",
    "WeightsError",
    "InputError",
    "ProfileError",
    "LayerNotFoundError",
]


class CostModelError(Exception):
    """Base class of every error raised by costmodel on bad input."""


class SpecError(CostModelError, ValueError):
    """A network or layer description is invalid (bad α, resolution, channels, sizes, unknown layer type)."""


class ConventionError(CostModelError, ValueError):
    """An unknown counting convention or option, or a layer type the convention has no rule for."""


class DataError(CostModelError, ValueError):
    """A published-number file, document or table request is invalid (unknown table number, bad CSV...)."""


class WeightsError(CostModelError, ValueError):
    """A weights file or dictionary is missing, truncated, of the wrong format, or has wrong names/shapes."""


class InputError(CostModelError, ValueError):
    """Input data for the reference implementation has the wrong rank, size, channel count, dtype or values."""


class ProfileError(CostModelError, ValueError):
    """A device profile for the latency model is missing, malformed or has invalid values."""


class LayerNotFoundError(SpecError, KeyError):
    """``network[name]`` names no layer of the network (a :class:`SpecError`, and a ``KeyError`` as a mapping's
    missing key is)."""

    __str__ = Exception.__str__  # the message as written, not KeyError's repr of it
