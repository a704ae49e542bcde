"""Costs by data type: bytes of weights and activations, peak memory and bit operations at float32, float16, int8.

Conventions (stated once, here):

- **What each data type stores.** ``"float32"`` and ``"float16"``: weights, biases and activations all at that
  width (float16 as a GPU or an fp16 CPU path runs it: the arithmetic is 16-bit too). ``"int8"``: TFLite's
  quantisation specification (https://ai.google.dev/edge/litert/models/quantization_spec): weights int8, biases
  int32, activations int8 (the int32 accumulators live in registers and are not stored). Scales and zero points
  (a few bytes per channel) are not counted.
- **Weights** are what an inference runtime stores, batch norm folded: the kernel (the one weight-count rule,
  :func:`costmodel.spec.layers.weight_shape`) plus one bias per output channel for a layer with a bias or a
  batch norm (:func:`costmodel.counting.memory.weight_elements`). The bytes of a ``.tflite`` file's constant
  tensors are these, and ``tests/test_dtypes.py`` checks them against the files
  :func:`costmodel.reference.tflite_export.export_tflite` writes.
- **Activations**: each layer's input and output, one image (batch 1), at the activation width. The peak live
  activation memory is :func:`costmodel.counting.memory.memory`'s peak (in elements) at the activation width;
  the peak memory is that plus every weight byte (an interpreter keeps all weights resident).
- **Bit operations** follow qonnx's inference-cost convention: BOPs = Mult-Adds x weight bits x activation bits,
  with the Mult-Adds of the paper's convention (:func:`costmodel.counting.engine.weights_cost`: convolutions and
  fully connected layers; pooling, additions and the softmax have none). int8 BOPs are 8 x 8 = 64 per Mult-Add,
  float32's 32 x 32 = 1024.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._hooks import table as _table
from ..checks import dump_json
from ..errors import SpecError
from ..spec.layers import weight_shape
from ..spec.network import Network
from .engine import weights_cost
from .kinds import layer_kind
from .memory import layer_memory, memory, weight_elements

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DataType", "DATA_TYPES", "data_type", "LayerDtypeCost", "DtypeCost", "dtype_cost"]


@dataclass(frozen=True, slots=True)
class DataType:
    """The widths, in bits, at which one data type stores each kind of tensor."""

    name: str
    weight_bits: int
    bias_bits: int
    activation_bits: int


#: The data types costs are counted at. int8 is TFLite's quantisation specification (int32 biases).
DATA_TYPES: dict[str, DataType] = {
    "float32": DataType("float32", 32, 32, 32),
    "float16": DataType("float16", 16, 16, 16),
    "int8": DataType("int8", 8, 32, 8),
}


def data_type(dtype: str | DataType) -> DataType:
    """The :class:`DataType` called ``dtype`` ("float32", "float16" or "int8"), or a SpecError naming it."""
    if isinstance(dtype, DataType):
        return dtype
    try:
        return DATA_TYPES[dtype]
    except (KeyError, TypeError):
        raise SpecError(f"unknown dtype {dtype!r}; choose from {', '.join(DATA_TYPES)}") from None


@dataclass(frozen=True, slots=True)
class LayerDtypeCost:
    """One layer's (a leaf: blocks are expanded) costs at one data type. Elements and bytes are exact integers."""

    name: str
    kind: str
    mult_adds: int
    kernel_elements: int  # the conv or FC kernel (weight_bits each)
    bias_elements: int  # one per output channel with a bias or a folded batch norm (bias_bits each)
    weight_bytes: int  # kernel and bias bytes
    input_bytes: int
    output_bytes: int
    bops: int  # mult_adds x weight bits x activation bits


@dataclass(frozen=True, slots=True, eq=False)
class DtypeCost:
    """A whole network's costs at one data type: per-layer rows (blocks expanded) and their totals."""

    network: Network
    dtype: DataType
    layers: tuple[LayerDtypeCost, ...]
    mult_adds: int
    weight_bytes: int
    peak_live_activation_bytes: int  # the memory model's peak live activations, at the activation width
    peak_layer: str
    activation_traffic_bytes: int  # activations read and written by the layers, at the activation width
    bops: int

    @property
    def peak_memory_bytes(self) -> int:
        """Every weight byte plus the peak live activations (an interpreter keeps all weights resident)."""
        return self.weight_bytes + self.peak_live_activation_bytes

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        """A JSON-compatible record of the totals (and with ``layers=True`` one row per layer).

        >>> from costmodel import mobilenet_v1
        >>> d = dtype_cost(mobilenet_v1(), "int8").to_dict()
        >>> d["bops"] == 568740352 * 64, d["weight_bytes"]
        (True, 4256864)
        """
        t = self.dtype
        out: dict[str, Any] = {
            "network": self.network.name,
            "dtype": t.name,
            "weight_bits": t.weight_bits,
            "bias_bits": t.bias_bits,
            "activation_bits": t.activation_bits,
            "mult_adds": self.mult_adds,
            "bops": self.bops,
            "weight_bytes": self.weight_bytes,
            "peak_live_activation_bytes": self.peak_live_activation_bytes,
            "peak_layer": self.peak_layer,
            "peak_memory_bytes": self.peak_memory_bytes,
            "activation_traffic_bytes": self.activation_traffic_bytes,
        }
        if layers:
            out["layers"] = [
                {f: getattr(row, f) for f in LayerDtypeCost.__slots__}  # type: ignore[attr-defined]
                for row in self.layers
            ]
        return out

    def to_json(self, layers: bool = False, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string."""
        return dump_json(self.to_dict(layers), indent=indent)

    def table(self) -> pd.DataFrame:
        """One row per layer (pandas DataFrame), built by :func:`costmodel.report.tables.dtype_cost_table`."""
        return _table(self)  # through the one hook (costmodel._hooks)

    def __repr__(self) -> str:
        return (
            f"DtypeCost({self.network.name!r}, dtype={self.dtype.name!r}, weight_bytes={self.weight_bytes:,}, "
            f"peak_memory_bytes={self.peak_memory_bytes:,}, bops={self.bops:,})"
        )


def _bits_to_bytes(elements: int, bits: int) -> int:
    return elements * bits // 8  # every width here is a whole number of bytes


def dtype_cost(network: Network, dtype: str | DataType = "float32") -> DtypeCost:
    """Bytes of weights and activations, peak memory and BOPs of ``network`` at ``dtype``, per layer and in total.

    Parameters
    ----------
    network : Network
    dtype : {"float32", "float16", "int8"} or DataType
        int8 is TFLite's scheme: int8 weights and activations, int32 biases.

    Examples
    --------
    >>> from costmodel import mobilenet_v1
    >>> c = dtype_cost(mobilenet_v1(0.25, 128, num_classes=10), "int8")
    >>> c.bops == c.mult_adds * 8 * 8, c.peak_live_activation_bytes
    (True, 98304)
    """
    if not isinstance(network, Network):
        raise SpecError(f"dtype_cost() needs a Network, got {type(network).__name__}")
    t = data_type(dtype)
    mem = memory(network)
    rows = []
    for node in network.leaves():
        layer = node.layer
        _, mult_adds = weights_cost(layer, node)
        shape = weight_shape(layer)
        kernel = math.prod(shape) if shape is not None else 0
        bias = weight_elements(layer) - kernel
        lm = layer_memory(node)
        rows.append(
            LayerDtypeCost(
                node.name,
                layer_kind(layer),
                mult_adds,
                kernel,
                bias,
                _bits_to_bytes(kernel, t.weight_bits) + _bits_to_bytes(bias, t.bias_bits),
                _bits_to_bytes(lm.input_elements, t.activation_bits),
                _bits_to_bytes(lm.output_elements, t.activation_bits),
                mult_adds * t.weight_bits * t.activation_bits,
            )
        )
    return DtypeCost(
        network,
        t,
        tuple(rows),
        sum(r.mult_adds for r in rows),
        sum(r.weight_bytes for r in rows),
        _bits_to_bytes(mem.peak_live_elements, t.activation_bits),
        mem.peak_layer,
        _bits_to_bytes(mem.traffic_elements, t.activation_bits),
        sum(r.bops for r in rows),
    )
