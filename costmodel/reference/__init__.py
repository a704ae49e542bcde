"""NumPy reference implementation of MobileNetV1: NHWC float32 kernels, an executor driven by the same
:class:`~costmodel.spec.network.Network` as the cost engine (conv, depthwise, global pooling and FC layers), seeded
weights, validated ``.npz``/Keras ``.h5``/timm ``.safetensors`` loading and saving, per-layer executed Mult-Adds
and timing.

>>> import numpy as np
>>> import costmodel
>>> from costmodel.reference import init_weights, forward
>>> net = costmodel.mobilenet_v1(0.25, 96, num_classes=5)
>>> forward(net, init_weights(net, seed=0), np.zeros((1, 96, 96, 3), np.float32)).shape
(1, 5)

Importing this package imports NumPy only; ONNX export (:mod:`costmodel.reference.onnx_export`) needs the
``onnx`` extra, Keras ``.h5`` loading the ``h5`` extra, and ``.tflite`` export (:func:`export_tflite`, float32 or
int8) the ``litert`` extra; the int8 reference (:func:`quantize` then :func:`run_int8`, integer arithmetic as
TFLite's reference kernels) needs NumPy only.
"""

from __future__ import annotations

from .executor import Execution, Prepared, check_images, execute, forward, prepare, time_layers
from .int8 import run_int8
from .plain import plain_forward
from .tflite_export import export_tflite, to_tflite
from .tflite_graph import QuantizedGraph, activation_ranges, lower, quantize
from .weights import (
    BN_EPSILON,
    FlavourWarning,
    convert_weights,
    expected_weights,
    init_weights,
    load_keras_h5,
    load_network,
    load_weights,
    save_weights,
    validate_weights,
)

__all__ = [
    "init_weights",
    "forward",
    "plain_forward",
    "time_layers",
    "execute",
    "prepare",
    "Prepared",
    "Execution",
    "check_images",
    "save_weights",
    "load_weights",
    "load_keras_h5",
    "load_network",
    "convert_weights",
    "FlavourWarning",
    "validate_weights",
    "expected_weights",
    "BN_EPSILON",
    "export_tflite",
    "to_tflite",
    "lower",
    "quantize",
    "activation_ranges",
    "QuantizedGraph",
    "run_int8",
]
