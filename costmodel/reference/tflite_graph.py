"""A network lowered to TFLite's operators, and its int8 quantisation: what :mod:`.tflite_export` writes and
:mod:`.int8` runs.

Lowering (:func:`lower`) turns each layer into the operator the TFLite converter makes of it, NHWC, batch 1:

- a convolution into ``CONV_2D`` (weights OHWI) or, when depthwise, ``DEPTHWISE_CONV_2D`` (weights 1HWC,
  depth multiplier 1), batch norm folded into its weights and bias
  (:func:`~costmodel.reference.kernels.fold_batch_norm`, as the executor folds it) and ReLU or ReLU6 fused;
- a padding TFLite's ``SAME`` or ``VALID`` gives is written as such; any other (PyTorch's symmetric ``padding=1``
  at a stride of 2, for one) becomes a ``PAD`` before a ``VALID`` convolution;
- average or max pooling into ``AVERAGE_POOL_2D`` / ``MAX_POOL_2D`` (``SAME`` averages count only the input's
  elements, as TF's do; a max ignores its padding), global and adaptive average pooling into
  ``AVERAGE_POOL_2D`` with the window the map divides into;
- a fully connected layer into ``RESHAPE`` (to (1, features), NHWC order as the spec flattens) then
  ``FULLY_CONNECTED`` (weights (out, in));
- a residual block's addition into ``ADD``, a concatenation's branches into their operators and
  ``CONCATENATION`` on channels;
- float32 only: h-swish into ``HARD_SWISH``, sigmoid into ``LOGISTIC``, SiLU into ``LOGISTIC`` and ``MUL``,
  h-sigmoid into ``ADD`` 3 (ReLU6 fused) and ``MUL`` 1/6, a squeeze-and-excite block's scaling into a
  broadcasting ``MUL`` (MobileNetV3, EfficientNet);
- a softmax at the end is left out unless asked for (float32 only): the model's output is the logits, as
  :func:`~costmodel.reference.forward` returns them (a convolutional classifier's 1 x 1 x classes map is
  reshaped to (1, classes), ``"logits"``).

Anything else (grouped convolutions, PyTorch's averages over padding, adaptive pooling with uneven windows,
and in int8 the float32-only operators) is an :class:`~costmodel.errors.SpecError` naming the layer.

Quantisation (:func:`quantize`) follows TFLite's int8 specification
(https://ai.google.dev/edge/litert/models/quantization_spec): weights int8 in [-127, 127], symmetric, per output
channel (the last axis for depthwise weights, the first for convolutions; fully connected weights per tensor, as
the converter writes them); activations int8, asymmetric, per tensor, their ranges from representative images
(:func:`activation_ranges`: the plain float reference's output of every layer) or given; biases int32 with scale
input scale x weight scale. Pooling, padding and reshaping keep their input's scale and zero point, and a
concatenation's inputs share its output's (the union of their ranges), as the specification requires. The
model's input and output are int8 (no ``QUANTIZE``/``DEQUANTIZE`` ops): quantise images with
:meth:`QuantizedGraph.quantize_input`, read logits with :meth:`QuantizedGraph.dequantize_output`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import singledispatch

import numpy as np

from ..checks import boolean
from ..errors import InputError, SpecError
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
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
    explicit_padding,
    same_padding,
)
from ..spec.layers import Graph as GraphBlock  # this module's Graph is the lowered TFLite graph
from ..spec.network import Network, Node
from . import kernels as K
from .plain import check_images, plain_kernel
from .weights import validate_weights

__all__ = [
    "GraphOp",
    "Graph",
    "lower",
    "lower_layer",
    "activation_ranges",
    "Quant",
    "QuantizedGraph",
    "quantize",
    "tflite_round",
    "OP_KINDS",
    "FUSED_ACTIVATIONS",
    "FLOAT_ONLY",
]

#: The operators a lowered graph is made of.
OP_KINDS = ("conv", "depthwise", "avg_pool", "max_pool", "fc", "reshape", "add", "pad", "concat", "softmax",
            "hardswish", "logistic", "mul")  # fmt: skip

#: Operators written for float32 files only (no int8 rule here): :func:`quantize` refuses them.
FLOAT_ONLY = ("softmax", "hardswish", "logistic", "mul")

#: The activations TFLite fuses into an operator (``None`` is linear).
FUSED_ACTIVATIONS = (None, "relu", "relu6")

INPUT = "input"


@dataclass(frozen=True, slots=True, eq=False)
class GraphOp:
    """One TFLite operator: its inputs and output by tensor name, float32 weights in TFLite's layout."""

    kind: str  # one of OP_KINDS
    name: str  # the layer's name (a RESHAPE or PAD: "<layer>/flatten", "<layer>/pad")
    inputs: tuple[str, ...]
    output: str
    shape: tuple[int, ...]  # the output's shape, batch 1: (1, H, W, C) or (1, features)
    weight: np.ndarray | None = None  # conv (O, KH, KW, I); depthwise (1, KH, KW, C); fc (O, I)
    bias: np.ndarray | None = None  # (O,), or None for a layer with neither bias nor batch norm
    stride: int = 1
    kernel: int = 1  # the window (pools) or kernel size (convolutions)
    padding: str = "VALID"  # "SAME" or "VALID"
    activation: str | None = None  # fused: None, "relu" or "relu6"
    pads: tuple[int, int] = (0, 0)  # "pad": (before, after) rows and columns
    constant: np.ndarray | None = None  # "add" or "mul" of a float32 constant (h-sigmoid's + 3 and / 6)


@dataclass(frozen=True, slots=True, eq=False)
class Graph:
    """A network as TFLite operators, in execution order; tensors are named by the layers that write them."""

    network: Network
    ops: tuple[GraphOp, ...]
    input_shape: tuple[int, int, int, int]
    output: str
    input: str = INPUT

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every activation tensor's shape (batch 1)."""
        return {self.input: self.input_shape, **{op.output: op.shape for op in self.ops}}


class _Lowering:
    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        self.weights = weights
        self.ops: list[GraphOp] = []

    def add(self, op: GraphOp) -> str:
        self.ops.append(op)
        return op.output


def _conv_padding(node: Node, kernel: int, stride: int, padding: object) -> tuple[str, tuple[int, int] | None]:
    """TFLite's padding for a window: ("SAME" | "VALID", None), or ("VALID", (before, after)) to PAD first."""
    n, out = node.in_size, node.out_size
    if padding == "tf_same":
        return "SAME", None
    before, _ = explicit_padding(padding, n, kernel, stride)  # type: ignore[arg-type]
    if before == 0 and out == (n - kernel) // stride + 1:
        return "VALID", None
    if out == -(-n // stride) and before == same_padding(n, kernel, stride)[0]:
        return "SAME", None  # the windows read the same rows as TF's SAME
    after = max(0, (out - 1) * stride + kernel - n - before)
    return "VALID", (before, after)


@singledispatch
def lower_layer(layer: object, node: Node, x: str, g: _Lowering) -> str:
    """Append the operators of one placed layer reading tensor ``x``; return the tensor it writes. The rule per
    layer type (an explicit refusal for the types TFLite's int8 path is not written for here)."""
    raise SpecError(f"{node.name}: no TFLite lowering for {type(layer).__name__} (supported: {_SUPPORTED})")


@lower_layer.register(GraphBlock)
@lower_layer.register(Sum)
@lower_layer.register(Cat)
@lower_layer.register(ChannelSlice)
@lower_layer.register(ChannelShuffle)
@lower_layer.register(BatchNormAct)
@lower_layer.register(Zero)
def _(layer: object, node: Node, x: str, g: _Lowering) -> str:
    # An explicit refusal: graph blocks (ResNet, DenseNet, ShuffleNetV2, NAS-Bench-201 cells) are not lowered yet.
    raise SpecError(f"{node.name}: {type(layer).__name__} is not exported to TFLite yet (supported: {_SUPPORTED})")


def _body_then_merge(node: Node, x: str, g: _Lowering, kind: str) -> str:
    """A Residual's or Scale's body on the block's input ``x``, then its merge with ``x``: ADD (body + x) or MUL
    (x times the body's 1 x 1 x C output, broadcast)."""
    h = x
    for sub in node.branches[0]:
        h = lower_layer(sub.layer, sub, h, g)
    assert node.merge is not None
    merge = node.merge
    shape = (1, merge.out_size, merge.out_size, merge.out_ch)
    inputs = (h, x) if kind == "add" else (x, h)
    return g.add(GraphOp(kind, merge.name, inputs, merge.name, shape))


@lower_layer.register
def _(layer: Scale, node: Node, x: str, g: _Lowering) -> str:
    return _body_then_merge(node, x, g, "mul")  # (1, H, W, C) x (1, 1, 1, C)


@lower_layer.register
def _(layer: Mul, node: Node, x: str, g: _Lowering) -> str:
    raise SpecError(f"{node.name}: a Mul is lowered with its Scale block, never on its own")


@lower_layer.register
def _(layer: Add, node: Node, x: str, g: _Lowering) -> str:
    raise SpecError(f"{node.name}: an Add is lowered with its Residual block, never on its own")


@lower_layer.register
def _(layer: Softmax, node: Node, x: str, g: _Lowering) -> str:
    raise SpecError(f"{node.name}: a softmax other than the network's last layer has no lowering here")


_SUPPORTED = (
    "Conv2d (plain or depthwise), Pool2d, GlobalAvgPool, AdaptiveAvgPool to a divisor of the map, Linear, Residual, "
    "Concat, Scale, a final Softmax"
)


def _activation(layer: Conv2d | Linear) -> tuple[str | None, str | None]:
    """(fused, applied after): ReLU and ReLU6 fuse into the operator; h-swish, SiLU, sigmoid and h-sigmoid
    follow it as operators of their own (float32 files only)."""
    if layer.activation in FUSED_ACTIVATIONS:
        return layer.activation, None
    return None, layer.activation


def _post(g: _Lowering, name: str, pre: str, activation: str | None, shape: tuple[int, ...]) -> str:
    """The operators of an activation that does not fuse, from tensor ``pre`` to tensor ``name``."""
    if activation is None:
        return pre
    if activation == "hardswish":
        return g.add(GraphOp("hardswish", name, (pre,), name, shape))
    if activation == "sigmoid":
        return g.add(GraphOp("logistic", name, (pre,), name, shape))
    if activation == "silu":  # x * sigmoid(x)
        gate = g.add(GraphOp("logistic", f"{name}/sigmoid", (pre,), f"{name}/sigmoid", shape))
        return g.add(GraphOp("mul", name, (pre, gate), name, shape))
    if activation == "hardsigmoid":  # relu6(x + 3) / 6, as the converter writes PyTorch's
        three, sixth = np.full(1, 3.0, np.float32), np.full(1, 1 / 6, np.float32)
        plus = g.add(GraphOp("add", f"{name}/plus3", (pre,), f"{name}/plus3", shape, activation="relu6",
                             constant=three))  # fmt: skip
        return g.add(GraphOp("mul", name, (plus,), name, shape, constant=sixth))
    raise SpecError(f"{name}: activation {activation!r} has no TFLite lowering")


@lower_layer.register
def _(layer: Conv2d, node: Node, x: str, g: _Lowering) -> str:
    w = g.weights
    if layer.groups > 1 and not layer.depthwise:
        raise SpecError(f"{layer.name}: grouped convolutions (groups={layer.groups}) have no TFLite lowering here")
    activation, post = _activation(layer)
    kernel = w[f"{layer.name}/depthwise_kernel"][:, :, :, 0] if layer.depthwise else w[f"{layer.name}/kernel"]
    bias = w[f"{layer.name}/bias"] if layer.bias else None
    if layer.batch_norm:
        gamma = w[f"{layer.name}_bn/gamma"] if layer.bn_scale else np.ones(layer.out_ch, np.float32)
        beta, mean, variance = (w[f"{layer.name}_bn/{v}"] for v in ("beta", "moving_mean", "moving_variance"))
        kernel, bias = K.fold_batch_norm(kernel, bias, gamma, beta, mean, variance, epsilon=layer.bn_epsilon)
    padding, pads = _conv_padding(node, layer.kernel, layer.stride, layer.padding)
    if pads is not None:
        size = node.in_size + sum(pads)
        x = g.add(
            GraphOp("pad", f"{layer.name}/pad", (x,), f"{layer.name}/pad", (1, size, size, node.in_ch), pads=pads)
        )
    if layer.depthwise:
        weight = np.ascontiguousarray(kernel[None], np.float32)  # (K, K, C) -> (1, K, K, C)
        kind = "depthwise"
    else:
        weight = np.ascontiguousarray(np.transpose(kernel, (3, 0, 1, 2)), np.float32)  # HWIO -> OHWI
        kind = "conv"
    shape = (1, node.out_size, node.out_size, node.out_ch)
    bias = None if bias is None else np.asarray(bias, np.float32)
    out = layer.name if post is None else f"{layer.name}/linear"
    pre = g.add(GraphOp(kind, layer.name, (x,), out, shape, weight, bias, layer.stride, layer.kernel, padding,
                        activation))  # fmt: skip
    return _post(g, layer.name, pre, post, shape)


@lower_layer.register
def _(layer: Pool2d, node: Node, x: str, g: _Lowering) -> str:
    n, out = node.in_size, node.out_size
    padding, pads = _conv_padding(node, layer.kernel, layer.stride, layer.padding)
    if pads is not None or (layer.mode == "avg" and padding == "SAME" and layer.padding != "tf_same"):
        raise SpecError(
            f"{layer.name}: pooling with padding {layer.padding!r} on {n}x{n} (output {out}x{out}) is neither "
            "TFLite's SAME nor VALID (an average over PyTorch's zero padding has no TFLite form)"
        )
    kind = "avg_pool" if layer.mode == "avg" else "max_pool"
    shape = (1, out, out, node.out_ch)
    return g.add(GraphOp(kind, layer.name, (x,), layer.name, shape, stride=layer.stride, kernel=layer.kernel,
                         padding=padding))  # fmt: skip


@lower_layer.register(GlobalAvgPool)
@lower_layer.register(AdaptiveAvgPool)
def _(layer: GlobalAvgPool | AdaptiveAvgPool, node: Node, x: str, g: _Lowering) -> str:
    n, out = node.in_size, node.out_size
    if n % out:
        raise SpecError(
            f"{layer.name}: adaptive pooling from {n}x{n} to {out}x{out} has uneven windows; no TFLite lowering"
        )
    k = n // out
    shape = (1, out, out, node.out_ch)
    return g.add(GraphOp("avg_pool", layer.name, (x,), layer.name, shape, stride=k, kernel=k, padding="VALID"))


@lower_layer.register
def _(layer: Linear, node: Node, x: str, g: _Lowering) -> str:
    activation, post = _activation(layer)
    features = node.in_ch * node.in_size * node.in_size
    flat = g.add(GraphOp("reshape", f"{layer.name}/flatten", (x,), f"{layer.name}/flatten", (1, features)))
    weight = np.ascontiguousarray(g.weights[f"{layer.name}/kernel"].T, np.float32)  # (in, out) -> (out, in)
    bias = np.asarray(g.weights[f"{layer.name}/bias"], np.float32) if layer.bias else None
    shape = (1, layer.out_features)
    out = layer.name if post is None else f"{layer.name}/linear"
    pre = g.add(GraphOp("fc", layer.name, (flat,), out, shape, weight, bias, activation=activation))
    return _post(g, layer.name, pre, post, shape)


@lower_layer.register
def _(layer: Residual, node: Node, x: str, g: _Lowering) -> str:
    return _body_then_merge(node, x, g, "add")


@lower_layer.register
def _(layer: Concat, node: Node, x: str, g: _Lowering) -> str:
    outs = []
    for branch in node.branches:
        h = x
        for sub in branch:
            h = lower_layer(sub.layer, sub, h, g)
        outs.append(h)
    shape = (1, node.out_size, node.out_size, node.out_ch)
    return g.add(GraphOp("concat", layer.name, tuple(outs), layer.name, shape))


def _body(network: Network) -> tuple[Node, ...]:
    """The nodes that run: a softmax at the end is left out (the model outputs logits)."""
    nodes = network.nodes
    if isinstance(nodes[-1].layer, Softmax):
        nodes = nodes[:-1]
    return nodes


def lower(network: Network, weights: Mapping[str, np.ndarray], *, softmax: bool = False) -> Graph:
    """``network`` with ``weights`` as TFLite operators (float32, batch norm folded, activations fused).

    The output is the logits; with ``softmax=True`` the network's final softmax is kept as a ``SOFTMAX``
    operator (float32 only: :func:`quantize` refuses it) and the output is the probabilities.

    >>> from costmodel import mobilenet_v1
    >>> from costmodel.reference import init_weights
    >>> net = mobilenet_v1(0.25, 32, num_classes=10)
    >>> [op.kind for op in lower(net, init_weights(net)).ops][:3], lower(net, init_weights(net)).ops[-1].kind
    (['conv', 'depthwise', 'conv'], 'fc')
    """
    if not isinstance(network, Network):
        raise SpecError(f"expected a Network, got {type(network).__name__}")
    softmax = boolean(softmax, "softmax")
    validate_weights(network, weights)
    g = _Lowering(weights)
    x = INPUT
    for node in _body(network):
        x = lower_layer(node.layer, node, x, g)
    last = g.ops[-1]
    if len(last.shape) == 4:  # a convolutional classifier (Keras): its 1x1xC map flattened, as Keras reshapes it
        x = g.add(GraphOp("reshape", "logits", (x,), "logits", (1, int(np.prod(last.shape)))))
    if softmax:
        final = network.nodes[-1]
        if not isinstance(final.layer, Softmax):
            raise SpecError(f"{network.name} ends with {final.name!r}, not a softmax; export it without softmax=True")
        x = g.add(GraphOp("softmax", final.name, (x,), final.name, g.ops[-1].shape))
    r = network.input_size
    return Graph(network, tuple(g.ops), (1, r, r, network.in_ch), x)


def _trace(nodes: tuple[Node, ...], weights: Mapping[str, np.ndarray], x: np.ndarray,
           record: Callable[[str, np.ndarray], None]) -> np.ndarray:  # fmt: skip
    """Run ``nodes`` with the plain float kernels, recording every layer's output (a block's layers one by one,
    its Add under the Add's name)."""
    for node in nodes:
        if isinstance(node.layer, Residual):
            h = _trace(node.branches[0], weights, x, record)
            x = x + h
            assert node.merge is not None
            record(node.merge.name, x)
        elif isinstance(node.layer, Scale):
            x = x * _trace(node.branches[0], weights, x, record)
            assert node.merge is not None
            record(node.merge.name, x)
        elif isinstance(node.layer, Concat):
            x = np.concatenate([_trace(branch, weights, x, record) for branch in node.branches], axis=-1)
            record(node.name, x)
        else:
            x = plain_kernel(node.layer, node, weights, x)
            record(node.name, x)
    return x


def activation_ranges(
    network: Network, weights: Mapping[str, np.ndarray], images: np.ndarray
) -> dict[str, tuple[float, float]]:
    """(min, max) of the input and of every layer's output over ``images``, run with the plain float reference.

    Parameters
    ----------
    images : ndarray, shape (N, R, R, C)
        Representative preprocessed images (the flavour's preprocessing, as for :func:`~.forward`).

    Returns
    -------
    dict
        ``{tensor name: (min, max)}``; tensor names are the graph's (:func:`lower`): ``"input"``, each layer's
        name, a residual block's ``"<block>.add"``.
    """
    validate_weights(network, weights)
    x = check_images(network, images)
    out: dict[str, tuple[float, float]] = {INPUT: (float(x.min()), float(x.max()))}

    def record(name: str, y: np.ndarray) -> None:
        out[name] = (float(y.min()), float(y.max()))

    _trace(_body(network), weights, x, record)
    return out


def tflite_round(x: np.ndarray) -> np.ndarray:
    """TfLiteRound (``std::round``): halves away from zero (NumPy's ``round`` takes halves to even)."""
    return np.asarray(np.sign(x) * np.floor(np.abs(x) + 0.5))


@dataclass(frozen=True, slots=True)
class Quant:
    """Per-tensor int8 quantisation: real = scale x (q - zero_point). The scale is float32, as a file stores it."""

    scale: np.float32
    zero_point: int

    @classmethod
    def from_range(cls, lo: float, hi: float) -> Quant:
        """Asymmetric int8 over [lo, hi] widened to hold 0 (the converter's rule): scale = (hi - lo) / 255."""
        lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise InputError(f"activation range ({lo}, {hi}) is not finite")
        if hi - lo < 1e-30:
            return cls(np.float32(1.0), 0)  # an all-zero tensor: any scale represents it
        scale = np.float32((hi - lo) / 255.0)
        zero_point = int(np.clip(tflite_round(np.float64(-128.0 - lo / float(scale))), -128, 127))
        return cls(scale, zero_point)


@dataclass(frozen=True, slots=True, eq=False)
class QuantizedGraph:
    """A lowered graph with TFLite's int8 parameters: per-tensor activation quantisation, int8 weights with
    per-channel (fully connected: per-tensor) scales, int32 biases."""

    graph: Graph
    tensors: dict[str, Quant]  # every activation tensor's quantisation
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # op name -> int8 weights (TFLite layout)
    weight_scales: dict[str, np.ndarray] = field(default_factory=dict)  # op name -> float32 (C,) or (1,)
    biases: dict[str, np.ndarray] = field(default_factory=dict)  # op name -> int32 (O,)

    def quantize_input(self, images: np.ndarray) -> np.ndarray:
        """Preprocessed float images as the model's int8 input (TFLite's rounding, clipped to int8)."""
        x = check_images(self.graph.network, images).astype(np.float64)
        q = self.tensors[self.graph.input]
        return np.asarray(np.clip(tflite_round(x / float(q.scale)) + q.zero_point, -128, 127), np.int8)

    def dequantize_output(self, y: np.ndarray) -> np.ndarray:
        """The model's int8 output as float32 logits."""
        q = self.tensors[self.graph.output]
        return ((np.asarray(y, np.float32) - q.zero_point) * q.scale).astype(np.float32)


#: Ops whose output must keep their input's quantisation (TFLite's int8 specification).
_SAME_QUANT = ("avg_pool", "max_pool", "reshape", "pad")


def _weight_quant(weight: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 weights in [-127, 127]: per channel along ``axis`` (or per tensor with ``None``)."""
    w = weight.astype(np.float64)
    if axis is None:
        peak = np.array([np.abs(w).max()])
        shaped = peak.reshape((1,) * w.ndim)
    else:
        others = tuple(i for i in range(w.ndim) if i != axis)
        peak = np.abs(w).max(axis=others)
        shaped = np.expand_dims(peak, others)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shaped_scale = np.where(shaped > 0, shaped / 127.0, 1.0).astype(np.float32)
    q = np.clip(tflite_round(w / shaped_scale.astype(np.float64)), -127, 127).astype(np.int8)
    return q, scale


def quantize(graph: Graph, ranges: Mapping[str, tuple[float, float]]) -> QuantizedGraph:
    """TFLite's int8 parameters for ``graph`` from activation ``ranges`` (:func:`activation_ranges`'s form).

    ``ranges`` needs the input and the output of every operator that sets its own quantisation (convolutions,
    fully connected layers, additions); pools, paddings and reshapes take their input's.
    """
    if not isinstance(graph, Graph):
        raise InputError(f"quantize() needs a Graph (from lower()), got {type(graph).__name__}")
    if not isinstance(ranges, Mapping):
        raise InputError(f"ranges must be a mapping {{tensor name: (min, max)}}, got {type(ranges).__name__}")
    for op in graph.ops:
        if op.kind in FLOAT_ONLY or op.constant is not None:
            what = "softmax" if op.kind == "softmax" else f"{op.kind} (from an activation or squeeze-and-excite)"
            raise SpecError(f"{op.name}: an int8 {what} is not written here; export float32, or the int8 logits")
    tensors: dict[str, Quant] = {}

    def range_of(name: str) -> Quant:
        if name not in ranges:
            raise InputError(f"no activation range for tensor {name!r}; ranges has {sorted(map(str, ranges))[:6]}...")
        pair = ranges[name]
        if (
            isinstance(pair, (str, bytes))
            or not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in pair)
        ):
            raise InputError(f"the range of {name!r} must be two numbers (min, max), got {type(pair).__name__}")
        return Quant.from_range(*pair)

    # A concatenation's inputs and output share one quantisation: the union of their ranges.
    shared: dict[str, Quant] = {}
    producers = {op.output: op for op in graph.ops}
    for op in graph.ops:
        if op.kind != "concat":
            continue
        pairs = [ranges[t] for t in (*op.inputs, op.output) if t in ranges]
        if len(pairs) != len(op.inputs) + 1:
            range_of(next(t for t in (*op.inputs, op.output) if t not in ranges))  # names the missing one
        union = Quant.from_range(min(p[0] for p in pairs), max(p[1] for p in pairs))
        for t in (*op.inputs, op.output):
            producer = producers.get(t)
            if producer is None or producer.kind in _SAME_QUANT or t in shared:
                raise SpecError(
                    f"{op.name}: int8 concatenation needs each branch to end in a layer with its own output "
                    f"quantisation (a convolution or FC layer); {t!r} does not"
                )
            shared[t] = union

    def range_of_op(name: str) -> Quant:
        return shared[name] if name in shared else range_of(name)

    tensors[graph.input] = range_of(graph.input)
    qw: dict[str, np.ndarray] = {}
    scales: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for op in graph.ops:
        if op.kind in _SAME_QUANT:
            tensors[op.output] = tensors[op.inputs[0]]
            continue
        tensors[op.output] = range_of_op(op.output)
        if op.weight is None:
            continue
        axis = {"conv": 0, "depthwise": 3, "fc": None}[op.kind]
        qw[op.name], scales[op.name] = _weight_quant(op.weight, axis)
        if op.bias is not None:
            in_scale = tensors[op.inputs[0]].scale
            bias_scale = (np.float32(in_scale) * scales[op.name]).astype(np.float32)  # float32, as stored
            q = tflite_round(op.bias.astype(np.float64) / bias_scale.astype(np.float64))
            biases[op.name] = np.clip(q, -(2**31), 2**31 - 1).astype(np.int32)
    return QuantizedGraph(graph, tensors, qw, scales, biases)
