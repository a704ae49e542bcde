"""Layer descriptions, by shape only: no weights, no costs, no NumPy.

Paper notation (Howard et al., 2017): M = input channels, N = output channels, D_K = kernel size,
D_F = feature-map size. Feature maps are square.

Each layer type registers its shape rule with :func:`output_shape`, so :class:`~costmodel.spec.network.Network`
derives every feature-map size without knowing the layer types. The size rule for strided windows lives in
one function, :func:`window_out_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING, Literal, Union

from ..checks import MAX_SIZE, boolean, non_negative_int, positive_int
from ..errors import SpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Conv2d",
    "Pool2d",
    "GlobalAvgPool",
    "AdaptiveAvgPool",
    "Linear",
    "Softmax",
    "Concat",
    "Residual",
    "BLOCKS",
    "block_branches",
    "Layer",
    "ACTIVATIONS",
    "window_out_size",
    "window_out_size_array",
    "same_padding",
    "output_shape",
    "weight_shape",
    "LAYER_TYPES",
]

#: Activations a convolution or FC layer may carry. ``None`` means linear.
ACTIVATIONS = (None, "relu", "relu6")

Padding = Union[int, Literal["same"]]


def _check_ints(layer: object, fields: tuple[str, ...]) -> None:
    """Every field a positive int. The fast path is one pass of cheap checks (this runs for every layer of
    every network built, millions of times in a search loop); the slow path finds and names the bad one,
    and accepts integer-like values (NumPy integers), storing them as ``int``."""
    for f in fields:
        v = getattr(layer, f)
        if type(v) is not int or v < 1 or v > MAX_SIZE:
            break
    else:
        return
    for f in fields:
        value = positive_int(getattr(layer, f), f"{layer.name}: {f}")  # type: ignore[attr-defined]
        object.__setattr__(layer, f, value)


def _padding(value: object, name: str) -> None:
    if value != "same":
        non_negative_int(value, f"{name}: padding ('same' or an integer)")


def _flags(layer: object, fields: tuple[str, ...]) -> None:
    for f in fields:
        if type(getattr(layer, f)) is not bool:
            object.__setattr__(layer, f, boolean(getattr(layer, f), f"{layer.name}: {f}"))  # type: ignore[attr-defined]


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
        i, o, k, s, g = self.in_ch, self.out_ch, self.kernel, self.stride, self.groups
        if not (
            type(i) is int
            and type(o) is int
            and type(k) is int
            and type(s) is int
            and type(g) is int
            and i > 0
            and o > 0
            and k > 0
            and s > 0
            and g > 0
        ):  # fast path; the helper names the bad one
            _check_ints(self, ("in_ch", "out_ch", "kernel", "stride", "groups"))
        if self.in_ch % self.groups or self.out_ch % self.groups:
            raise SpecError(
                f"{self.name}: groups={self.groups} must divide in_ch={self.in_ch} and out_ch={self.out_ch}"
            )
        if self.padding != "same":
            _padding(self.padding, self.name)
        if type(self.bias) is not bool or type(self.batch_norm) is not bool:
            _flags(self, ("bias", "batch_norm"))
        if self.activation != "relu":
            _activation(self.activation, self.name)

    @property
    def depthwise(self) -> bool:
        """True for a depthwise convolution (one filter per input channel)."""
        return self.groups > 1 and self.groups == self.in_ch == self.out_ch


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
        _check_ints(self, ("kernel", "stride"))
        _padding(self.padding, self.name)
        _flags(self, ("ceil_mode",))
        if self.mode not in ("avg", "max"):
            raise SpecError(f"{self.name}: mode must be 'avg' or 'max', got {self.mode!r}")


@dataclass(frozen=True, slots=True)
class GlobalAvgPool:
    """Average over the whole feature map: D_F x D_F x C -> 1 x 1 x C (Table 1's "Avg Pool / s1")."""

    name: str


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool:
    """PyTorch's ``AdaptiveAvgPool2d(output_size)``: any D_F x D_F x C map -> output_size x output_size x C.

    torchvision's VGG (to 7x7) and AlexNet (to 6x6) use it before their classifiers; with output_size 1 it is
    the same map as :class:`GlobalAvgPool` (torchvision's GoogLeNet, SqueezeNet, MobileNets).
    """

    name: str
    output_size: int

    def __post_init__(self) -> None:
        _check_ints(self, ("output_size",))


@dataclass(frozen=True, slots=True)
class Linear:
    """Fully connected layer on the flattened input (size x size x channels == in_features)."""

    name: str
    in_features: int
    out_features: int
    bias: bool = True
    activation: str | None = None

    def __post_init__(self) -> None:
        _check_ints(self, ("in_features", "out_features"))
        _flags(self, ("bias",))
        _activation(self.activation, self.name)


@dataclass(frozen=True, slots=True)
class Softmax:
    """The classifier's softmax (Table 1's last row). Costs nothing in the paper's convention."""

    name: str


@dataclass(frozen=True, slots=True)
class Concat:
    """Parallel branches on one input, their outputs concatenated on channels (Inception, Fire modules).

    Each branch is a non-empty sequence of layers run one after another on the block's input; every branch
    must end at the same feature-map size, and the block's output has the sum of the branches' channels.
    Sub-layer names share the network's name space (they must be unique network-wide; they are weight keys).
    The concatenation itself has no weights and, in every counting convention, no operations.
    """

    name: str
    branches: tuple[tuple[Layer, ...], ...]

    def __post_init__(self) -> None:
        branches = self.branches
        if isinstance(branches, (str, bytes)) or not isinstance(branches, (tuple, list)) or not branches:
            raise SpecError(f"{self.name}: branches must be a non-empty sequence of layer sequences")
        fixed = []
        for i, branch in enumerate(branches):
            if isinstance(branch, (str, bytes)) or not isinstance(branch, (tuple, list)) or not branch:
                raise SpecError(f"{self.name}: branch {i} must be a non-empty sequence of layers")
            fixed.append(tuple(branch))
        object.__setattr__(self, "branches", tuple(fixed))

    def sublayers(self) -> tuple[Layer, ...]:
        """Every layer of every branch, depth first (nested blocks included)."""
        return _sublayers(self.branches)


@dataclass(frozen=True, slots=True)
class Residual:
    """A body of layers whose output is added to the block's input (MobileNetV2's inverted residual, ResNet).

    The body must give back the input's shape (channels and size). The addition has no weights and, in every
    counting convention modelled here, no operations (the tools trace ``x + y`` as a free tensor op).
    """

    name: str
    body: tuple[Layer, ...]

    def __post_init__(self) -> None:
        body = self.body
        if isinstance(body, (str, bytes)) or not isinstance(body, (tuple, list)) or not body:
            raise SpecError(f"{self.name}: body must be a non-empty sequence of layers")
        object.__setattr__(self, "body", tuple(body))

    @property
    def branches(self) -> tuple[tuple[Layer, ...], ...]:
        """The body as the block's one branch (the identity shortcut carries no layer)."""
        return (self.body,)

    def sublayers(self) -> tuple[Layer, ...]:
        """Every layer of the body, depth first (nested blocks included)."""
        return _sublayers(self.branches)


#: Layer types made of other layers; their nodes carry ``branches``.
BLOCKS = (Concat, Residual)


def block_branches(layer: object) -> tuple[tuple[Layer, ...], ...]:
    """A block's branches (a :class:`Residual` has one, its body); ``()`` for any other layer."""
    return layer.branches if isinstance(layer, BLOCKS) else ()  # type: ignore[union-attr]


def _sublayers(branches: tuple[tuple[Layer, ...], ...]) -> tuple[Layer, ...]:
    out: list[Layer] = []
    for branch in branches:
        for layer in branch:
            out.append(layer)
            out.extend(_sublayers(block_branches(layer)))
    return tuple(out)


Layer = Union[Conv2d, Pool2d, GlobalAvgPool, AdaptiveAvgPool, Linear, Softmax, Concat, Residual]

#: Every layer type. Each concern (shape, weights, Mult-Adds, memory, kind, executor, ONNX, latency) keeps one
#: rule per type in its own registry; ``tests/test_registries.py`` checks every type against every registry.
LAYER_TYPES: tuple[type, ...] = (Conv2d, Pool2d, GlobalAvgPool, AdaptiveAvgPool, Linear, Softmax, Concat, Residual)


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


def window_out_size_array(n: np.ndarray, kernel: int, stride: int, padding: Padding, ceil_mode: bool = False):
    """:func:`window_out_size` over an int64 array of input sizes (the same rule, vectorised for sweeps).

    NumPy is imported only when this is called; the spec itself does not need it.

    Parameters
    ----------
    n : ndarray of int64, shape (m,)
        Input sizes.

    Returns
    -------
    ndarray of int64, shape (m,)
        Output sizes; 0 where the window does not fit (as :func:`window_out_size`).

    Examples
    --------
    >>> import numpy as np
    >>> window_out_size_array(np.array([224, 7]), 3, 2, "same").tolist()
    [112, 4]
    """
    import numpy as np

    n = np.asarray(n, dtype=np.int64)
    if padding == "same":
        return -(-n // stride)
    span = n + 2 * padding - kernel
    if not ceil_mode:
        out = span // stride + 1
    else:
        out = -(-span // stride) + 1
        out = out - ((out - 1) * stride >= n + padding)
    return np.where(span < 0, 0, out)


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
        raise SpecError(
            f"{layer.name}: in_ch={layer.in_ch}, but the previous layer gives {in_ch} channels (channel mismatch)"
        )
    return layer.out_ch, window_out_size(in_size, layer.kernel, layer.stride, layer.padding)


@output_shape.register
def _(layer: Pool2d, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, window_out_size(in_size, layer.kernel, layer.stride, layer.padding, layer.ceil_mode)


@output_shape.register
def _(layer: GlobalAvgPool, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, 1


@output_shape.register
def _(layer: AdaptiveAvgPool, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, layer.output_size


@output_shape.register
def _(layer: Concat, in_ch: int, in_size: int) -> tuple[int, int]:
    total_ch, sizes = 0, set()
    for branch in layer.branches:
        ch, size = in_ch, in_size
        for sub in branch:
            ch, size = output_shape(sub, ch, size)
            if size < 1:
                raise SpecError(f"{sub.name}: the input shrinks to nothing (output size {size})")
        total_ch += ch
        sizes.add(size)
    if len(sizes) != 1:
        raise SpecError(f"{layer.name}: branches end at different sizes {sorted(sizes)}; cannot concatenate")
    return total_ch, sizes.pop()


@output_shape.register
def _(layer: Residual, in_ch: int, in_size: int) -> tuple[int, int]:
    ch, size = in_ch, in_size
    for sub in layer.body:
        ch, size = output_shape(sub, ch, size)
        if size < 1:
            raise SpecError(f"{sub.name}: the input shrinks to nothing (output size {size})")
    if (ch, size) != (in_ch, in_size):
        raise SpecError(
            f"{layer.name}: the body turns {in_size}x{in_size}x{in_ch} into {size}x{size}x{ch}; "
            "a residual block must keep the shape"
        )
    return in_ch, in_size


@output_shape.register
def _(layer: Linear, in_ch: int, in_size: int) -> tuple[int, int]:
    flat = in_ch * in_size * in_size
    if flat != layer.in_features:
        raise SpecError(
            f"{layer.name}: in_features={layer.in_features}, but "
            f"the previous layer gives {in_size}x{in_size}x{in_ch} = {flat} features"
        )
    return layer.out_features, 1


@output_shape.register
def _(layer: Softmax, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, in_size


@singledispatch
def weight_shape(layer: object) -> tuple[int, ...] | None:
    """The shape of a layer's own weight array (its kernel; biases and batch norm are the conventions' business),
    or ``None`` for a layer without weights. The one weight-count rule: the cost engine, the memory model and the
    reference executor's weight shapes all read it. A block holds no weights of its own (its layers do).

    >>> weight_shape(Conv2d("c", 32, 32, 3, groups=32)), weight_shape(Linear("fc", 1024, 1000))
    ((3, 3, 1, 32), (1024, 1000))
    """
    raise SpecError(f"no weight rule for layer type {type(layer).__name__}")


@weight_shape.register
def conv_weight_shape(layer: Conv2d) -> tuple[int, int, int, int]:
    """(D_K, D_K, M / groups, N), the layout Keras stores (HWIO)."""
    return (layer.kernel, layer.kernel, layer.in_ch // layer.groups, layer.out_ch)


@weight_shape.register
def linear_weight_shape(layer: Linear) -> tuple[int, int]:
    """(M, N): in_features x out_features."""
    return (layer.in_features, layer.out_features)


@weight_shape.register(Pool2d)
@weight_shape.register(GlobalAvgPool)
@weight_shape.register(AdaptiveAvgPool)
@weight_shape.register(Softmax)
@weight_shape.register(Concat)
@weight_shape.register(Residual)
def _(layer: object) -> None:
    return None
