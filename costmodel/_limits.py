"""The memory limit every stage checks an allocation against, before it allocates (rank 0: the counting,
reference and search stages all use it). :mod:`costmodel.reference.limits` describes the limits and re-exports
these.

The limit is 4 GiB unless ``$COSTMODEL_MEMORY_LIMIT`` (or a command's ``--memory-limit``) says otherwise.
"""

from __future__ import annotations

import os

from .checks import parse_count
from .errors import InputError

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MEMORY_LIMIT_VARIABLE",
    "parse_bytes",
    "parse_pixels",
    "memory_limit",
    "check_memory",
    "limit_bytes",
]

DEFAULT_MEMORY_LIMIT = 4 * 2**30
MEMORY_LIMIT_VARIABLE = "COSTMODEL_MEMORY_LIMIT"


def parse_bytes(text: str, what: str = "a size") -> int:
    """A byte count from ``"4G"``, ``"512Mi"``, ``"1e9"`` or ``"4096"`` (k/M/G/T powers of 10, Ki/Mi/Gi/Ti of 2).

    >>> parse_bytes("4Gi"), parse_bytes("1.5G"), parse_bytes("2e9")
    (4294967296, 1500000000, 2000000000)
    """
    return _parse_amount(text, what, "bytes")


def parse_pixels(text: str, what: str = "a pixel count") -> int:
    """A pixel count from ``"100e6"``, ``"40M"`` or ``"4000000"``, with the same suffixes as :func:`parse_bytes`.

    >>> parse_pixels("40M")
    40000000
    >>> parse_pixels("-5", "$COSTMODEL_MAX_IMAGE_PIXELS")
    Traceback (most recent call last):
    ...
    costmodel.errors.InputError: $COSTMODEL_MAX_IMAGE_PIXELS must be a positive number of pixels such as 100e6, \
40M or 4000000, got '-5'
    """
    return _parse_amount(text, what, "pixels")


def _parse_amount(text: str, what: str, unit: str) -> int:
    """An amount through the one count parser (:func:`costmodel.checks.parse_count`, exact); a trailing ``B``
    allowed for bytes."""
    examples = "4G, 512Mi or 1e9" if unit == "bytes" else "100e6, 40M or 4000000"
    span = "1 byte and 4 EiB" if unit == "bytes" else f"1 and 2**62 {unit}"
    stripped = text.strip() if isinstance(text, str) else ""
    if unit == "bytes" and stripped[-1:] in ("b", "B"):
        stripped = stripped[:-1]
    try:
        value = parse_count(stripped, what, maximum=2**62, error=InputError)
    except InputError as exc:
        if "at most" in str(exc):
            raise InputError(f"{what} must be between {span}, got {text!r}") from None
        if "whole number, got" in str(exc):
            raise InputError(f"{what} must be a whole number of {unit}, got {text!r}") from None
        raise InputError(f"{what} must be a positive number of {unit} such as {examples}, got {text!r}") from None
    if value < 1:
        raise InputError(f"{what} must be between {span}, got {text!r}")
    return value


def memory_limit(option: str | None = None) -> int:
    """The memory limit in bytes: the option's value, else ``$COSTMODEL_MEMORY_LIMIT``, else 4 GiB."""
    if option is not None:
        return parse_bytes(option, "--memory-limit")
    text = os.environ.get(MEMORY_LIMIT_VARIABLE)
    return DEFAULT_MEMORY_LIMIT if text is None or not text.strip() else parse_bytes(text, f"${MEMORY_LIMIT_VARIABLE}")


def _size(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def check_memory(
    needed: int, what: str, limit: int | None = None, hint: str = "lower the batch, alpha or resolution"
) -> None:
    """Raise :class:`InputError` when ``needed`` bytes exceed the limit (default: :func:`memory_limit`)."""
    limit = memory_limit() if limit is None else limit
    if needed > limit:
        raise InputError(
            f"{what} needs about {_size(needed)}, over the memory limit of {_size(limit)}; {hint}, or raise the "
            f"limit (--memory-limit, ${MEMORY_LIMIT_VARIABLE})"
        )


def limit_bytes(value: object) -> int:
    """A memory limit given to an API function: ``None`` (the default: :func:`memory_limit`), a byte count, or
    a size such as ``"16G"``."""
    if value is None:
        return memory_limit()
    if isinstance(value, str):
        return parse_bytes(value, "memory_limit")
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**62:
        raise InputError(f"memory_limit must be a number of bytes in 1..2**62 or a size such as '16G', got {value!r}")
    return value
