"""Small networks for the tests, built from the spec's builders (no zoo): every new layer type in a few blocks."""

from __future__ import annotations

import dataclasses

import costmodel
from costmodel.spec.blocks import inverted_residual
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear
from costmodel.spec.network import Network


def tiny(resolution: int = 33, num_classes: int = 10) -> Network:
    """Squeeze-and-excite (h-sigmoid and sigmoid gates), residual adds, 3x3/5x5/7x7 depthwise, h-swish, ReLU,
    SiLU, integer and "same" padding, and an FC layer after an FC layer."""
    return Network(
        [
            Conv2d("stem", 3, 16, 3, 2, padding=1, activation="hardswish"),
            *inverted_residual("b1", 16, 16, expand_ch=48, kernel=5, se_ch=16, activation="hardswish"),
            *inverted_residual("b2", 16, 24, expand_ch=64, kernel=7, stride=2, activation="relu"),
            *inverted_residual(
                "b3",
                24,
                24,
                expand_ch=72,
                kernel=3,
                se_ch=6,
                activation="silu",
                se_activation="silu",
                se_gate="sigmoid",
                padding="same",
            ),  # fmt: skip
            GlobalAvgPool("pool"),
            Linear("fc1", 24, 32, activation="hardswish"),
            Linear("fc", 32, num_classes),
        ],
        resolution,
        name=f"tiny-{resolution}",
    )


def with_depthwise_kernel(k: int, **config) -> Network:
    """MobileNetV1 (``config`` as for :func:`costmodel.mobilenet_v1`) with every depthwise kernel k x k; a layer
    padded by an integer (PyTorch's ``padding=1`` for 3x3) gets ``k // 2``, as PyTorch would write it."""
    base = costmodel.mobilenet_v1(**config)

    def widened(layer):
        padding = k // 2 if isinstance(layer.padding, int) else layer.padding
        return dataclasses.replace(layer, kernel=k, padding=padding)

    layers = [widened(layer) if getattr(layer, "depthwise", False) else layer for layer in base.layers]
    return Network(layers, base.input_size, name=f"{base.name} dw{k}x{k}")
