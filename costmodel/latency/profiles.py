"""Device profiles for the roofline latency model: small data files a user can write by hand.

A profile says how fast a device computes and moves data, and how far each layer type falls short of that:

- ``peak_flops_per_s``: the peak arithmetic rate (FLOP/s; one Mult-Add = 2 FLOPs), e.g. from a large float32
  matrix product;
- ``bandwidth_bytes_per_s``: the memory bandwidth (bytes/s), e.g. from a streaming copy;
- ``efficiency``: per layer type (the :func:`costmodel.counting.kinds.layer_kind` values: ``"Conv 1x1"``,
  ``"Conv DW 3x3"``, ``"Conv 3x3"``, ``"FC"``, ``"Avg Pool"``, ``"Softmax"``...), the fraction of the roofline
  that layer type reaches; a type not listed uses ``default_efficiency``. A value above 1 is allowed: a layer
  whose data stays in cache can beat the streaming bandwidth;
- ``overhead_s``: a fixed cost per layer (Python dispatch, temporary allocations, thread start-up);
- ``overhead_by_kind_s``: optional, an extra fixed cost per layer of a type (a convolution makes more
  library calls than a softmax); a type not listed adds nothing;
- ``dtype``: the element type the bytes are counted in (``"float32"``, ``"float16"``, ``"int8"``);
- ``meta``: free-form provenance (how and where it was measured), kept but never interpreted.

Files are JSON (``.json``) or TOML (``.toml``, read with :mod:`tomllib`, Python >= 3.11). A JSON profile::

    {"name": "laptop", "peak_flops_per_s": 1.5e11, "bandwidth_bytes_per_s": 1.2e10,
     "efficiency": {"Conv 1x1": 0.6, "Conv DW 3x3": 0.15}, "overhead_s": 2e-5}

Every value is checked on load; a bad one raises :class:`~costmodel.errors.ProfileError` naming the file, the
field and the value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import atomic_write, check_input
from ..checks import dump_json, load_json
from ..counting.memory import DTYPE_BYTES
from ..errors import ProfileError

__all__ = ["DeviceProfile", "load_profile", "save_profile", "profile_from_dict"]

_REQUIRED = ("peak_flops_per_s", "bandwidth_bytes_per_s")
_OPTIONAL = ("name", "efficiency", "default_efficiency", "overhead_s", "overhead_by_kind_s", "dtype", "meta")


@dataclass(frozen=True)
class DeviceProfile:
    """How fast one device computes and moves data; what :func:`costmodel.latency.model.predict` needs.

    Examples
    --------
    >>> p = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, efficiency={"Conv 1x1": 0.5})
    >>> p.efficiency_of("Conv 1x1"), p.efficiency_of("FC")
    (0.5, 1.0)
    >>> p.ridge_flops_per_byte  # arithmetic intensity where a layer turns compute-bound
    10.0
    """

    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    efficiency: Mapping[str, float] = field(default_factory=dict)
    default_efficiency: float = 1.0
    overhead_s: float = 0.0
    overhead_by_kind_s: Mapping[str, float] = field(default_factory=dict)
    dtype: str = "float32"
    name: str = "profile"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.__dict__, where="DeviceProfile")
        object.__setattr__(self, "efficiency", {str(k): float(v) for k, v in self.efficiency.items()})
        extra = {str(k): float(v) for k, v in self.overhead_by_kind_s.items()}
        object.__setattr__(self, "overhead_by_kind_s", extra)
        object.__setattr__(self, "meta", dict(self.meta))
        for name in ("peak_flops_per_s", "bandwidth_bytes_per_s", "default_efficiency", "overhead_s"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def efficiency_of(self, kind: str) -> float:
        """The efficiency of layer type ``kind`` (``default_efficiency`` when the profile has none)."""
        return self.efficiency.get(kind, self.default_efficiency)

    def overhead_of(self, kind: str) -> float:
        """Fixed seconds per layer of type ``kind``: ``overhead_s`` plus the type's own extra, if any."""
        return self.overhead_s + self.overhead_by_kind_s.get(kind, 0.0)

    @property
    def ridge_flops_per_byte(self) -> float:
        """The roofline's ridge point: layers with a higher arithmetic intensity are compute-bound."""
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; :func:`profile_from_dict` reads it back."""
        return {
            "name": self.name,
            "peak_flops_per_s": self.peak_flops_per_s,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "efficiency": dict(self.efficiency),
            "default_efficiency": self.default_efficiency,
            "overhead_s": self.overhead_s,
            "overhead_by_kind_s": dict(self.overhead_by_kind_s),
            "dtype": self.dtype,
            "meta": dict(self.meta),
        }


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(data: Mapping[str, Any], where: str) -> None:
    """Raise ProfileError for the first bad field of ``data``; ``where`` names the file (or the class)."""
    for name in ("peak_flops_per_s", "bandwidth_bytes_per_s", "default_efficiency"):
        value = data.get(name, 1.0)
        if not _is_number(value) or value <= 0:
            raise ProfileError(f"{where}: field {name!r} must be a finite number > 0, got {value!r}")
    overhead = data.get("overhead_s", 0.0)
    if not _is_number(overhead) or overhead < 0:
        raise ProfileError(f"{where}: field 'overhead_s' must be a finite number >= 0, got {overhead!r}")
    dtype = data.get("dtype", "float32")
    if dtype not in DTYPE_BYTES:
        raise ProfileError(f"{where}: field 'dtype' must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    if not isinstance(data.get("name", "profile"), str):
        raise ProfileError(f"{where}: field 'name' must be a string, got {data['name']!r}")
    for name, positive in (("efficiency", True), ("overhead_by_kind_s", False)):
        table = data.get(name, {})
        if not isinstance(table, Mapping):
            raise ProfileError(f"{where}: field {name!r} must be a table of layer type -> number, got {table!r}")
        for kind, value in table.items():
            if not isinstance(kind, str) or not kind:
                raise ProfileError(f"{where}: field {name!r} has a bad layer type {kind!r}")
            if not _is_number(value) or value < 0 or (positive and value == 0):
                bound = "> 0" if positive else ">= 0"
                raise ProfileError(f"{where}: field '{name}.{kind}' must be a finite number {bound}, got {value!r}")
    if not isinstance(data.get("meta", {}), Mapping):
        raise ProfileError(f"{where}: field 'meta' must be a table, got {data['meta']!r}")


def profile_from_dict(data: object, where: str = "profile") -> DeviceProfile:
    """Build a validated :class:`DeviceProfile` from a parsed JSON/TOML document.

    Unknown fields are errors (a typo such as ``"overhead"`` must not silently fall back to a default).
    """
    if not isinstance(data, Mapping):
        raise ProfileError(f"{where}: a profile must be a JSON object / TOML table, got {type(data).__name__}")
    for name in _REQUIRED:
        if name not in data:
            raise ProfileError(f"{where}: missing required field {name!r}")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        known = ", ".join(_REQUIRED + _OPTIONAL)
        raise ProfileError(f"{where}: unknown field {unknown[0]!r} (known fields: {known})")
    _check(data, where)
    return DeviceProfile(**{k: data[k] for k in _REQUIRED + _OPTIONAL if k in data})


#: Largest profile file read: a hand-written or calibrated profile is about 1 kB.
MAX_PROFILE_BYTES = 1_000_000


def load_profile(path: str | os.PathLike[str]) -> DeviceProfile:
    """Read a profile from a ``.json`` or ``.toml`` file.

    Raises
    ------
    ProfileError
        The file is missing or unreadable, not valid JSON/TOML, or a field is missing, unknown or invalid;
        the message names the file, the field and the value.
    """
    path = check_input(path, "profile", ProfileError, MAX_PROFILE_BYTES)  # None, a folder or a FIFO: refused
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read profile {str(path)!r}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            raise ProfileError(f"{path}: TOML profiles need Python >= 3.11 (tomllib); use JSON") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ProfileError(f"{path}: not a valid TOML file: {exc}") from None
        except RecursionError:
            raise ProfileError(f"{path}: not a valid profile: arrays or tables nested too deeply") from None
    else:
        data = load_json(raw, f"profile {str(path)!r}", ProfileError)  # strict; depth and number limits
    return profile_from_dict(data, where=str(path))


def save_profile(profile: DeviceProfile, path: str | os.PathLike[str]) -> Path:
    """Write ``profile`` as JSON, atomically (a temporary file in the same folder, renamed into place)."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        raise ProfileError(f"{path}: profiles are written as JSON; use a .json name (TOML is read-only)")
    if not path.parent.is_dir():
        raise ProfileError(f"cannot write profile {str(path)!r}: folder {str(path.parent)!r} does not exist")
    text = dump_json(profile.to_dict(), indent=2) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), ProfileError)
