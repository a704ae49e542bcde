"""MobileNetV1 (Howard et al., 2017, arXiv:1704.04861), Table 1, and its variants.

One builder, :func:`mobilenet_v1`, makes every variant the paper evaluates: the width multiplier α (Table 6),
the resolution multiplier ρ (Table 7), "Shallow MobileNet" (Table 5) and "Conv MobileNet" (Table 4).
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

from ..checks import MAX_SIZE, boolean, one_of, positive_int
from ..errors import SpecError
from .flavours import Flavour, get_flavour
from .layers import ACTIVATIONS, Conv2d, GlobalAvgPool, Layer, Linear, Padding, Softmax
from .network import Network

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "mobilenet_v1",
    "scale_channels",
    "scale_channels_array",
    "resolve_resolution",
    "BASE_RESOLUTION",
    "MIN_RESOLUTION",
]

BASE_RESOLUTION = 224  # the paper's full resolution; ρ multiplies it
MIN_RESOLUTION = 32  # the five stride-2 layers take 32x32 down to 1x1

FIRST_CONV = 32  # Table 1, row 1: Conv / s2, 3x3x3x32, on the 224x224x3 image

# The 13 depthwise separable blocks of Table 1: (stride of the depthwise conv, pointwise output channels).
BLOCKS: tuple[tuple[int, int], ...] = (
    (1, 64),  # 1: 112x112 in
    (2, 128),  # 2: 112x112 in
    (1, 128),  # 3: 56x56 in
    (2, 256),  # 4: 56x56 in
    (1, 256),  # 5: 28x28 in
    (2, 512),  # 6: 28x28 in
    (1, 512),  # 7-11: 14x14 in, Table 1's "5x" rows (removed in Shallow MobileNet)
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),  # 12: 14x14 in
    # 13: 7x7 in. Table 1 prints "Conv dw / s2" here, but its own input-size column keeps the map at 7x7 and
    # TF-slim's and Keras' MobileNet use stride 1, as we do (flagged in the reproduced Table 1).
    (1, 1024),
)
SHALLOW_REMOVED = frozenset({7, 8, 9, 10, 11})  # Table 5: "the 5 layers of separable filters with 14x14x512"


def scale_channels(channels: int, alpha: float) -> int:
    """Channels under the width multiplier: ``int(channels * alpha)``, the paper's and Keras' rounding.

    The one place this rule lives. Raises :class:`SpecError` when a layer would keep no channel.

    Examples
    --------
    >>> scale_channels(1024, 0.75), scale_channels(32, 0.25)
    (768, 8)
    """
    try:
        scaled = int(channels * alpha)
    except (TypeError, ValueError, OverflowError):  # NaN, an infinity, not a number
        raise SpecError(f"alpha must be a finite number > 0, got {alpha!r}") from None
    if scaled < 1:
        raise SpecError(f"alpha={alpha!r} is too small: {channels} channels would become {scaled}")
    if scaled > MAX_SIZE:
        raise SpecError(
            f"alpha={alpha!r} is too large: {channels} channels would become {_short(scaled)} (at most {MAX_SIZE:,})"
        )
    return scaled


def scale_channels_array(channels: int, alpha: np.ndarray) -> np.ndarray:
    """:func:`scale_channels` over an array of α: ``int(channels * alpha)`` elementwise, as int64.

    The same rule, vectorised for :mod:`costmodel.counting.sweeps`: the float64 product rounds exactly as Python's
    ``channels * alpha`` does (both are IEEE double multiplications) and ``astype(int64)`` truncates toward
    zero as ``int()`` does. Raises :class:`SpecError` naming the smallest α when a layer would keep no channel.

    Parameters
    ----------
    channels : int
        Channels at α = 1.
    alpha : ndarray of float64, shape (n,)
        Width multipliers, already checked finite and > 0 (NumPy is imported only when this is called: the
        spec itself does not need it).

    Returns
    -------
    ndarray of int64, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> scale_channels_array(1024, np.array([0.75, 0.3])).tolist()
    [768, 307]
    """
    import numpy as np

    product = channels * np.asarray(alpha, dtype=np.float64)
    if product.size and product.max() >= MAX_SIZE + 1:  # before the int64 cast, which would wrap around
        big = float(np.asarray(alpha).max())
        raise SpecError(
            f"alpha={big!r} is too large: {channels} channels would become {channels * big:.3g} (at most {MAX_SIZE:,})"
        )
    scaled = product.astype(np.int64)
    if scaled.size and scaled.min() < 1:
        bad = float(np.asarray(alpha).min())
        raise SpecError(f"alpha={bad!r} is too small: {channels} channels would become {int(scaled.min())}")
    return scaled


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise SpecError(f"alpha must be a number, got {alpha!r}")
    if not _finite(alpha) or alpha <= 0:
        raise SpecError(f"alpha must be a finite number > 0, got {alpha!r}")
    return float(alpha)


def _short(value: int) -> str:
    """A count for a message: ``3.2e+301`` (an integer beyond a float's range by its number of digits)."""
    try:
        return f"{value:.3g}"
    except OverflowError:
        return f"an integer of {len(str(value)) if value.bit_length() < 10_000 else 'thousands of'} digits"


def _finite(value: Real) -> bool:
    """``math.isfinite`` that says False, rather than raising, for an integer beyond a float's range."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def resolve_resolution(resolution: object = BASE_RESOLUTION, rho: object = None) -> int:
    """The input resolution: ``resolution``, or ``round(rho * resolution)`` when ρ is given.

    ρ ∈ (0, 1] multiplies the resolution (224 by default), so ``rho=0.714`` gives 160, as in the paper.
    The result must be an integer >= 32.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, Integral):
        raise SpecError(f"resolution must be an integer, got {resolution!r}")
    resolution = int(resolution)
    if rho is not None:
        if isinstance(rho, bool) or not isinstance(rho, Real) or not _finite(rho):
            raise SpecError(f"rho must be a finite number in (0, 1], got {rho!r}")
        if not 0 < float(rho) <= 1:
            raise SpecError(f"rho must be in (0, 1], got {rho!r}")
        scaled = round(float(rho) * resolution)
        if scaled < MIN_RESOLUTION:
            raise SpecError(
                f"rho={rho!r} is too small: resolution round({rho!r} * {resolution}) = {scaled} is below "
                f"{MIN_RESOLUTION}"
            )
        resolution = scaled
    if resolution < MIN_RESOLUTION:
        raise SpecError(f"resolution must be >= {MIN_RESOLUTION}, got {resolution!r}")
    return positive_int(resolution, "resolution")


def _bn(flavour: Flavour, activation: str | None) -> dict[str, Any]:
    """What every convolution of a flavour's MobileNetV1 carries after it: batch norm (its epsilon and
    variables) and the activation."""
    return {"activation": activation, "bn_scale": flavour.bn_scale, "bn_epsilon": flavour.bn_epsilon,
            "pytorch": flavour.pytorch}  # fmt: skip


def first_conv(out_ch: int, activation: str = "relu", in_ch: int = 3, flavour: str | Flavour = "paper") -> Conv2d:
    """Table 1, row 1: the full 3x3 convolution, stride 2, on the image (``conv1``)."""
    f = get_flavour(flavour)
    return Conv2d("conv1", in_ch, out_ch, 3, stride=2, padding=f.conv_padding(3, 2, False), **_bn(f, activation))


def separable_block(
    index: int,
    in_ch: int,
    out_ch: int,
    stride: int,
    kernel: int = 3,
    activation: str = "relu",
    flavour: str | Flavour = "paper",
) -> tuple[Conv2d, Conv2d]:
    """Depthwise separable block ``index`` of Table 1: a ``kernel`` x ``kernel`` depthwise convolution
    (``conv_dw_<index>``, the paper's 3x3; search spaces try 5x5 and 7x7) and a 1x1 pointwise convolution
    (``conv_pw_<index>``), each with batch norm and ``activation``, padded as the flavour pads."""
    f = get_flavour(flavour)
    bn = _bn(f, activation)
    return _separable(
        index, in_ch, out_ch, stride, kernel, f.conv_padding(kernel, stride, True), f.conv_padding(1, 1, True), bn
    )


def _separable(
    index: int, in_ch: int, out_ch: int, stride: int, kernel: int, dw_padding: Padding, pw_padding: Padding, bn: Any
) -> tuple[Conv2d, Conv2d]:
    """:func:`separable_block` with its flavour's paddings and batch norm already looked up (``_layers`` looks
    them up once per network, not once per block)."""
    return (
        Conv2d(f"conv_dw_{index}", in_ch, in_ch, kernel, stride=stride, groups=in_ch, padding=dw_padding, **bn),
        Conv2d(f"conv_pw_{index}", in_ch, out_ch, 1, padding=pw_padding, **bn),
    )


def classifier(in_ch: int, num_classes: int = 1000, flavour: str | Flavour = "paper") -> tuple[Layer, ...]:
    """Table 1's last rows: global average pooling, the classifier (the flavour's FC layer, or a 1x1 convolution
    as Keras' ``conv_preds`` and TF-slim's ``Logits/Conv2d_1c_1x1``) and softmax."""
    f = get_flavour(flavour)
    fc: Layer
    if f.classifier == "conv":
        fc = Conv2d("fc", in_ch, num_classes, 1, padding=f.conv_padding(1, 1, False), bias=f.classifier_bias,
                    batch_norm=False, activation=None)  # fmt: skip
    else:
        fc = Linear("fc", in_ch, num_classes, bias=f.classifier_bias)
    return (GlobalAvgPool("pool"), fc, Softmax("softmax"))


@lru_cache(maxsize=1024)
def _layers(
    alpha: float, shallow: bool, separable: bool, num_classes: int, activation: str, flavour: Flavour
) -> tuple[Layer, ...]:
    """The layers of one configuration. They do not depend on the resolution and are immutable, so they are
    cached: a search loop over resolutions (or revisiting widths) builds each width once. The flavour gives
    every convolution its padding, batch-norm epsilon and batch-norm variables, and the classifier's form."""
    f = flavour
    bn = _bn(f, activation)
    spatial = {s: f.conv_padding(3, s, True) for s in (1, 2)}  # a block's 3x3 layer, by stride
    pointwise = f.conv_padding(1, 1, True)
    ch = scale_channels(FIRST_CONV, alpha)
    layers: list[Layer] = [first_conv(ch, activation, flavour=f)]  # 224x224 in
    for i, (stride, out) in enumerate(BLOCKS, start=1):
        if shallow and i in SHALLOW_REMOVED:
            continue
        out = scale_channels(out, alpha)
        if separable:
            layers += _separable(i, ch, out, stride, 3, spatial[stride], pointwise, bn)
        else:
            layers.append(Conv2d(f"conv_full_{i}", ch, out, 3, stride=stride, padding=spatial[stride], **bn))
        ch = out
    layers += classifier(ch, num_classes, flavour=f)
    return tuple(layers)


def mobilenet_v1(
    alpha: float = 1.0,
    resolution: int = BASE_RESOLUTION,
    *,
    rho: float | None = None,
    shallow: bool = False,
    separable: bool = True,
    num_classes: int | None = None,
    activation: str | None = None,
    flavour: str | Flavour = "paper",
) -> Network:
    """Build MobileNetV1 as in Table 1 of the paper, or one of its variants.

    Parameters
    ----------
    alpha : float
        Width multiplier α > 0: every layer keeps ``int(channels * alpha)`` channels.
    resolution : int
        Input resolution (>= 32; odd sizes allowed: a stride-2 layer on n gives ceil(n / 2) under TF SAME,
        floor(n / 2) in Keras' depthwise layers).
    rho : float, optional
        Resolution multiplier ρ ∈ (0, 1]; the input resolution becomes ``round(rho * resolution)``.
    shallow : bool
        "Shallow MobileNet" (Table 5): the five 14x14x512 separable blocks removed.
    separable : bool
        False gives "Conv MobileNet" (Table 4): each depthwise + pointwise pair replaced by one full 3x3
        convolution (named ``conv_full_<i>``).
    num_classes : int, optional
        Outputs of the classifier (default: the flavour's; 1000, or TF-slim's 1001).
    activation : {"relu", "relu6"}, optional
        Default: the flavour's (the paper ReLU; Keras, TF-slim and timm ReLU6). Costs do not depend on it.
    flavour : {"paper", "keras", "tfslim", "timm"} or Flavour
        Which framework's network (:mod:`costmodel.spec.flavours`): the padding of every layer, the activation,
        the batch-norm epsilon and variables, the classifier (a 1x1 convolution for Keras and TF-slim, still
        named ``fc``) and the input preprocessing.

    Returns
    -------
    Network
        Layers named ``conv1``, ``conv_dw_1``, ``conv_pw_1``, ..., ``conv_dw_13``, ``conv_pw_13``, ``pool``,
        ``fc``, ``softmax`` (28 conv/FC layers counting depthwise and pointwise separately). Removed blocks
        keep their numbers out of the names, so names always match weight keys.

    Examples
    --------
    >>> net = mobilenet_v1(0.75, 128)
    >>> [n.name for n in net][:3], net["conv_pw_13"].out_ch, net["conv_pw_13"].out_size
    (['conv1', 'conv_dw_1', 'conv_pw_1'], 768, 4)
    >>> keras = mobilenet_v1(0.5, 200, flavour="keras")
    >>> keras["conv_dw_6"].out_size, keras["conv_dw_12"].out_size, mobilenet_v1(0.5, 200)["conv_dw_6"].out_size
    (12, 6, 13)
    """
    alpha = _check_alpha(alpha)
    size = resolve_resolution(resolution, rho)
    flavour = get_flavour(flavour)
    if num_classes is None:
        num_classes = flavour.num_classes
    elif type(num_classes) is not int or not 1 <= num_classes <= MAX_SIZE:
        num_classes = positive_int(num_classes, "num_classes")
    activation = flavour.activation if activation is None else activation
    if not one_of(activation, ACTIVATIONS) or activation is None:
        raise SpecError(f"activation must be one of {', '.join(a for a in ACTIVATIONS if a)}, got {activation!r}")
    if type(shallow) is not bool or type(separable) is not bool:
        shallow, separable = boolean(shallow, "shallow"), boolean(separable, "separable")
    layers = _layers(alpha, shallow, separable, int(num_classes), activation, flavour)

    variant = "shallow" if shallow else "full-conv" if not separable else "standard"
    if shallow and not separable:
        variant = "shallow full-conv"
    width = f"{alpha:g}" if "." in f"{alpha:g}" else f"{alpha:.1f}"  # the paper's "1.0", "0.75"
    label = f"MobileNetV1 {width}-{size}" + ("" if variant == "standard" else f" ({variant})")
    if flavour.name != "paper":
        label += f" [{flavour.name}]"
    config = {
        "alpha": alpha,
        "resolution": size,
        "shallow": shallow,
        "separable": separable,
        "num_classes": int(num_classes),
        "activation": activation,
        "flavour": flavour.name,
    }
    return Network(layers, input_size=size, in_ch=3, name=label, config=config)
