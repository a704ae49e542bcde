"""Device profiles for the roofline latency model: small data files a user can write by hand.

A profile says how fast a device computes and moves data, and how far each layer kind falls short of that:

- ``peak_flops_per_s``: the peak arithmetic rate (FLOP/s; one Mult-Add = 2 FLOPs), e.g. from a large float32
  matrix product;
- ``bandwidth_bytes_per_s``: the memory bandwidth (bytes/s), e.g. from a streaming copy;
- ``efficiency``: per latency kind (:func:`costmodel.latency.kinds.latency_kind`: ``"Conv 1x1"``,
  ``"Conv DW 3x3"``, ``"Conv DW 5x5"``, ``"FC"``, ``"Avg Pool"``, ``"Softmax"``, ``"Add"``...), the fraction of
  the roofline that kind reaches. A value above 1 is allowed: a layer whose data stays in cache can beat the
  streaming bandwidth. A profile of a runtime with several kernel paths keys them ``"<kind> @<path>"``
  (``"Conv 1x1 @nchwc"``). A kind the profile does not list is an error (:class:`ProfileError` naming the kind
  and how to calibrate it) unless the profile declares ``default_efficiency``, the explicit fallback: then
  the kind is predicted at that efficiency and the prediction is marked extrapolated;
- ``overhead_s``: a fixed cost per layer (dispatch, temporary allocations);
- ``overhead_by_kind_s``: an extra fixed cost per layer of a kind (or kind and path);
- ``overhead_per_group_s``: a cost per convolution group of a kind (a depthwise layer has one group per
  channel): a runtime that loops over groups pays it;
- ``cache_bytes`` and ``spill``: a layer that moves more bytes than ``cache_bytes`` (the per-core cache, read
  from the machine at calibration) pays ``spill[kind]`` x the excess bytes / bandwidth on top: its data no
  longer stays in cache between its reads (a fully connected layer's weights, a large depthwise map);
- ``overhead_network_s``: a fixed cost per forward pass (the runtime's own work outside the layers);
- ``paths``: per kind, which kernel path a layer runs on, as learned from the runtime's profiler:
  ``{"path": "nchwc"}`` (always), ``{"path": "nchwc", "channels_multiple_of": 4, "channels_below": 16,
  "otherwise": "Conv"}`` (the first path when the input channels are a multiple of 4 or fewer than
  16, else the other; an optional ``"below"`` path takes the counts under ``channels_below``) or
  ``{"same_as_input": true}`` (the path of the layer before);
- ``channel_block``: per path, the channel block its kernels pad to (``{"nchwc": 16}``);
- ``transitions``: per change of path between two layers (``"Conv->nchwc"``, ``"input->nchwc"``), the
  efficiency and fixed overhead of the layout change (a memory-bound copy of the input tensor);
- ``activations``: per activation the runtime runs as nodes of its own rather than fused into the layer
  (``"silu"`` in ONNX Runtime 1.32), the efficiency and fixed overhead of that memory-bound pass over the layer's
  output (read and write); an activation not listed costs nothing beyond its layer;
- ``runtime``: the runtime the profile was measured with (``"numpy"``, ``"onnxruntime"``);
- ``dtype``: the element type the bytes are counted in (``"float32"``, ``"float16"``, ``"int8"``);
- ``meta``: free-form provenance (runtime version, threads, CPU model, date...), kept but never interpreted.

Files are JSON (``.json``) or TOML (``.toml``, read with :mod:`tomllib`, Python >= 3.11). A JSON profile::

    {"name": "laptop", "peak_flops_per_s": 1.5e11, "bandwidth_bytes_per_s": 1.2e10,
     "efficiency": {"Conv 1x1": 0.6, "Conv DW 3x3": 0.15}, "overhead_s": 2e-5}

Every value is checked on load; a bad one raises :class:`~costmodel.errors.ProfileError` naming the file, the
field and the value.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .._files import atomic_write, check_input
from ..checks import MAX_JSON_DEPTH, dump_json, exceeds_nesting, unique_keys
from ..counting.memory import DTYPE_BYTES
from ..errors import ProfileError
from .kinds import general_kind

__all__ = ["DeviceProfile", "KindTerms", "INPUT_PATH", "load_profile", "save_profile", "profile_from_dict"]

_REQUIRED = ("peak_flops_per_s", "bandwidth_bytes_per_s")
_OPTIONAL = (
    "name",
    "runtime",
    "efficiency",
    "default_efficiency",
    "overhead_s",
    "overhead_by_kind_s",
    "overhead_per_group_s",
    "overhead_network_s",
    "cache_bytes",
    "spill",
    "paths",
    "channel_block",
    "transitions",
    "activations",
    "dtype",
    "meta",
)
_KIND_TABLES = ("efficiency", "overhead_by_kind_s", "overhead_per_group_s", "spill")
_PATH_RULE_KEYS = ("path", "channels_multiple_of", "channels_below", "below", "otherwise", "same_as_input")
#: The path a network's input arrives in, before its first layer (a transition key may start with it).
INPUT_PATH = "input"


@dataclass(frozen=True, slots=True)
class KindTerms:
    """What a profile says about one kind on one path: the terms :func:`~costmodel.latency.model.predict` adds."""

    efficiency: float
    overhead_s: float  # overhead_s + overhead_by_kind_s of the kind
    per_group_s: float
    extrapolated: bool
    spill: float = (
        0.0  # x (bytes beyond cache_bytes) / bandwidth  # the kind is not in the profile; default_efficiency was used
    )


@dataclass(frozen=True)
class DeviceProfile:
    """How fast one device computes and moves data; what :func:`costmodel.latency.model.predict` needs.

    Examples
    --------
    >>> p = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, efficiency={"Conv 1x1": 0.5})
    >>> p.terms("Conv 1x1").efficiency
    0.5
    >>> p.terms("FC")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    costmodel.errors.ProfileError: profile 'profile' has no efficiency for layer kind 'FC': calibrate ...
    >>> p.ridge_flops_per_byte  # arithmetic intensity where a layer turns compute-bound
    10.0
    """

    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    efficiency: Mapping[str, float] = field(default_factory=dict)
    default_efficiency: float | None = None  # the explicit fallback for kinds the profile does not list
    overhead_s: float = 0.0
    overhead_by_kind_s: Mapping[str, float] = field(default_factory=dict)
    overhead_per_group_s: Mapping[str, float] = field(default_factory=dict)
    overhead_network_s: float = 0.0
    cache_bytes: int = 0  # 0: no cache term
    spill: Mapping[str, float] = field(default_factory=dict)
    paths: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    channel_block: Mapping[str, int] = field(default_factory=dict)
    transitions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    activations: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    runtime: str = "numpy"
    dtype: str = "float32"
    name: str = "profile"
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.__dict__, where="DeviceProfile")
        for name in _KIND_TABLES:
            object.__setattr__(self, name, {str(k): float(v) for k, v in getattr(self, name).items()})
        object.__setattr__(self, "paths", {str(k): dict(v) for k, v in self.paths.items()})
        object.__setattr__(self, "channel_block", {str(k): int(v) for k, v in self.channel_block.items()})
        object.__setattr__(self, "cache_bytes", int(self.cache_bytes))
        transitions = {str(k): {str(f): float(x) for f, x in v.items()} for k, v in self.transitions.items()}
        object.__setattr__(self, "transitions", transitions)
        acts = {str(k): {str(f): float(x) for f, x in v.items()} for k, v in self.activations.items()}
        object.__setattr__(self, "activations", acts)
        object.__setattr__(self, "meta", dict(self.meta))
        for name in ("peak_flops_per_s", "bandwidth_bytes_per_s", "overhead_s", "overhead_network_s"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.default_efficiency is not None:
            object.__setattr__(self, "default_efficiency", float(self.default_efficiency))

    @staticmethod
    def key(kind: str, path: str = "") -> str:
        """The table key of ``kind`` on ``path``: ``"Conv 1x1 @nchwc"``, or just the kind without a path."""
        return f"{kind} @{path}" if path else kind

    def covers(self, kind: str, path: str = "") -> bool:
        """True when the profile lists an efficiency for ``kind`` on ``path``."""
        return self.key(kind, path) in self.efficiency

    def terms(self, kind: str, path: str = "") -> KindTerms:
        """Efficiency and overheads of ``kind`` on ``path``; a ProfileError for a kind not covered.

        Without an entry for the kind, ``default_efficiency`` (if the profile declares one) applies, with
        ``overhead_s`` only, and the result is marked extrapolated.
        """
        key = self.key(kind, path)
        efficiency = self.efficiency.get(key)
        general = general_kind(kind)
        if efficiency is None and general is not None and self.covers(general, path):
            return self.terms(general, path)  # a strided kind the profile was not calibrated apart
        if efficiency is None:
            if self.default_efficiency is None:
                on = f" on kernel path {path!r}" if path else ""
                raise ProfileError(
                    f"profile {self.name!r} has no efficiency for layer kind {kind!r}{on}: calibrate the profile "
                    f"on networks with such layers (costmodel calibrate --runtime {self.runtime} --fit-network "
                    "NAME or FILE.json), or declare 'default_efficiency' in it to extrapolate"
                )
            return KindTerms(self.default_efficiency, self.overhead_s, 0.0, True)
        overhead = self.overhead_s + self.overhead_by_kind_s.get(key, 0.0)
        return KindTerms(efficiency, overhead, self.overhead_per_group_s.get(key, 0.0), False, self.spill.get(key, 0.0))

    def efficiency_of(self, kind: str, path: str = "") -> float:
        """The efficiency of ``kind`` on ``path`` (see :meth:`terms`)."""
        return self.terms(kind, path).efficiency

    def overhead_of(self, kind: str, path: str = "") -> float:
        """Fixed seconds per layer of ``kind`` on ``path``: ``overhead_s`` plus the kind's own extra."""
        return self.terms(kind, path).overhead_s

    def path_of(self, kind: str, in_ch: int, previous: str) -> str:
        """The kernel path a layer of ``kind`` with ``in_ch`` input channels runs on, after a layer on
        ``previous``; ``""`` when the profile has no path rules (one path per kind)."""
        rule = self.paths.get(kind)
        general = general_kind(kind)
        if rule is None and general is not None:
            rule = self.paths.get(general)  # as terms(): the unstrided kind's rule
        if rule is None:
            return ""
        if rule.get("same_as_input"):
            return previous
        multiple, below = rule.get("channels_multiple_of"), rule.get("channels_below", 0)
        if multiple is not None and in_ch < below:
            return str(rule.get("below", rule["path"]))
        if multiple is None or in_ch % multiple == 0:
            return str(rule["path"])
        return str(rule["otherwise"])

    def padded(self, channels: int, path: str, side: str = "output") -> int:
        """``channels`` rounded up to the path's channel block, if it has one.

        Output channels are always padded; input channels only from one block up (ONNX Runtime's NCHWc
        convolutions read an input of fewer channels, such as the RGB image, unpadded).
        """
        block = self.channel_block.get(path)
        if not block or (side == "input" and channels < block):
            return channels
        return -(-channels // block) * block

    @property
    def ridge_flops_per_byte(self) -> float:
        """The roofline's ridge point: layers with a higher arithmetic intensity are compute-bound."""
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; :func:`profile_from_dict` reads it back."""
        out: dict[str, Any] = {
            "name": self.name,
            "runtime": self.runtime,
            "peak_flops_per_s": self.peak_flops_per_s,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "efficiency": dict(self.efficiency),
            "overhead_s": self.overhead_s,
            "overhead_by_kind_s": dict(self.overhead_by_kind_s),
            "overhead_per_group_s": dict(self.overhead_per_group_s),
            "overhead_network_s": self.overhead_network_s,
            "cache_bytes": self.cache_bytes,
            "spill": dict(self.spill),
            "paths": {k: dict(v) for k, v in self.paths.items()},
            "channel_block": dict(self.channel_block),
            "transitions": {k: dict(v) for k, v in self.transitions.items()},
            "activations": {k: dict(v) for k, v in self.activations.items()},
            "dtype": self.dtype,
            "meta": dict(self.meta),
        }
        if self.default_efficiency is not None:
            out["default_efficiency"] = self.default_efficiency
        return out


def _is_number(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


#: The physically meaningful range of each kind of profile number (a value outside is a typo or a unit
#: error, and would print times of hundreds of digits): FLOP/s from a microcontroller to beyond any single
#: device, bytes/s likewise, an efficiency (a fraction of the roofline; calibrate fits at most 20) from a
#: millionth to 1000, a fixed overhead up to 10 s, a spill factor up to a million.
RANGES: dict[str, tuple[float, float]] = {
    "peak_flops_per_s": (1e3, 1e18),
    "bandwidth_bytes_per_s": (1e3, 1e16),
    "efficiency": (1e-6, 1e3),
    "overhead_s": (0.0, 10.0),
    "spill": (0.0, 1e6),
}


def _range_of(name: str) -> tuple[float, float]:
    """The range of a field: its own, or that of its kind of number (efficiencies, overheads in seconds)."""
    if name in RANGES:
        return RANGES[name]
    if "efficiency" in name:
        return RANGES["efficiency"]
    return RANGES["overhead_s"] if name.endswith("_s") else (0.0, math.inf)


def _in_range(value: float, name: str, where: str) -> None:
    lo, hi = _range_of(name)
    if not lo <= value <= hi:
        raise ProfileError(f"{where}: field {name!r} = {value!r} is too extreme: it must lie in [{lo:g}, {hi:g}]")


def _number(data: Mapping[str, Any], name: str, where: str, default: float, positive: bool) -> None:
    value = data.get(name, default)
    if not _is_number(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ProfileError(f"{where}: field {name!r} must be a finite number {bound}, got {_show(value)}")
    _in_range(value, name, where)


def _show(value: object) -> str:
    """A short repr of a bad value for a one-line message."""
    try:
        text = repr(value).replace("\n", " ")
    except RecursionError:  # a caller's structure nested without end
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _declared_paths(paths: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for rule in paths.values():
        if isinstance(rule, Mapping):
            out.update(str(rule[k]) for k in ("path", "below", "otherwise") if isinstance(rule.get(k), str))
    return out


def _check_kind_key(key: object, table: str, where: str, paths: set[str]) -> None:
    from .kinds import is_latency_kind, kind_names

    if not isinstance(key, str) or not key:
        raise ProfileError(f"{where}: field {table!r} has a bad layer kind {_show(key)}")
    kind, _, path = key.partition(" @")
    if not is_latency_kind(kind):
        raise ProfileError(
            f"{where}: field {table!r} names an unknown layer kind {kind!r}; valid kinds: "
            f"{', '.join(kind_names())} (<k>: the kernel size, e.g. 'Conv DW 5x5')"
        )
    if path and path not in paths:
        known = ", ".join(sorted(paths)) or "none; declare them in 'paths'"
        raise ProfileError(f"{where}: field '{table}.{key}' names kernel path {path!r}, not in 'paths' ({known})")


def _check_depth(data: object, where: str) -> None:
    """Refuse a document nested deeper than JSON's limit (:data:`~costmodel.checks.MAX_JSON_DEPTH`), walked
    without recursion (a TOML file or a caller's dictionary may nest, or contain itself, without end)."""
    if exceeds_nesting(data, MAX_JSON_DEPTH):
        raise ProfileError(f"{where}: nested more than {MAX_JSON_DEPTH} levels deep")


def _check_meta(meta: Mapping[str, Any], where: str) -> None:
    """``meta`` is free-form but must be JSON data (it is written back as JSON): tables with text keys, lists,
    text, finite numbers, true/false and null. A TOML date or a Python object is named, not written half."""
    stack: list[tuple[object, str]] = [(meta, "meta")]
    while stack:
        value, at = stack.pop()
        if isinstance(value, Mapping):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ProfileError(f"{where}: field {at!r} has a key that is not text: {_show(k)}")
                stack.append((v, f"{at}.{k}"))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
            raise ProfileError(f"{where}: field {at!r} is an integer of {value.bit_length()} bits; at most 128")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ProfileError(f"{where}: field {at!r} must be finite, got {value!r}")
        elif value is not None and not isinstance(value, (str, bool, int, float)):
            raise ProfileError(
                f"{where}: field {at!r} must be JSON data (text, a number, true/false, a list or a table), got "
                f"{type(value).__name__} {_show(value)} (quote a TOML date to keep it as text)"
            )


def _check(data: Mapping[str, Any], where: str) -> None:
    """Raise ProfileError for the first bad field of ``data``; ``where`` names the file (or the class)."""
    _check_depth(data, where)
    for name in ("peak_flops_per_s", "bandwidth_bytes_per_s"):
        _number(data, name, where, 1.0, positive=True)
    if data.get("default_efficiency") is not None:
        _number(data, "default_efficiency", where, 1.0, positive=True)
    for name in ("overhead_s", "overhead_network_s"):
        _number(data, name, where, 0.0, positive=False)
    cache = data.get("cache_bytes", 0)
    if isinstance(cache, bool) or not isinstance(cache, int) or not 0 <= cache <= 2**40:
        raise ProfileError(f"{where}: field 'cache_bytes' must be an integer in 0..2**40, got {_show(cache)}")
    dtype = data.get("dtype", "float32")
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise ProfileError(f"{where}: field 'dtype' must be one of {', '.join(DTYPE_BYTES)}, got {_show(dtype)}")
    for name in ("name", "runtime"):
        value = data.get(name, "x")
        if not isinstance(value, str) or not value:
            raise ProfileError(f"{where}: field {name!r} must be a non-empty string, got {_show(value)}")
    for name in ("paths", "channel_block", "transitions", "meta", *_KIND_TABLES):
        if not isinstance(data.get(name, {}), Mapping):
            raise ProfileError(f"{where}: field {name!r} must be a table, got {_show(data[name])}")
    _check_meta(data.get("meta", {}), where)
    paths = data.get("paths", {})
    for kind, rule in paths.items():
        _check_kind_key(kind, "paths", where, set())
        _check_path_rule(rule, f"{where}: field 'paths.{kind}'")
    declared = _declared_paths(paths)
    for name in _KIND_TABLES:
        for key, value in data.get(name, {}).items():
            _check_kind_key(key, name, where, declared)
            positive = name == "efficiency"
            if not _is_number(value) or value < 0 or (positive and value == 0):
                bound = "> 0" if positive else ">= 0"
                raise ProfileError(f"{where}: field '{name}.{key}' must be a finite number {bound}, got {_show(value)}")
            lo, hi = _range_of(name)
            if not lo <= value <= hi:
                raise ProfileError(
                    f"{where}: field '{name}.{key}' = {value!r} is too extreme: it must lie in [{lo:g}, {hi:g}]"
                )
    for path, block in data.get("channel_block", {}).items():
        if path not in declared:
            raise ProfileError(f"{where}: field 'channel_block' names kernel path {path!r}, not in 'paths'")
        if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= 4096:
            raise ProfileError(
                f"{where}: field 'channel_block.{path}' must be an integer in 1..4096, got {_show(block)}"
            )
    from ..spec.layers import ACTIVATIONS

    if not isinstance(data.get("activations", {}), Mapping):
        raise ProfileError(f"{where}: field 'activations' must be a table, got {_show(data['activations'])}")
    for key, entry in data.get("activations", {}).items():
        if key not in ACTIVATIONS or key is None:
            known = ", ".join(a for a in ACTIVATIONS if a)
            raise ProfileError(f"{where}: field 'activations' names an unknown activation {_show(key)} ({known})")
        _check_pass(entry, f"activations.{key}", where)
    for key, entry in data.get("transitions", {}).items():
        src, arrow, dst = str(key).partition("->")
        if not arrow or src not in declared | {INPUT_PATH} or dst not in declared:
            raise ProfileError(
                f"{where}: field 'transitions' has a bad key {_show(key)}: 'FROM->TO' between paths declared in "
                f"'paths' ({', '.join(sorted(declared)) or 'none'}; FROM may be {INPUT_PATH!r})"
            )
        _check_pass(entry, f"transitions.{key}", where)


def _check_pass(entry: object, field_name: str, where: str) -> None:
    """A memory-bound pass's entry (a layout change, an unfused activation): efficiency > 0, overhead >= 0."""
    if not isinstance(entry, Mapping) or set(entry) - {"efficiency", "overhead_s"} or "efficiency" not in entry:
        raise ProfileError(
            f"{where}: field '{field_name}' must be a table with 'efficiency' (and 'overhead_s'), got {_show(entry)}"
        )
    _number(entry, "efficiency", f"{where}: {field_name}", 1.0, positive=True)
    _number(entry, "overhead_s", f"{where}: {field_name}", 0.0, positive=False)


def _check_path_rule(rule: object, where: str) -> None:
    if not isinstance(rule, Mapping) or set(rule) - set(_PATH_RULE_KEYS):
        raise ProfileError(f"{where} must be a table with keys among {', '.join(_PATH_RULE_KEYS)}, got {_show(rule)}")
    if rule.get("same_as_input") is True and len(rule) == 1:
        return
    if not isinstance(rule.get("path"), str) or not rule["path"]:
        raise ProfileError(f"{where}: 'path' must be a non-empty string, got {_show(rule.get('path'))}")
    if "channels_multiple_of" in rule or "otherwise" in rule or "channels_below" in rule:
        for key in ("channels_multiple_of", "channels_below"):
            value = rule.get(key, 0 if key == "channels_below" else None)
            least = 0 if key == "channels_below" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ProfileError(f"{where}: {key!r} must be an integer >= {least}, got {_show(value)}")
        if "below" in rule and (not isinstance(rule["below"], str) or not rule["below"]):
            raise ProfileError(f"{where}: 'below' must be a non-empty string, got {_show(rule['below'])}")
        if not isinstance(rule.get("otherwise"), str) or not rule["otherwise"]:
            raise ProfileError(f"{where}: 'otherwise' must be a non-empty string, got {_show(rule.get('otherwise'))}")


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


#: Largest profile file read: a hand-written or calibrated profile is a few kB.
MAX_PROFILE_BYTES = 1_000_000


def load_profile(path: str | os.PathLike[str]) -> DeviceProfile:
    """Read a profile from a ``.json`` or ``.toml`` file.

    Raises
    ------
    ProfileError
        The file is missing or unreadable, not valid JSON/TOML, or a field is missing, unknown or invalid;
        the message names the file, the field and the value.
    """
    path = check_input(path, "profile", ProfileError, MAX_PROFILE_BYTES)  # None, a folder, a FIFO: refused
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
        except RecursionError:  # tomllib parses nested arrays and inline tables recursively
            raise ProfileError(f"{path}: not a valid profile: nested too deeply") from None
    else:
        try:
            data = json.loads(
                raw.decode("utf-8"),
                parse_constant=_reject_constant,
                object_pairs_hook=unique_keys("the profile", ProfileError),
            )
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProfileError(f"{path}: not a valid JSON file: {exc}") from None
        except ValueError as exc:  # NaN / Infinity, an integer with too many digits
            raise ProfileError(f"{path}: {exc}") from None
        except RecursionError:
            raise ProfileError(f"{path}: not a valid profile: nested too deeply") from None
    return profile_from_dict(data, where=str(path))


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} is not allowed in a profile")


def save_profile(profile: DeviceProfile, path: str | os.PathLike[str]) -> Path:
    """Write ``profile`` as JSON, atomically (a temporary file in the same folder, renamed into place)."""
    if not isinstance(profile, DeviceProfile):
        raise ProfileError(f"save_profile() needs a DeviceProfile, got {type(profile).__name__}")
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or not str(path) or "\0" in str(path):
        raise ProfileError(f"save_profile() needs a file name, got {_show(path)}")
    name = os.fspath(path)
    if isinstance(name, str) and Path(name).suffix.lower() == ".toml":
        raise ProfileError(f"{name}: profiles are written as JSON; use a .json name (TOML is read-only)")
    text = dump_json(profile.to_dict(), indent=2) + "\n"

    def write(f: BinaryIO) -> None:
        f.write(text.encode("utf-8"))

    # the path as given (Path() would drop a trailing '/'): a missing folder, 'dir/', a name too long for the
    # file system are each one ProfileError from atomic_write
    return atomic_write(path, write, ProfileError)
