"""LiteRT helpers for the TFLite tests and the int8 fixture's recording script: small networks of every layer type
the export supports, and one function that runs a ``.tflite`` file."""

from __future__ import annotations

import numpy as np

import costmodel
from costmodel.spec.layers import AdaptiveAvgPool, Concat, Conv2d, GlobalAvgPool, Linear, Pool2d, Residual
from costmodel.spec.network import Network


def run_litert(model: bytes, x: np.ndarray, resolver: str = "ref") -> np.ndarray:
    """The output of a ``.tflite`` model on ``x`` (any batch), one thread. ``resolver``: ``"ref"`` for LiteRT's
    reference kernels (``OpResolverType.BUILTIN_REF``), ``"default"`` for its default kernels (XNNPACK)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = {"ref": OpResolverType.BUILTIN_REF, "default": OpResolverType.AUTO}[resolver]
    interpreter = Interpreter(model_content=model, num_threads=1, experimental_op_resolver_type=kind)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def layer_networks() -> dict[str, Network]:
    """One small network per operator and padding the export writes (each layer's input is the image itself,
    so a one-layer network checks one kernel)."""
    return {
        "conv3x3_s2_same_relu6": Network([Conv2d("c", 3, 16, 3, stride=2, activation="relu6")], 17),
        "conv3x3_s2_pad1_relu_bias": Network(
            [Conv2d("c", 3, 16, 3, stride=2, padding=1, bias=True, batch_norm=False)], 17
        ),
        "conv5x5_valid_linear": Network([Conv2d("c", 4, 8, 5, padding=0, activation=None)], 11, in_ch=4),
        "pointwise_linear": Network([Conv2d("c", 8, 16, 1, activation=None)], 9, in_ch=8),
        "depthwise_s1_relu6": Network([Conv2d("d", 8, 8, 3, groups=8, activation="relu6")], 9, in_ch=8),
        "depthwise_s2_relu": Network([Conv2d("d", 8, 8, 3, stride=2, groups=8)], 10, in_ch=8),
        "depthwise_keras_0_1": Network([Conv2d("d", 8, 8, 3, stride=2, groups=8, padding=(0, 1))], 10, in_ch=8),
        "avg_pool_same": Network([Pool2d("p", 3, 2, "avg", "tf_same")], 9, in_ch=8),
        "max_pool_ceil": Network([Pool2d("p", 3, 2, "max", 0, ceil_mode=True)], 10, in_ch=8),
        "global_avg_pool": Network([GlobalAvgPool("g")], 7, in_ch=8),
        "adaptive_avg_pool": Network([AdaptiveAvgPool("a", 2)], 6, in_ch=8),
        "fc": Network([Linear("fc", 3 * 3 * 8, 10)], 3, in_ch=8),
        "fc_relu": Network([Linear("fc", 16, 12, activation="relu")], 1, in_ch=16),
        "residual_add": Network([Residual("r", (Conv2d("c", 8, 8, 1, activation=None),))], 5, in_ch=8),
        "concat": Network(
            [Concat("cat", ((Conv2d("a", 8, 4, 1),), (Pool2d("p", 3, 1, "max", 1), Conv2d("b", 8, 6, 3))))], 5, in_ch=8
        ),
    }


def small_networks() -> dict[str, Network]:
    """Whole networks: MobileNetV1 (the paper's and Keras' flavours), MobileNetV2 and MnasNet (residual adds),
    SqueezeNet 1.1 and GoogLeNet (concatenations)."""
    return {
        "mobilenet_v1_0.25_32": costmodel.mobilenet_v1(0.25, 32, num_classes=10),
        "mobilenet_v1_keras_0.25_33": costmodel.mobilenet_v1(0.25, 33, num_classes=10, flavour="keras"),
        "mobilenet_v2_32": costmodel.network("mobilenet_v2", resolution=32, num_classes=10),
        "mnasnet1_0_32": costmodel.network("mnasnet1_0", resolution=32, num_classes=10),
        "squeezenet1_1_48": costmodel.network("squeezenet1_1", resolution=48, num_classes=10),
        "googlenet_32": costmodel.network("googlenet", resolution=32, num_classes=10),
    }


def images(network: Network, n: int, seed: int, spread: float = 1.0) -> np.ndarray:
    """``n`` random preprocessed images for ``network``, uniform in [-spread, spread]."""
    r, c = network.input_size, network.in_ch
    return np.random.default_rng(seed).uniform(-spread, spread, (n, r, r, c)).astype(np.float32)
