"""Networks as JSON documents: :meth:`Network.from_dict <costmodel.spec.network.Network.from_dict>`, ``to_dict``.

Schema (version 1)
------------------
A document is a JSON object::

    {
      "schema": "costmodel.network/1",        optional; if present it must be exactly this
      "name": "my-net",                       optional string, default "network"
      "input_size": 224,                      required: height = width of the square input, integer >= 1
      "in_ch": 3,                             optional: input channels, default 3
      "config": {...},                        optional: any JSON object, kept as information
      "layers": [LAYER, ...]                  required: non-empty, in execution order
    }

Every LAYER is an object with ``"type"`` and ``"name"`` (a string, unique in the whole network, nested
layers included) and the fields of its type; omitted optional fields take their defaults:

===================  =========================================================================================
type                 fields (default)
===================  =========================================================================================
``conv2d``           ``in_ch``, ``out_ch``, ``kernel`` (integers >= 1); ``stride`` (1); ``groups`` (1; must
                     divide ``in_ch`` and ``out_ch``; ``groups == in_ch == out_ch`` is depthwise);
                     ``padding`` ("tf_same": TF SAME; an integer >= 0 on every side; or [before, after]
                     explicit, e.g. Keras' [0, 1]; "same" is read as "tf_same"); ``bias`` (false);
                     ``batch_norm`` (true); ``activation`` ("relu"; or "relu6", "hardswish", "hardsigmoid",
                     "silu", "sigmoid" or null); ``bn_scale`` (true: the batch norm has gamma); ``bn_epsilon``
                     (0.001; a number in (0, 1)); ``pytorch`` ("modules"; "functional_act" or "bn_act": how
                     PyTorch writes the batch norm and activation, which only the tool presets read)
``pool2d``           ``kernel``; ``stride`` (1); ``mode`` ("avg" or "max", default "avg"); ``padding`` (0);
                     ``ceil_mode`` (false)
``global_avg_pool``  D_F x D_F x C -> 1 x 1 x C; ``pytorch`` ("module"; "function" or "mean": how PyTorch
                     writes it, which only the tool presets read)
``adaptive_avg_pool``  ``output_size`` (integer >= 1), as PyTorch's AdaptiveAvgPool2d
``linear``           ``in_features`` (must equal the flattened input), ``out_features``; ``bias`` (true);
                     ``activation`` (null)
``softmax``          none
``concat``           ``branches``: a non-empty list of non-empty lists of LAYERs, each run on the block's
                     input; their outputs (all the same size) are concatenated on channels
``residual``         ``body``: a non-empty list of LAYERs run on the block's input, whose output (of the
                     input's shape) is added to the input
``scale``            ``body``: a non-empty list of LAYERs run on the block's input, ending at 1 x 1 x C; the
                     input is multiplied by it channel by channel (squeeze-and-excite)
``graph``            ``nodes``: a non-empty list of LAYERs in execution order; ``inputs`` ([]): one list of
                     names per node, each "input" (the graph's input) or an earlier node's name; an empty
                     list (or no ``inputs`` at all) reads the previous node. The output is the last node.
``sum``              ``activation`` (null): the elementwise sum of its named inputs (only in a graph)
``cat``              none: its named inputs concatenated on channels (only in a graph)
``channel_slice``    ``start``, ``stop`` (integers, 0 <= start < stop <= channels)
``channel_shuffle``  ``groups`` (integer >= 1, dividing the channels)
``batch_norm_act``   ``channels``; ``batch_norm`` (true); ``activation`` ("relu"); ``bn_scale`` (true);
                     ``bn_epsilon`` (1e-05): a standalone batch norm and/or activation
``zero``             none: zeros of the input's shape (NAS-Bench-201's "none" edge)
``add``, ``mul``     never written: the elementwise sum and product that end every residual and scale block
                     are derived from the block (a document that writes one is refused, as a network would)
===================  =========================================================================================

Integers are JSON integers (not ``1.0``, not ``true``). Validation names the layer and the field; a
malformed document raises :class:`~costmodel.errors.DataError`, an inconsistent network (channels that do
not chain, groups that do not divide, a map that shrinks to nothing) :class:`~costmodel.errors.SpecError`.
Documents are bounded: at most :data:`MAX_DOCUMENT_BYTES` of JSON text, :data:`MAX_LAYERS` layers (nested
included), :data:`MAX_DEPTH` levels of nested blocks and integers up to :data:`MAX_INT`.

>>> from costmodel import Network, mobilenet_v1
>>> doc = mobilenet_v1(0.5, 160).to_dict()
>>> doc["layers"][1]  # doctest: +NORMALIZE_WHITESPACE
{'type': 'conv2d', 'name': 'conv_dw_1', 'in_ch': 16, 'out_ch': 16, 'kernel': 3, 'stride': 1,
 'groups': 16, 'padding': 'tf_same', 'bias': False, 'batch_norm': True, 'activation': 'relu',
 'bn_scale': True, 'bn_epsilon': 0.001, 'pytorch': 'modules'}
>>> Network.from_dict(doc)["conv_pw_13"].out_size
5
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any

from .._files import check_input
from ..checks import load_json
from ..errors import DataError
from .layers import (
    ACTIVATIONS,
    CONV_PYTORCH,
    POOL_PYTORCH,
    AdaptiveAvgPool,
    Add,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
)

__all__ = [
    "SCHEMA",
    "LAYER_TYPES",
    "MAX_DOCUMENT_BYTES",
    "MAX_LAYERS",
    "MAX_DEPTH",
    "MAX_INT",
    "parse_document",
    "network_document",
    "parse_json",
    "read_document",
]

SCHEMA = "costmodel.network/1"
MAX_DOCUMENT_BYTES = 1_000_000  # JSON text; a 28-layer MobileNet is about 6 kB
MAX_LAYERS = 10_000  # layers in a document, sub-layers of blocks included
MAX_DEPTH = 8  # blocks nested in blocks
MAX_INT = 2**31 - 1  # any integer field
MAX_NAME_LENGTH = 200

#: JSON ``type`` names and the layer classes they build.
LAYER_TYPES: dict[str, type] = {
    "conv2d": Conv2d,
    "pool2d": Pool2d,
    "global_avg_pool": GlobalAvgPool,
    "adaptive_avg_pool": AdaptiveAvgPool,
    "linear": Linear,
    "softmax": Softmax,
    "concat": Concat,
    "residual": Residual,
    "scale": Scale,
    "add": Add,  # named so that every layer type has a JSON name; never written (they end blocks)
    "mul": Mul,
    "graph": Graph,
    "sum": Sum,
    "cat": Cat,
    "channel_slice": ChannelSlice,
    "channel_shuffle": ChannelShuffle,
    "batch_norm_act": BatchNormAct,
    "zero": Zero,
}
_TYPE_NAMES = {cls: name for name, cls in LAYER_TYPES.items()}

# The JSON kind of every layer field (the layer classes check the values themselves).
_INT_FIELDS = {"in_ch", "out_ch", "kernel", "stride", "groups", "in_features", "out_features", "output_size"}
_INT_FIELDS |= {"channels", "start", "stop"}  # BatchNormAct, ChannelSlice
_BOOL_FIELDS = {"bias", "batch_norm", "ceil_mode", "bn_scale"}
_TOP_KEYS = {"schema", "name", "input_size", "in_ch", "config", "layers"}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: object, where: str, field: str) -> None:
    if not _is_int(value):
        raise DataError(f"{where}: field {field!r} must be an integer, got {_show(value)}")
    if abs(value) > MAX_INT:  # type: ignore[arg-type]
        raise DataError(f"{where}: field {field!r} is out of range (|value| <= {MAX_INT}), got {value}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_field(cls: type, field: str, value: object, where: str) -> None:
    if field in _INT_FIELDS:
        _check_int(value, where, field)
    elif field in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise DataError(f"{where}: field {field!r} must be true or false, got {_show(value)}")
    elif field == "padding":
        pair = isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)
        if value not in ("tf_same", "same") and not _is_int(value) and not pair:
            raise DataError(
                f"{where}: field 'padding' must be \"tf_same\", an integer or [before, after], got {_show(value)}"
            )
        values: list[object] = list(value) if pair else [value] if _is_int(value) else []  # type: ignore[call-overload]
        for v in values:
            _check_int(v, where, field)
    elif field == "bn_epsilon":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise DataError(f"{where}: field 'bn_epsilon' must be a number in (0, 1), got {_show(value)}")
    elif field == "activation":
        if value not in ACTIVATIONS:
            raise DataError(f"{where}: field 'activation' must be one of {ACTIVATIONS}, got {_show(value)}")
    elif field == "pytorch":
        choices = CONV_PYTORCH if cls in (Conv2d, BatchNormAct) else POOL_PYTORCH
        if value not in choices:
            raise DataError(f"{where}: field 'pytorch' must be one of {choices}, got {_show(value)}")
    elif field == "mode" and value not in ("avg", "max"):
        raise DataError(f'{where}: field \'mode\' must be "avg" or "max", got {_show(value)}')


class _Budget:
    """Counts layers while a document is decoded, so an oversized one fails early."""

    def __init__(self) -> None:
        self.layers = 0

    def take(self, where: str) -> None:
        self.layers += 1
        if self.layers > MAX_LAYERS:
            raise DataError(f"{where}: too many layers (the limit is {MAX_LAYERS})")


def _layer_from_dict(doc: object, where: str, depth: int, budget: _Budget) -> Any:
    budget.take(where)
    if not isinstance(doc, Mapping):
        raise DataError(f"{where}: a layer must be an object, got {_show(doc)}")
    kind = doc.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        raise DataError(f"{where}: field 'type' must be one of {', '.join(LAYER_TYPES)}, got {_show(kind)}")
    name = doc.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise DataError(
            f"{where}: field 'name' must be a non-empty string of at most {MAX_NAME_LENGTH} printable characters "
            f"(no control characters or line breaks), got {_show(name)}"
        )
    where = f"{where} {name!r}"
    cls = LAYER_TYPES[kind]
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(str(k) for k in doc if k != "type" and k not in known)
    if unknown:
        raise DataError(f"{where} ({kind}): unknown field(s) {', '.join(map(repr, unknown))}")
    missing = [f.name for f in known.values() if f.name not in doc and f.default is MISSING]
    if missing:
        raise DataError(f"{where} ({kind}): missing field(s) {', '.join(map(repr, missing))}")
    kwargs: dict[str, Any] = {}
    for field, value in doc.items():
        if field in ("type", "name"):
            continue
        if field == "branches":
            kwargs[field] = _branches_from_list(value, where, depth, budget)
            continue
        if field in ("body", "nodes"):
            kwargs[field] = _branches_from_list([value], where, depth, budget, field)[0]
            continue
        if field == "inputs":
            kwargs[field] = _inputs_from_list(value, where)
            continue
        _check_field(cls, field, value, where)
        kwargs[field] = value
    return cls(name=name, **kwargs)


def _branches_from_list(
    value: object, where: str, depth: int, budget: _Budget, field: str = "branches"
) -> tuple[tuple[Any, ...], ...]:
    """Decode a block's branches (or, with ``field="body"``, a one-element list holding its body)."""
    if depth >= MAX_DEPTH:
        raise DataError(f"{where}: blocks nested more than {MAX_DEPTH} deep")
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: field 'branches' must be a non-empty list of layer lists, got {_show(value)}")
    out = []
    for i, branch in enumerate(value):
        label = field if field in ("body", "nodes") else f"branches[{i}]"
        if not isinstance(branch, list) or not branch:
            raise DataError(f"{where}: {label} must be a non-empty list of layers, got {_show(branch)}")
        out.append(
            tuple(_layer_from_dict(sub, f"{where} {label}[{j}]", depth + 1, budget) for j, sub in enumerate(branch))
        )
    return tuple(out)


def _inputs_from_list(value: object, where: str) -> tuple[tuple[str, ...], ...]:
    """Decode a graph's ``inputs``: a list of lists of names (the graph checks that the names resolve)."""
    if not isinstance(value, list) or not all(
        isinstance(names, list) and all(isinstance(n, str) for n in names) for names in value
    ):
        raise DataError(f"{where}: field 'inputs' must be a list of lists of node names, got {_show(value)}")
    return tuple(tuple(names) for names in value)


def parse_document(document: object) -> dict[str, Any]:
    """Check a document (see the module docstring for the schema) and build its layers: the keyword arguments
    of :class:`~costmodel.spec.network.Network` (``layers``, ``input_size``, ``in_ch``, ``name``, ``config``).
    ``Network.from_dict`` builds the network from them; this module does not import the network class.

    Raises
    ------
    DataError
        Malformed: not an object, unknown or missing keys, wrong JSON types, unknown layer type, over a size
        limit. The message names the layer (index and name) and the field.
    SpecError
        Well-formed but inconsistent: channels that do not chain, groups that do not divide the channels,
        non-positive sizes, a feature map that shrinks to nothing, duplicate names.
    """
    if not isinstance(document, Mapping):
        raise DataError(f"a network document must be a JSON object, got {_show(document)}")
    unknown = sorted(str(k) for k in document if k not in _TOP_KEYS)
    if unknown:
        raise DataError(f"network document: unknown key(s) {', '.join(map(repr, unknown))}")
    schema = document.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise DataError(f"network document: schema must be {SCHEMA!r}, got {_show(schema)}")
    name = document.get("name", "network")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise DataError(
            f"network document: 'name' must be a string of at most {MAX_NAME_LENGTH} printable characters "
            f"(no control characters or line breaks), got {_show(name)}"
        )
    if "input_size" not in document:
        raise DataError("network document: missing key 'input_size'")
    _check_int(document["input_size"], "network document", "input_size")
    in_ch = document.get("in_ch", 3)
    _check_int(in_ch, "network document", "in_ch")
    config = document.get("config", {})
    if not isinstance(config, Mapping):
        raise DataError(f"network document: 'config' must be an object, got {_show(config)}")
    layers = document.get("layers")
    if not isinstance(layers, list) or not layers:
        raise DataError(f"network document: 'layers' must be a non-empty list, got {_show(layers)}")
    budget = _Budget()
    built = [_layer_from_dict(layer, f"layers[{i}]", 0, budget) for i, layer in enumerate(layers)]
    return {"layers": built, "input_size": document["input_size"], "in_ch": in_ch, "name": name, "config": dict(config)}


def _layer_to_dict(layer: object) -> dict[str, Any]:
    cls = type(layer)
    if cls not in _TYPE_NAMES:
        raise DataError(f"{getattr(layer, 'name', layer)!r}: layer type {cls.__name__} has no JSON form")
    out: dict[str, Any] = {"type": _TYPE_NAMES[cls]}
    for f in fields(layer):  # type: ignore[arg-type]  # every layer type is a dataclass
        value = getattr(layer, f.name)
        if f.name == "branches":
            value = [[_layer_to_dict(sub) for sub in branch] for branch in value]
        elif f.name in ("body", "nodes"):
            value = [_layer_to_dict(sub) for sub in value]
        elif f.name == "inputs":
            value = [list(names) for names in value]
        elif isinstance(value, tuple):  # an explicit (before, after) padding
            value = list(value)
        out[f.name] = value
    return out


def network_document(network: Any) -> dict[str, Any]:
    """A network as a JSON-compatible document; every field is written out, defaults included."""
    return {
        "schema": SCHEMA,
        "name": network.name,
        "input_size": network.input_size,
        "in_ch": network.in_ch,
        "config": _json_config(network.config),
        "layers": [_layer_to_dict(layer) for layer in network.layers],
    }


def _json_config(config: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in config.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[str(key)] = value
    return out


def parse_json(text: str | bytes) -> Any:
    """Parse JSON text of at most :data:`MAX_DOCUMENT_BYTES` (the document is checked by :func:`parse_document`)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise DataError(f"JSON text must be str or bytes, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > MAX_DOCUMENT_BYTES:
        raise DataError(f"network document is {size:,} bytes; the limit is {MAX_DOCUMENT_BYTES:,}")
    return load_json(text, "network document", DataError)  # depth and number limits, strict


def read_document(path: str | os.PathLike[str]) -> Any:
    """Read and parse a JSON document from a file (checked against :data:`MAX_DOCUMENT_BYTES` before reading)."""
    check_input(path, "network document", DataError, MAX_DOCUMENT_BYTES)  # a folder, FIFO or device: refused
    try:
        with open(path, "rb") as fh:
            text = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise DataError(f"cannot read network document {os.fspath(path)!r}: {exc.strerror}") from None
    return parse_json(text)
