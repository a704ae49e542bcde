"""Export a network and its weights as an ONNX model, built with the ``onnx`` helper API (no PyTorch).

The model takes the same input as :func:`~costmodel.reference.forward`, NHWC float32 images ``(N, R, R, 3)``
(a ``Transpose`` to NCHW comes first), and has two outputs: ``logits`` (N, classes) and ``probabilities``.
Batch norm is exported as ``BatchNormalization`` nodes with the raw statistics, not folded, so ONNX Runtime
checks our folding too. Padding is explicit per layer (``pads``), from the same convention as the executor.

Needs the optional ``onnx`` extra (``pip install 'costmodel[onnx]'``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import singledispatch
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._files import atomic_write
from ..errors import CostModelError, SpecError
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
    explicit_padding,
)
from ..spec.network import Network, Node
from . import kernels as K
from .weights import validate_weights

if TYPE_CHECKING:
    import onnx

__all__ = ["to_onnx", "save_onnx", "export_layer", "OPSET"]

OPSET = 17  # BatchNormalization-15, Clip with min/max inputs (>= 11), Softmax on one axis (>= 13), HardSwish (>= 14)


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - depends on the environment
        raise CostModelError("ONNX export needs the onnx package: pip install 'costmodel[onnx]'") from None
    return onnx


class _Graph:
    """The ONNX graph being built: nodes, initializers, and the name of the tensor the next layer reads."""

    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.x = "images_nchw"
        self.spatial = True  # x is (N, C, H, W): not yet flattened by a Linear layer
        self.logits: str | None = None
        self.block_inputs: list[str] = []  # the inputs of the blocks being exported, innermost last
        self.flat: set[str] = set()  # tensors that are (N, features) already: FC outputs
        self.sources: list[str] = []  # inside a Graph: the tensors a Sum or Cat reads

    def node(self, op: str, inputs: list[str], output: str, **attrs: object) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def init_int64(self, name: str, value: list[int]) -> str:
        """An int64 initializer (shapes, slice bounds: ONNX Runtime refuses them as float32)."""
        self.inits.append(self.numpy_helper.from_array(np.asarray(value, dtype=np.int64), name))
        return name

    def activation(self, x: str, kind: str | None, name: str) -> str:
        if kind is None:
            return x
        if kind == "relu":
            return self.node("Relu", [x], f"{name}/relu")
        if kind == "relu6":
            lo, hi = self.init(f"{name}/clip_min", np.array(0.0)), self.init(f"{name}/clip_max", np.array(6.0))
            return self.node("Clip", [x, lo, hi], f"{name}/relu6")
        if kind == "hardswish":
            return self.node("HardSwish", [x], f"{name}/hardswish")  # x * max(0, min(1, x/6 + 1/2)), opset 14
        if kind == "hardsigmoid":  # PyTorch's relu6(x + 3) / 6; ONNX's default alpha is 0.2, not 1/6
            return self.node("HardSigmoid", [x], f"{name}/hardsigmoid", alpha=1.0 / 6, beta=0.5)
        if kind == "sigmoid":
            return self.node("Sigmoid", [x], f"{name}/sigmoid")
        if kind == "silu":  # x * sigmoid(x) (ONNX has no SiLU operator before opset 24's Swish)
            return self.node("Mul", [x, self.node("Sigmoid", [x], f"{name}/sigmoid")], f"{name}/silu")
        raise SpecError(f"{name}: no ONNX export for activation {kind!r}")


@singledispatch
def export_layer(layer: object, node: Node, g: _Graph) -> None:
    """Append one layer's ONNX nodes to ``g`` (reading ``g.x``, leaving its output name there)."""
    raise SpecError(f"{node.name}: no ONNX export for layer type {type(layer).__name__}")


@export_layer.register
def _(layer: Conv2d, node: Node, g: _Graph) -> None:
    name, w = layer.name, g.weights
    if layer.depthwise:
        kernel = w[f"{name}/depthwise_kernel"].transpose(2, 3, 0, 1)  # (K, K, C, 1) -> (C, 1, K, K)
    else:
        kernel = w[f"{name}/kernel"].transpose(3, 2, 0, 1)  # (K, K, M, N) -> (N, M, K, K)
    k, s = layer.kernel, layer.stride
    top, bottom = K.pads(layer.padding, node.in_size, node.out_size, k, s)  # the spec's padding
    inputs = [g.x, g.init(f"{name}/W", kernel)]
    if layer.bias:
        inputs.append(g.init(f"{name}/B", w[f"{name}/bias"]))
    x = g.node("Conv", inputs, name, kernel_shape=[k, k], strides=[s, s], group=layer.groups,
               pads=[top, top, bottom, bottom])  # fmt: skip  # [y_begin, x_begin, y_end, x_end]
    if layer.batch_norm:
        gamma = w[f"{name}_bn/gamma"] if layer.bn_scale else np.ones(layer.out_ch, np.float32)  # TF-slim: none
        bn = [g.init(f"{name}_bn/gamma", gamma)]
        bn += [g.init(f"{name}_bn/{v}", w[f"{name}_bn/{v}"]) for v in ("beta", "moving_mean", "moving_variance")]
        x = g.node("BatchNormalization", [x, *bn], f"{name}_bn", epsilon=layer.bn_epsilon)
    g.x = g.activation(x, layer.activation, name)


@export_layer.register
def _(layer: GlobalAvgPool, node: Node, g: _Graph) -> None:
    g.x = g.node("GlobalAveragePool", [g.x], layer.name)


@export_layer.register
def _(layer: Linear, node: Node, g: _Graph) -> None:
    # Our FC flattens NHWC maps: transpose back before flattening (a no-op order at 1x1). After another FC
    # layer (MobileNetV3's classifier) the input is already (N, features).
    name = layer.name
    if g.x not in g.flat:
        nhwc = g.node("Transpose", [g.x], f"{name}/nhwc", perm=[0, 2, 3, 1])
        g.x = g.node("Flatten", [nhwc], f"{name}/flat", axis=1)
    inputs = [g.x, g.init(f"{name}/kernel", g.weights[f"{name}/kernel"])]
    if layer.bias:
        inputs.append(g.init(f"{name}/bias", g.weights[f"{name}/bias"]))
    g.x = g.activation(g.node("Gemm", inputs, name), layer.activation, name)
    g.flat.add(g.x)
    g.spatial = False


@export_layer.register
def _(layer: Softmax, node: Node, g: _Graph) -> None:
    if g.spatial:  # a 1x1 convolution classifier (Keras, TF-slim): (N, classes, 1, 1)
        g.x = g.node("Flatten", [g.x], f"{layer.name}/flat", axis=1)
    g.logits = g.x
    g.x = g.node("Softmax", [g.x], "probabilities", axis=-1)
    g.nodes[-1].name = layer.name


@export_layer.register(Residual)
@export_layer.register(Scale)
def _(layer: object, node: Node, g: _Graph) -> None:
    # The body reads the block's input; the block's Add or Mul (exported last) combines the two.
    assert node.merge is not None
    g.block_inputs.append(g.x)
    for sub in (*node.branches[0], node.merge):
        export_layer(sub.layer, sub, g)
    g.block_inputs.pop()


@export_layer.register
def _(layer: Add, node: Node, g: _Graph) -> None:
    g.x = g.node("Add", [g.x, g.block_inputs[-1]], layer.name)


@export_layer.register
def _(layer: Mul, node: Node, g: _Graph) -> None:
    g.x = g.node("Mul", [g.block_inputs[-1], g.x], layer.name)  # (N, C, H, W) x (N, C, 1, 1), broadcast


@export_layer.register
def _(layer: Pool2d, node: Node, g: _Graph) -> None:
    # ONNX's MaxPool / AveragePool with the layer's padding and ceil mode; an average counts the padding as
    # PyTorch's do (an int or explicit pair), not as TF's SAME pools do (costmodel.reference.plain's rule).
    before, after = explicit_padding(layer.padding, node.in_size, layer.kernel, layer.stride)
    op = "MaxPool" if layer.mode == "max" else "AveragePool"
    attrs: dict[str, object] = {"kernel_shape": [layer.kernel] * 2, "strides": [layer.stride] * 2}
    attrs.update(pads=[before, before, after, after], ceil_mode=int(layer.ceil_mode))
    if layer.mode == "avg":
        attrs["count_include_pad"] = int(layer.padding != "tf_same")
    g.x = g.node(op, [g.x], layer.name, **attrs)


@export_layer.register
def _(layer: AdaptiveAvgPool, node: Node, g: _Graph) -> None:
    # ONNX has no adaptive pooling: global pooling to 1x1, else PyTorch's windows (even or not) as two averaging
    # matrix products, A (N, C, H, W) A^T with A = averaging_matrix(n, o). One export for every size keeps one
    # kernel per latency kind ("Adaptive Avg Pool"), at every resolution.
    name, n, o = layer.name, node.in_size, layer.output_size
    if o == 1:
        g.x = g.node("GlobalAveragePool", [g.x], name)
    else:
        a = averaging_matrix(n, o)
        cols = g.node("MatMul", [g.x, g.init(f"{name}/A_T", a.T)], f"{name}/cols")  # (N, C, n, o)
        g.x = g.node("MatMul", [g.init(f"{name}/A", a), cols], name)  # (o, n) @ (N, C, n, o) -> (N, C, o, o)


def averaging_matrix(n: int, o: int) -> np.ndarray:
    """The (o, n) matrix of adaptive average pooling along one axis: row i averages window i of
    :func:`~costmodel.reference.kernels.adaptive_windows` (PyTorch's).

    >>> averaging_matrix(3, 2).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]
    """
    a = np.zeros((o, n), np.float32)
    for i, (start, stop) in enumerate(K.adaptive_windows(n, o)):
        a[i, start:stop] = 1.0 / (stop - start)
    return a


@export_layer.register
def _(layer: Concat, node: Node, g: _Graph) -> None:
    # Every branch reads the block's input; their outputs are concatenated on channels (NCHW axis 1).
    start, outs = g.x, []
    for branch in node.branches:
        g.x = start
        for sub in branch:
            export_layer(sub.layer, sub, g)
        outs.append(g.x)
    g.x = g.node("Concat", outs, layer.name, axis=1)


@export_layer.register
def _(layer: Graph, node: Node, g: _Graph) -> None:
    # Each node reads the tensors its sources name (the graph's input, or earlier nodes' outputs); a Sum or
    # Cat reads them all (g.sources), any other node the one (g.x). The graph's output is its last node's.
    start, outs = g.x, []
    for sub in node.branches[0]:
        names = [start if j < 0 else outs[j] for j in sub.sources]
        g.x, g.sources = names[0], names
        export_layer(sub.layer, sub, g)
        outs.append(g.x)
    g.sources = []


@export_layer.register
def _(layer: Sum, node: Node, g: _Graph) -> None:
    x = g.node("Sum", list(g.sources), layer.name) if len(g.sources) > 1 else g.node("Identity", g.sources, layer.name)
    g.x = g.activation(x, layer.activation, layer.name)


@export_layer.register
def _(layer: Cat, node: Node, g: _Graph) -> None:
    g.x = g.node("Concat", list(g.sources), layer.name, axis=1)


@export_layer.register
def _(layer: ChannelSlice, node: Node, g: _Graph) -> None:
    name = layer.name
    bounds = [g.init_int64(f"{name}/{k}", [v]) for k, v in (("starts", layer.start), ("ends", layer.stop))]
    g.x = g.node("Slice", [g.x, *bounds, g.init_int64(f"{name}/axes", [1])], name)


@export_layer.register
def _(layer: ChannelShuffle, node: Node, g: _Graph) -> None:
    # (N, C, H, W) -> (N, g, C/g, H, W) -> swap the group axes -> (N, C, H, W); 0 in a shape copies N
    name, c, s, groups = layer.name, node.out_ch, node.out_size, layer.groups
    shape = g.init_int64(f"{name}/split_shape", [0, groups, c // groups, s, s])
    split = g.node("Reshape", [g.x, shape], f"{name}/split")
    swapped = g.node("Transpose", [split], f"{name}/swap", perm=[0, 2, 1, 3, 4])
    g.x = g.node("Reshape", [swapped, g.init_int64(f"{name}/merge_shape", [0, c, s, s])], name)


@export_layer.register
def _(layer: BatchNormAct, node: Node, g: _Graph) -> None:
    name, w, x = layer.name, g.weights, g.x
    if layer.batch_norm:
        gamma = w[f"{name}/gamma"] if layer.bn_scale else np.ones(layer.channels, np.float32)
        bn = [g.init(f"{name}/gamma", gamma)]
        bn += [g.init(f"{name}/{v}", w[f"{name}/{v}"]) for v in ("beta", "moving_mean", "moving_variance")]
        x = g.node("BatchNormalization", [x, *bn], f"{name}/bn", epsilon=layer.bn_epsilon)
    g.x = g.activation(x, layer.activation, name)


@export_layer.register
def _(layer: Zero, node: Node, g: _Graph) -> None:
    g.x = g.node("Mul", [g.x, g.init(f"{layer.name}/zero", np.array(0.0))], layer.name)  # NAS-Bench-201's x.mul(0.)


def to_onnx(network: Network, weights: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """Build a checked ONNX model of ``network`` with ``weights``.

    Parameters
    ----------
    network : Network
    weights : mapping
        Validated like every load (:func:`~costmodel.reference.validate_weights`).

    Returns
    -------
    onnx.ModelProto
        Input ``images`` (N, R, R, C) float32; outputs ``logits`` and ``probabilities`` (N, classes).
    """
    onnx = _onnx()
    from onnx import TensorProto, helper

    validate_weights(network, weights)
    g = _Graph(weights)
    g.node("Transpose", ["images"], g.x, perm=[0, 3, 1, 2])
    g.nodes[-1].name = "to_nchw"
    for node in network.nodes:
        export_layer(node.layer, node, g)
    if g.logits is None:
        if g.spatial and g.x not in g.flat:  # a network ending on a pooled 1x1 map (SqueezeNet): (N, C)
            g.x = g.node("Flatten", [g.x], "logits/flat", axis=1)
        g.logits = g.x
        g.node("Softmax", [g.x], "probabilities", axis=-1)
        g.nodes[-1].name = "softmax"
    g.node("Identity", [g.logits], "logits")

    r, classes = network.input_size, network.out_ch
    graph = helper.make_graph(
        g.nodes,
        network.name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", r, r, network.in_ch])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes]),
        ],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        producer_name="costmodel",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=f"{network.name}, exported by costmodel.reference.onnx_export",
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    onnx.checker.check_model(model)
    return model


def save_onnx(model: onnx.ModelProto, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically (a temporary file in the same folder, renamed into place)."""
    return atomic_write(path, lambda f: f.write(model.SerializeToString()), CostModelError)
