"""Layer descriptions, by shape only: no weights, no costs, no NumPy.

Paper notation (Howard et al., 2017): M = input channels, N = output channels, D_K = kernel size,
D_F = feature-map size. Feature maps are square.

Each layer type registers its shape rule with :func:`output_shape`, so :class:`~costmodel.network.Network`
derives every feature-map size without knowing the layer types. The size rule for strided windows lives in
one function, :func:`window_out_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import Literal, Union

from .errors import SpecError

__all__ = [
    "Conv2d",
    "Pool2d",
    "GlobalAvgPool",
    "Linear",
    "Softmax",
    "Layer",
    "ACTIVATIONS",
    "window_out_size",
    "same_padding",
    "output_shape",
]

#: Activations a convolution or FC layer may carry. ``None`` means linear.
ACTIVATIONS = (None, "relu", "relu6")

Padding = Union[int, Literal["same"]]


def _positive_int(value: object, what: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{name}: {what} must be a positive integer, got {value!r}")


def _padding(value: object, name: str) -> None:
    if value == "same":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(f"{name}: padding must be 'same' or a non-negative integer, got {value!r}")


def _activation(value: object, name: str) -> None:
    if value not in ACTIVATIONS:
        raise SpecError(f"{name}: activation must be one of {ACTIVATIONS}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Conv2d:
    """One convolution, by shape only. M = in_ch, N = out_ch, D_K = kernel.

    ``groups == in_ch == out_ch`` is a depthwise convolution; the cost engine needs no special case for it.
    The batch norm and activation that follow the convolution are attributes, because other tools count them.
    """

    name: str  # stable; also the weight key, e.g. "conv_dw_3"
    in_ch: int
    out_ch: int
    kernel: int
    stride: int = 1
    groups: int = 1
    padding: Padding = "same"  # "same": TF/Keras SAME (out = ceil(n / stride)); an int pads each side
    bias: bool = False  # the convolution has its own bias (MobileNet's convs do not: batch norm follows)
    batch_norm: bool = True
    activation: str | None = "relu"  # the paper: ReLU; TF-slim and Keras checkpoints: ReLU6

    def __post_init__(self) -> None:
        for field in ("in_ch", "out_ch", "kernel", "stride", "groups"):
            _positive_int(getattr(self, field), field, self.name)
        if self.in_ch % self.groups or self.out_ch % self.groups:
            raise SpecError(
                f"{self.name}: groups={self.groups} must divide in_ch={self.in_ch} and out_ch={self.out_ch}"
            )
        _padding(self.padding, self.name)
        _activation(self.activation, self.name)

    @property
    def depthwise(self) -> bool:
        """True for a depthwise convolution (one filter per input channel)."""
        return self.groups > 1 and self.groups == self.in_ch == self.out_ch

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """Shape of the weights as Keras stores them: (D_K, D_K, M / groups, N)."""
        return (self.kernel, self.kernel, self.in_ch // self.groups, self.out_ch)


@dataclass(frozen=True, slots=True)
class Pool2d:
    """Average or max pooling over ``kernel`` x ``kernel`` windows."""

    name: str
    kernel: int
    stride: int = 1
    mode: Literal["avg", "max"] = "avg"
    padding: Padding = 0
    ceil_mode: bool = False  # PyTorch's ceil_mode (used by torchvision's GoogLeNet and SqueezeNet)

    def __post_init__(self) -> None:
        _positive_int(self.kernel, "kernel", self.name)
        _positive_int(self.stride, "stride", self.name)
        _padding(self.padding, self.name)
        if self.mode not in ("avg", "max"):
            raise SpecError(f"{self.name}: mode must be 'avg' or 'max', got {self.mode!r}")


@dataclass(frozen=True, slots=True)
class GlobalAvgPool:
    """Average over the whole feature map: D_F x D_F x C -> 1 x 1 x C (Table 1's "Avg Pool / s1")."""

    name: str


@dataclass(frozen=True, slots=True)
class Linear:
    """Fully connected layer on the flattened input (size x size x channels == in_features)."""

    name: str
    in_features: int
    out_features: int
    bias: bool = True
    activation: str | None = None

    def __post_init__(self) -> None:
        _positive_int(self.in_features, "in_features", self.name)
        _positive_int(self.out_features, "out_features", self.name)
        _activation(self.activation, self.name)

    @property
    def weight_shape(self) -> tuple[int, int]:
        return (self.in_features, self.out_features)


@dataclass(frozen=True, slots=True)
class Softmax:
    """The classifier's softmax (Table 1's last row). Costs nothing in the paper's convention."""

    name: str


Layer = Union[Conv2d, Pool2d, GlobalAvgPool, Linear, Softmax]


def window_out_size(n: int, kernel: int, stride: int, padding: Padding, ceil_mode: bool = False) -> int:
    """Output size of a strided window over ``n`` positions; the one place this rule lives.

    ``padding="same"`` is TF's SAME: ``ceil(n / stride)`` whatever the kernel (a stride-2 layer on 7 gives 4).
    An integer pads both sides, PyTorch style: ``floor((n + 2p - k) / s) + 1`` (``ceil`` with ``ceil_mode``,
    where the last window must still start inside the input or left padding, as PyTorch requires).

    Examples
    --------
    >>> window_out_size(224, 3, 2, "same"), window_out_size(7, 3, 2, "same")
    (112, 4)
    >>> window_out_size(224, 11, 4, 2), window_out_size(112, 3, 2, 0, ceil_mode=True)
    (55, 56)
    """
    if padding == "same":
        return -(-n // stride)
    span = n + 2 * padding - kernel
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= n + padding:
        out -= 1
    return out


def same_padding(n: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF SAME padding (before, after) for one axis: an odd extra row/column goes after (bottom/right)."""
    out = -(-n // stride)
    total = max((out - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


@singledispatch
def output_shape(layer: object, in_ch: int, in_size: int) -> tuple[int, int]:
    """(channels, size) a layer produces from an ``in_size`` x ``in_size`` x ``in_ch`` input.

    Raises :class:`SpecError` for a layer type with no shape rule, or an input the layer cannot take.
    """
    raise SpecError(f"no shape rule for layer type {type(layer).__name__}")


@output_shape.register
def _(layer: Conv2d, in_ch: int, in_size: int) -> tuple[int, int]:
    if in_ch != layer.in_ch:
        raise SpecError(f"{layer.name}: expects {layer.in_ch} input channels, the previous layer gives {in_ch}")
    return layer.out_ch, window_out_size(in_size, layer.kernel, layer.stride, layer.padding)


@output_shape.register
def _(layer: Pool2d, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, window_out_size(in_size, layer.kernel, layer.stride, layer.padding, layer.ceil_mode)


@output_shape.register
def _(layer: GlobalAvgPool, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, 1


@output_shape.register
def _(layer: Linear, in_ch: int, in_size: int) -> tuple[int, int]:
    flat = in_ch * in_size * in_size
    if flat != layer.in_features:
        raise SpecError(
            f"{layer.name}: expects {layer.in_features} input features, "
            f"the previous layer gives {in_size}x{in_size}x{in_ch} = {flat}"
        )
    return layer.out_features, 1


@output_shape.register
def _(layer: Softmax, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, in_size
