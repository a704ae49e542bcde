"""The spec: layer types and their shape rules, networks, and the builders (MobileNetV1, the zoo, JSON).

The spec knows nothing of costs, NumPy or pandas; every later stage reads its finished :class:`Node` objects.
"""

from __future__ import annotations

from .blocks import inverted_residual, squeeze_excite
from .layers import (
    ACTIVATIONS,
    LAYER_TYPES,
    AdaptiveAvgPool,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
)
from .mobilenet import mobilenet_v1
from .network import Network, Node
from .timm_arch import from_timm_arch, timm_network

__all__ = [
    "ACTIVATIONS",
    "LAYER_TYPES",
    "AdaptiveAvgPool",
    "Concat",
    "Conv2d",
    "GlobalAvgPool",
    "Linear",
    "Pool2d",
    "Residual",
    "Scale",
    "Softmax",
    "Graph",
    "Sum",
    "Cat",
    "ChannelSlice",
    "ChannelShuffle",
    "BatchNormAct",
    "Zero",
    "inverted_residual",
    "squeeze_excite",
    "Network",
    "Node",
    "mobilenet_v1",
    "from_timm_arch",
    "timm_network",
]
