"""Validators shared by every stage: one spelling per rule, each naming the bad value in its error.

>>> positive_int(3, "stride")
3
>>> positive_int(True, "stride")
Traceback (most recent call last):
...
costmodel.errors.SpecError: stride must be a positive integer, got True
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import CostModelError, SpecError

__all__ = [
    "exceeds_nesting",
    "MAX_SIZE",
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_CHARS",
    "positive_int",
    "non_negative_int",
    "boolean",
    "one_of",
    "parse_count",
    "json_depth",
    "load_json",
    "unique_keys",
    "dump_json",
]

#: The largest integer a spec or an option takes (a channel count, a size, a kernel, a class count, a repeat
#: count): far beyond any real network, and small enough that every count derived from a spec stays far below
#: float64's range (so no report overflows) and every loop it bounds ends.
MAX_SIZE = 2**31 - 1


def _as_int(value: object) -> int | None:
    """``value`` as an ``int`` if it is an integer that is not a ``bool`` (NumPy integers included)."""
    if type(value) is int:
        return value
    if isinstance(value, (bool, float)) or not hasattr(value, "__index__"):
        return None
    try:
        return int(value.__index__())  # type: ignore[attr-defined]
    except (TypeError, ValueError):  # an array of several integers has __index__, and refuses it
        return None


def positive_int(value: object, what: str, error: type[CostModelError] = SpecError) -> int:
    """``value`` as an ``int`` if it is a positive integer (not a bool) up to :data:`MAX_SIZE`, else ``error``
    naming ``what``."""
    n = _as_int(value)
    if n is None or n < 1:
        raise error(f"{what} must be a positive integer, got {value!r}")
    if n > MAX_SIZE:
        raise error(f"{what} must be at most {MAX_SIZE:,}, got {_short(n)}")
    return n


def _short(n: int) -> str:
    """An integer for a message: in full up to 30 digits, else its first digits and its length."""
    text = str(n)
    return text if len(text) <= 30 else f"{text[:12]}... ({len(text)} digits)"


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


def one_of(value: object, choices: tuple[object, ...]) -> bool:
    """``value in choices`` for choices that are text or None, without comparing arrays or objects with odd
    ``__eq__`` (``np.array([1, 2]) in ("relu",)`` raises instead of answering)."""
    return (value is None or isinstance(value, str)) and value in choices


#: Count suffixes: powers of ten (k/K, M, G, T), and of two for sizes in bytes (Ki, Mi, Gi, Ti).
COUNT_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
_COUNT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d{1,4}))?\s*([kKmMgGtT]i?)?\s*")


def parse_count(
    text: str, what: str = "a count", maximum: int = 10**300, error: type[CostModelError] = SpecError
) -> int:
    """A whole count from text: a plain integer, a decimal with a suffix (k/K, M, G, T: powers of ten; Ki, Mi,
    Gi, Ti: of two) or scientific notation, exact (no float rounding); a value that is not a whole number is an
    error naming it.

    >>> parse_count("300M"), parse_count("1.5k"), parse_count("3e8"), parse_count("4Gi"), parse_count("12")
    (300000000, 1500, 300000000, 4294967296, 12)
    >>> parse_count("1e6.5")
    Traceback (most recent call last):
    ...
    costmodel.errors.SpecError: a count must be a whole number such as 300M, 3e8 or 300000000, got '1e6.5'
    """
    from fractions import Fraction

    match = _COUNT.fullmatch(text) if isinstance(text, str) and len(text) <= 100 else None
    shown = repr(text[:40]) if isinstance(text, str) else repr(text)
    if match is None:
        raise error(f"{what} must be a whole number such as 300M, 3e8 or 300000000, got {shown}")
    digits, exponent, unit = match.groups()
    exp = int(exponent or 0)
    if exp > 400:  # a bound before the power is taken; far above any maximum
        raise error(f"{what} must be at most {maximum:.0e}, got {shown}")
    value = Fraction(digits) * Fraction(10) ** exp * COUNT_UNITS[(unit or "").lower()]
    if value.denominator != 1:
        raise error(f"{what} must be a whole number, got {shown} (= {float(value):g})")
    if value > maximum:
        raise error(f"{what} must be at most {maximum:.0e}, got {shown}")
    return int(value)


#: Limits of every JSON document costmodel reads (network specs, device profiles): nesting depth, and the
#: characters of one number (a 401-digit integer or ``1e400`` is refused, not turned into an overflow).
MAX_JSON_DEPTH = 64
MAX_NUMBER_CHARS = 40

#: A backslash and the character it escapes; once these are gone, a JSON string holds no quote, so ``"[^"]*"``
#: finds every string. Each of the three patterns below scans its text once: no nested repetition, no
#: backtracking that grows with the input (the former single pattern, ``"(?:[^"\\]|\\.)*"``, was quadratic on a
#: run of ``\"`` after an opening quote: 16 s for 40 kB). ``benchmarks/bench_checks.py`` measures the scaling.
_JSON_ESCAPE = re.compile(r"\\.", re.DOTALL)
_JSON_STRING = re.compile(r'"[^"]*"')
_JSON_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def exceeds_nesting(value: object, limit: int) -> bool:
    """True when mappings, lists and tuples nest ``value`` more than ``limit`` levels below it (the value itself
    at depth 0), walked without recursion: a caller's dictionary may nest, or contain itself, without end.

    >>> exceeds_nesting({"a": [1]}, 2), exceeds_nesting({"a": [1]}, 1)
    (False, True)
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
    return False


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text`` (strings skipped), without parsing it, in time linear
    in the length of ``text``.

    >>> json_depth('{"a": [1, {"b": "[[[\\\\\\"]"}]}')
    3
    """
    brackets = _JSON_NOT_BRACKET.sub("", _JSON_STRING.sub("", _JSON_ESCAPE.sub("", text)))
    return max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets), initial=0))


def load_json(text: str | bytes, what: str, error: type[CostModelError] = CostModelError) -> Any:
    """Parse JSON ``text`` strictly and within limits, or raise ``error`` naming ``what`` and the problem.

    Refused: nesting deeper than :data:`MAX_JSON_DEPTH`, a number longer than :data:`MAX_NUMBER_CHARS`
    characters or one that overflows a float (``1e400``), ``NaN`` and ``Infinity`` (not JSON), a key given twice
    in one object (the last one would silently win), invalid UTF-8. Every check runs in time linear in the text.

    >>> load_json('{"alpha": 1.0, "alpha": 0.5}', "spec")
    Traceback (most recent call last):
    ...
    costmodel.errors.CostModelError: spec has the key 'alpha' twice in one object
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if not isinstance(text, str):
        raise error(f"{what} must be JSON text, got {type(text).__name__}")
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise error(f"{what} nests {depth} levels deep; the limit is {MAX_JSON_DEPTH}")

    def number(s: str) -> float | int:
        if len(s) > MAX_NUMBER_CHARS:
            raise error(f"{what} has a number of {len(s)} characters ({s[:12]}...); the limit is {MAX_NUMBER_CHARS}")
        value = float(s) if any(c in s for c in ".eE") else int(s)
        if isinstance(value, float) and not math.isfinite(value):
            raise error(f"{what} has a number out of range: {s}")
        return value

    def constant(s: str) -> object:
        raise error(f"{what} has {s}, which is not JSON (numbers must be finite)")

    try:
        return json.loads(
            text,
            parse_int=number,
            parse_float=number,
            parse_constant=constant,
            object_pairs_hook=unique_keys(what, error),
        )
    except ValueError as exc:
        if isinstance(exc, CostModelError):
            raise
        raise error(f"{what} is not valid JSON: {str(exc)[:200]}") from None


def unique_keys(
    what: str, error: type[CostModelError] = CostModelError
) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """An ``object_pairs_hook`` for ``json.loads`` that refuses a key given twice in one object (strict JSON; by
    default the last one silently wins), naming the key.

    >>> json.loads('{"a": 1, "a": 2}', object_pairs_hook=unique_keys("profile"))
    Traceback (most recent call last):
    ...
    costmodel.errors.CostModelError: profile has the key 'a' twice in one object
    """

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs):  # rare: only then look for the key, in linear time
            seen: set[str] = set()
            key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            shown = repr(key) if len(key) <= 60 else f"{key[:60]!r}... ({len(key)} characters)"
            raise error(f"{what} has the key {shown} twice in one object")
        return obj

    return hook


def dump_json(value: object, **kwargs: Any) -> str:
    """``json.dumps`` for every JSON costmodel prints or writes: strict, so a NaN or an infinity is a
    :class:`~costmodel.errors.CostModelError` naming where it is, never invalid JSON.

    >>> dump_json({"total_ms": float("inf")})
    Traceback (most recent call last):
    ...
    costmodel.errors.CostModelError: a result is not finite (total_ms = inf); nothing was written
    """
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:
        where = _non_finite(value)
        raise CostModelError(f"a result is not finite ({where}); nothing was written") from None


def _non_finite(value: object, path: str = "") -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path or 'value'} = {value}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = _non_finite(
            item, f"{path}.{key}" if path and isinstance(key, str) else f"{path}[{key!r}]" if path else str(key)
        )
        if found:
            return found
    return ""
