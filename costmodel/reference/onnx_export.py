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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._files import atomic_write
from ..errors import CostModelError, SpecError
from ..spec.layers import Conv2d, GlobalAvgPool, Linear, Softmax
from ..spec.network import Network
from . import kernels as K
from .weights import BN_EPSILON, validate_weights

if TYPE_CHECKING:
    import onnx

__all__ = ["to_onnx", "save_onnx", "OPSET"]

OPSET = 17  # BatchNormalization-15, Clip with min/max inputs (>= 11), Softmax on one axis (>= 13)


def _onnx():
    try:
        import onnx
    except ImportError:  # pragma: no cover - depends on the environment
        raise CostModelError("ONNX export needs the onnx package: pip install 'costmodel[onnx]'") from None
    return onnx


def to_onnx(network: Network, weights: Mapping[str, np.ndarray], *, padding: str = "same") -> onnx.ModelProto:
    """Build a checked ONNX model of ``network`` with ``weights``.

    Parameters
    ----------
    network : Network
    weights : mapping
        Validated like every load (:func:`~costmodel.reference.validate_weights`).
    padding : {"same", "symmetric"}
        The padding convention, as for :func:`~costmodel.reference.forward`.

    Returns
    -------
    onnx.ModelProto
        Input ``images`` (N, R, R, C) float32; outputs ``logits`` and ``probabilities`` (N, classes).
    """
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    if padding not in K.PADDINGS:
        raise SpecError(f"padding convention must be one of {K.PADDINGS}, got {padding!r}")
    validate_weights(network, weights)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def activation(x: str, kind: str | None, name: str) -> str:
        if kind is None:
            return x
        if kind == "relu":
            nodes.append(helper.make_node("Relu", [x], [f"{name}/relu"], name=f"{name}/relu"))
            return f"{name}/relu"
        lo, hi = init(f"{name}/clip_min", np.array(0.0)), init(f"{name}/clip_max", np.array(6.0))
        nodes.append(helper.make_node("Clip", [x, lo, hi], [f"{name}/relu6"], name=f"{name}/relu6"))
        return f"{name}/relu6"

    x = "images_nchw"
    nodes.append(helper.make_node("Transpose", ["images"], [x], perm=[0, 3, 1, 2], name="to_nchw"))
    logits = None
    for node in network.nodes:
        layer = node.layer
        name = layer.name
        if isinstance(layer, Conv2d):
            if layer.depthwise:
                w = weights[f"{name}/depthwise_kernel"].transpose(2, 3, 0, 1)  # (K, K, C, 1) -> (C, 1, K, K)
            else:
                w = weights[f"{name}/kernel"].transpose(3, 2, 0, 1)  # (K, K, M, N) -> (N, M, K, K)
            k, s = layer.kernel, layer.stride
            top, bottom = K.pads(layer.padding, node.in_size, node.out_size, k, s, padding)
            inputs = [x, init(f"{name}/W", w)]
            if layer.bias:
                inputs.append(init(f"{name}/B", weights[f"{name}/bias"]))
            nodes.append(
                helper.make_node(
                    "Conv",
                    inputs,
                    [name],
                    name=name,
                    kernel_shape=[k, k],
                    strides=[s, s],
                    pads=[top, top, bottom, bottom],  # [y_begin, x_begin, y_end, x_end]
                    group=layer.groups,
                )
            )
            x = name
            if layer.batch_norm:
                bn = [init(f"{name}_bn/{v}", weights[f"{name}_bn/{v}"]) for v in
                      ("gamma", "beta", "moving_mean", "moving_variance")]  # fmt: skip
                nodes.append(
                    helper.make_node(
                        "BatchNormalization", [x, *bn], [f"{name}_bn"], name=f"{name}_bn", epsilon=BN_EPSILON
                    )
                )
                x = f"{name}_bn"
            x = activation(x, layer.activation, name)
        elif isinstance(layer, GlobalAvgPool):
            nodes.append(helper.make_node("GlobalAveragePool", [x], [name], name=name))
            x = name
        elif isinstance(layer, Linear):
            # Our FC flattens NHWC maps: transpose back before flattening (a no-op order at 1x1).
            nhwc, flat = f"{name}/nhwc", f"{name}/flat"
            nodes.append(helper.make_node("Transpose", [x], [nhwc], perm=[0, 2, 3, 1], name=nhwc))
            nodes.append(helper.make_node("Flatten", [nhwc], [flat], axis=1, name=flat))
            inputs = [flat, init(f"{name}/kernel", weights[f"{name}/kernel"])]
            if layer.bias:
                inputs.append(init(f"{name}/bias", weights[f"{name}/bias"]))
            nodes.append(helper.make_node("Gemm", inputs, [name], name=name))
            x = activation(name, layer.activation, name)
        elif isinstance(layer, Softmax):
            logits = x
            nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=-1, name=name))
            x = "probabilities"
        else:
            raise SpecError(f"{name}: no ONNX export for layer type {type(layer).__name__}")
    if logits is None:
        nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=-1, name="softmax"))
        logits = x
    nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits"))

    r, classes = network.input_size, network.out_ch
    graph = helper.make_graph(
        nodes,
        network.name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", r, r, network.in_ch])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="costmodel",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=f"{network.name}, padding {padding!r}, exported by costmodel.reference.onnx_export",
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    onnx.checker.check_model(model)
    return model


def save_onnx(model: onnx.ModelProto, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically (a temporary file in the same folder, renamed into place)."""
    return atomic_write(path, lambda f: f.write(model.SerializeToString()), CostModelError)
