"""Memory accounting from the spec: activation and weight elements and bytes per layer, peak live memory.

Conventions (stated once, here):

- Activations are NHWC tensors of one image (batch 1); bytes = elements x the dtype's size.
- Weights are what an inference runtime stores: conv/FC weights plus one bias per output channel for a layer
  that has a bias *or* a batch norm (batch norm folded into the preceding convolution's weights and bias).
- Layers run one after another; while a layer runs, its input and its output are live, so the peak live
  activation memory is ``max(input + output)`` over layers. Traffic is the sum of inputs and outputs read and
  written (each layer reads its input once and writes its output once).
- A multi-branch block (:class:`~costmodel.spec.layers.Concat`) runs its branches one after another, each branch
  writing its result straight into its slice of the block's output, so the concatenation copies nothing.
  While a sub-layer runs, the block's input (needed by the branches still to come), the block's output and
  the sub-layer's own input and output are live; the first sub-layer of a branch reads the block's input and
  the last one writes into the block's output, so they add nothing of their own. A block's traffic is its
  sub-layers' traffic.
- A residual block (:class:`~costmodel.spec.layers.Residual`) runs its body on the block's input, which stays live
  until the addition. While a body layer runs, the block's input and the layer's own input and output are
  live. The addition (the block's :class:`~costmodel.spec.layers.Add`) is a pass of its own: it reads the body's
  output and the block's input and writes the sum in place over the body's output (live: the two operands;
  traffic: three maps).
- A scale block (:class:`~costmodel.spec.layers.Scale`, squeeze-and-excite) keeps its input live while the body
  computes one factor per channel; its :class:`~costmodel.spec.layers.Mul` reads the input and the C factors
  and writes a new map (live and traffic: two maps and C factors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from .._hooks import table as _table
from ..checks import dump_json
from ..errors import SpecError
from ..spec.layers import (
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
    conv_weight_shape,
    linear_weight_shape,
)
from ..spec.network import Network, Node

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DTYPE_BYTES",
    "LayerMemory",
    "NetworkMemory",
    "dtype_bytes",
    "layer_memory",
    "memory_rule",
    "memory",
    "weight_elements",
]

#: Bytes per element of the dtypes the reports know.
DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "int8": 1}


def dtype_bytes(dtype: str) -> int:
    """Size in bytes of one element of ``dtype`` ("float32", "float16" or "int8")."""
    try:
        return DTYPE_BYTES[dtype]
    except (KeyError, TypeError):
        raise SpecError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPE_BYTES)}") from None


@singledispatch
def weight_elements(layer: object) -> int:
    """Elements an inference runtime stores for the layer (batch norm folded into weights and bias)."""
    raise SpecError(f"no memory rule for layer type {type(layer).__name__}")


@weight_elements.register
def _(layer: Conv2d) -> int:
    return math.prod(conv_weight_shape(layer)) + (layer.out_ch if layer.bias or layer.batch_norm else 0)


@weight_elements.register
def _(layer: Linear) -> int:
    return math.prod(linear_weight_shape(layer)) + (layer.out_features if layer.bias else 0)


@weight_elements.register(Pool2d)
@weight_elements.register(GlobalAvgPool)
@weight_elements.register(AdaptiveAvgPool)
@weight_elements.register(Softmax)
@weight_elements.register(Add)
@weight_elements.register(Mul)
@weight_elements.register(Sum)
@weight_elements.register(Cat)
@weight_elements.register(ChannelSlice)
@weight_elements.register(ChannelShuffle)
@weight_elements.register(Zero)
def _(layer: object) -> int:
    return 0


@weight_elements.register
def _(layer: BatchNormAct) -> int:
    return 2 * layer.channels if layer.batch_norm else 0  # the folded scale and shift


@weight_elements.register
def _(layer: Graph) -> int:
    return sum(weight_elements(sub) for sub in layer.nodes)


@weight_elements.register(Concat)
@weight_elements.register(Residual)
@weight_elements.register(Scale)
def _(layer: Concat | Residual | Scale) -> int:
    return sum(weight_elements(sub) for branch in layer.branches for sub in branch)


@dataclass(frozen=True, slots=True)
class LayerMemory:
    """One layer's elements; multiply by :func:`dtype_bytes` for bytes."""

    name: str
    input_elements: int
    output_elements: int
    weight_elements: int
    live_elements: int = 0  # peak live activations while the layer runs (input + output for a plain layer)
    traffic_elements: int = 0  # activations read and written (input + output for a plain layer)
    parts: tuple[LayerMemory, ...] = ()  # a block's sub-layers

    def bytes(self, dtype: str = "float32") -> tuple[int, int, int]:
        """(input_bytes, output_bytes, weight_bytes) at ``dtype``."""
        b = dtype_bytes(dtype)
        return self.input_elements * b, self.output_elements * b, self.weight_elements * b


@singledispatch
def memory_rule(layer: object, node: Node) -> LayerMemory:
    """One placed layer's memory: the rule per layer type (plain layers alike; blocks by how they join)."""
    raise SpecError(f"{node.name}: no memory rule for layer type {type(layer).__name__}")


def layer_memory(node: Node) -> LayerMemory:
    """Elements of one placed layer's input, output and stored weights, and its peak live activations."""
    return memory_rule(node.layer, node)


def _elements(node: Node) -> tuple[int, int]:
    return node.in_ch * node.in_size * node.in_size, node.out_ch * node.out_size * node.out_size


@memory_rule.register(Conv2d)
@memory_rule.register(Pool2d)
@memory_rule.register(GlobalAvgPool)
@memory_rule.register(AdaptiveAvgPool)
@memory_rule.register(Linear)
@memory_rule.register(Softmax)
@memory_rule.register(Cat)
@memory_rule.register(ChannelSlice)
@memory_rule.register(ChannelShuffle)
@memory_rule.register(BatchNormAct)
@memory_rule.register(Zero)
def _(layer: object, node: Node) -> LayerMemory:
    in_elems, out_elems = _elements(node)  # input and output live together; each is read or written once
    return LayerMemory(
        node.name, in_elems, out_elems, weight_elements(layer), in_elems + out_elems, in_elems + out_elems
    )


def _block(node: Node, output_live_from_start: bool) -> LayerMemory:
    in_elems, out_elems = _elements(node)
    live, traffic, rows = 0, 0, []
    for branch in node.branches:
        last = len(branch) - 1
        for j, sub in enumerate(branch):
            row = layer_memory(sub)
            rows.append(row)
            traffic += row.traffic_elements
            own = row.live_elements - (row.input_elements if j == 0 else 0)
            if output_live_from_start:
                own += out_elems - (row.output_elements if j == last else 0)
            live = max(live, in_elems + own)
    if node.merge is not None:  # the Add or Mul: its own row counts the block's input among its operands
        row = layer_memory(node.merge)
        rows.append(row)
        traffic += row.traffic_elements
        live = max(live, row.live_elements)
    return LayerMemory(node.name, in_elems, out_elems, weight_elements(node.layer), live, traffic, tuple(rows))


@memory_rule.register
def _(layer: Concat, node: Node) -> LayerMemory:
    return _block(node, output_live_from_start=True)  # the branches write into the concatenated buffer


@memory_rule.register(Residual)
@memory_rule.register(Scale)
def _(layer: object, node: Node) -> LayerMemory:
    return _block(node, output_live_from_start=False)  # the sum or product is formed at the end


@memory_rule.register
def _(layer: Add, node: Node) -> LayerMemory:
    x = node.out_ch * node.out_size * node.out_size  # block input, body output and sum: one map each
    return LayerMemory(node.name, x, x, 0, 2 * x, 3 * x)  # the sum overwrites the body's output


@memory_rule.register
def _(layer: Mul, node: Node) -> LayerMemory:
    x, factors = node.out_ch * node.out_size * node.out_size, node.out_ch  # the factors: the body's 1x1xC
    return LayerMemory(node.name, x, x, 0, 2 * x + factors, 2 * x + factors)


@memory_rule.register
def _(layer: Sum, node: Node) -> LayerMemory:
    x, k = node.out_ch * node.out_size * node.out_size, len(node.sources)  # k maps in, a new one out
    return LayerMemory(node.name, k * x, x, 0, (k + 1) * x, (k + 1) * x)


@memory_rule.register
def _(layer: Graph, node: Node) -> LayerMemory:
    (nodes,) = node.branches
    in_elems, out_elems = _elements(node)
    last = len(nodes) - 1
    reads = [set(n.sources) for n in nodes]
    last_read = {-1: -1}  # tensor -> the last node reading it (-1: the graph's input, made "before" node 0)
    for i, sources in enumerate(reads):
        for j in sources:
            last_read[j] = i
    last_read[last] = last + 1  # the output lives on
    size = {-1: in_elems}
    held = in_elems if last_read[-1] >= 0 else 0  # tensors made so far and still to be read
    rows, live, traffic = [], 0, 0
    rules: dict[type, Any] = {}
    for i, (n, sources) in enumerate(zip(nodes, reads, strict=True)):
        cls = type(n.layer)
        rule = rules.get(cls) or rules.setdefault(cls, memory_rule.dispatch(cls))
        row = rule(n.layer, n)
        rows.append(row)
        traffic += row.traffic_elements
        others = held  # every other tensor still to be read: its own inputs are in its row
        for j in sources:
            others -= size[j]
            if last_read[j] == i:  # read for the last time: freed after this node
                held -= size[j]
        live = max(live, row.live_elements + others)
        size[i] = n.out_ch * n.out_size * n.out_size
        if last_read.get(i, -1) > i:
            held += size[i]
    return LayerMemory(node.name, in_elems, out_elems, weight_elements(layer), live, traffic, tuple(rows))


@dataclass(frozen=True, slots=True)
class NetworkMemory:
    """Whole-network memory in elements (batch 1): per-layer rows and the figures derived from them."""

    layers: tuple[LayerMemory, ...]
    weight_elements: int
    peak_live_elements: int  # max over layers of input + output, layers run one after another
    peak_layer: str  # the layer where the peak occurs (the first one, on ties)
    traffic_elements: int  # sum over layers of input + output

    def table(self) -> pd.DataFrame:
        """One row per layer (pandas DataFrame), built by :func:`costmodel.report.tables.memory_table`."""
        return _table(self)

    def bytes(self, dtype: str = "float32") -> dict[str, int]:
        b = dtype_bytes(dtype)
        return {
            "weight_bytes": self.weight_elements * b,
            "peak_live_bytes": self.peak_live_elements * b,
            "traffic_bytes": self.traffic_elements * b,
        }

    def to_dict(self, dtype: str = "float32", layers: bool = False) -> dict[str, Any]:
        """A small JSON-compatible record: the totals in elements and in bytes at ``dtype``, the peak layer, and
        with ``layers=True`` one row per layer (name and elements: input, output, weights, live, traffic).

        >>> from costmodel import mobilenet_v1
        >>> memory(mobilenet_v1()).to_dict()["peak_live_bytes"]
        4816896
        """
        out: dict[str, Any] = {
            "dtype": dtype,
            "weight_elements": self.weight_elements,
            "peak_live_elements": self.peak_live_elements,
            "peak_layer": self.peak_layer,
            "traffic_elements": self.traffic_elements,
            **self.bytes(dtype),
        }
        if layers:
            out["layers"] = [
                {
                    "name": row.name,
                    "input_elements": row.input_elements,
                    "output_elements": row.output_elements,
                    "weight_elements": row.weight_elements,
                    "live_elements": row.live_elements,
                    "traffic_elements": row.traffic_elements,
                }
                for row in self.layers
            ]
        return out

    def to_json(self, dtype: str = "float32", layers: bool = False, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string."""
        return dump_json(self.to_dict(dtype, layers), indent=indent)


def memory(network: Network) -> NetworkMemory:
    """Memory accounting of ``network``.

    Examples
    --------
    >>> from costmodel import mobilenet_v1
    >>> m = memory(mobilenet_v1())
    >>> m.peak_live_elements, m.peak_layer
    (1204224, 'conv_pw_1')
    """
    rows = tuple(layer_memory(node) for node in network.nodes)
    live = [r.live_elements for r in rows]
    peak = max(live)
    return NetworkMemory(
        rows,
        sum(r.weight_elements for r in rows),
        peak,
        rows[live.index(peak)].name,
        sum(r.traffic_elements for r in rows),
    )
