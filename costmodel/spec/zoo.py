"""Built-in networks by name: MobileNetV1, the comparison networks of the paper's Tables 8 and 9, and the
mobile networks that followed it (MobileNetV2, MobileNetV3, MNASNet, EfficientNet-B0), and the graph networks of
:mod:`costmodel.spec.zoo_graph` (ResNet-18/50, DenseNet-121, ShuffleNetV2 x1.0).

The networks follow the torchvision definitions layer for layer (``torchvision/models/vgg.py``,
``googlenet.py``, ``alexnet.py``, ``squeezenet.py``, ``mobilenetv2.py``, ``mobilenetv3.py``, ``mnasnet.py``,
``efficientnet.py``; channel rounding ``_utils._make_divisible`` is :func:`make_divisible`), so that their
parameter counts under the ``torch`` convention are exactly the ones torchvision documents
(``data/torchvision_params.csv``), and their Mult-Adds round to its GFLOPS column (``data/torchvision_ops.csv``,
:mod:`costmodel.paper.torchvision`). Dropout and stochastic depth are inference-time identities and are left
out; flattening is implicit in :class:`~costmodel.spec.layers.Linear`. Layer names follow torchvision's module
names where they are stable (``inception3a.branch2.1``); inverted residual blocks are ``block<i>`` with the
sub-layers :func:`~costmodel.spec.blocks.inverted_residual` names (``block4.se.reduce``).

>>> import costmodel
>>> costmodel.count(costmodel.network("squeezenet1_1"), "torch").params
1235496
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..checks import positive_int
from ..errors import SpecError
from .blocks import inverted_residual
from .layers import AdaptiveAvgPool, Concat, Conv2d, GlobalAvgPool, Layer, Linear, Pool2d
from .mobilenet import mobilenet_v1
from .network import Network

__all__ = [
    "network",
    "NETWORKS",
    "vgg16",
    "googlenet",
    "alexnet",
    "squeezenet1_0",
    "squeezenet1_1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mnasnet1_0",
    "efficientnet_b0",
]


def _conv(name: str, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0) -> Conv2d:
    """torchvision's plain ``nn.Conv2d`` (with bias) + ``nn.ReLU``: no batch norm."""
    return Conv2d(name, in_ch, out_ch, kernel, stride, padding=padding, bias=True, batch_norm=False)


def _check(resolution: object, num_classes: object) -> None:
    positive_int(resolution, "resolution")
    positive_int(num_classes, "num_classes")


def vgg16(resolution: int = 224, num_classes: int = 1000) -> Network:
    """VGG16 (configuration "D"), as ``torchvision.models.vgg16``: 13 3x3 convs, 5 max pools, 3 FC layers.

    torchvision average-pools adaptively to 7x7 before the classifier, so any resolution >= 32 works.
    """
    _check(resolution, num_classes)
    stages = (
        (64, 64),
        (128, 128),
        (256, 256, 256),
        (512, 512, 512),
        (512, 512, 512),
    )  # 224, 112, 56, 28, 14 in
    layers: list[Layer] = []
    ch = 3
    for s, widths in enumerate(stages, start=1):
        for i, out in enumerate(widths, start=1):
            layers.append(_conv(f"conv{s}_{i}", ch, out, 3, padding=1))
            ch = out
        layers.append(Pool2d(f"pool{s}", 2, 2, mode="max"))
    layers += [
        AdaptiveAvgPool("avgpool", 7),
        Linear("fc6", ch * 7 * 7, 4096, activation="relu"),
        Linear("fc7", 4096, 4096, activation="relu"),
        Linear("fc8", 4096, num_classes),
    ]
    return Network(layers, resolution, 3, name=f"VGG16-{resolution}", config={"resolution": resolution})


def alexnet(resolution: int = 224, num_classes: int = 1000, *, towers: int = 1) -> Network:
    """AlexNet as ``torchvision.models.alexnet`` (one tower, "One weird trick" widths 64-192-384-256-256).

    ``towers=2`` gives the original two-GPU AlexNet of Krizhevsky et al. (2012) as in Caffe's bvlc_alexnet:
    widths 96-256-384-384-256, conv2, conv4 and conv5 in two groups (it was trained on 227x227 inputs).
    """
    _check(resolution, num_classes)
    if towers == 2:
        return Network(
            [
                _conv("conv1", 3, 96, 11, stride=4),  # 227 in
                Pool2d("pool1", 3, 2, mode="max"),
                Conv2d("conv2", 96, 256, 5, padding=2, groups=2, bias=True, batch_norm=False),  # 27 in
                Pool2d("pool2", 3, 2, mode="max"),
                _conv("conv3", 256, 384, 3, padding=1),  # 13 in
                Conv2d("conv4", 384, 384, 3, padding=1, groups=2, bias=True, batch_norm=False),
                Conv2d("conv5", 384, 256, 3, padding=1, groups=2, bias=True, batch_norm=False),
                Pool2d("pool5", 3, 2, mode="max"),
                Linear("fc6", 256 * 6 * 6, 4096, activation="relu"),
                Linear("fc7", 4096, 4096, activation="relu"),
                Linear("fc8", 4096, num_classes),
            ],
            resolution,
            3,
            name=f"AlexNet (two towers)-{resolution}",
            config={"resolution": resolution, "towers": 2},
        )
    if towers != 1:
        raise SpecError(f"towers must be 1 (torchvision) or 2 (Krizhevsky et al.), got {towers!r}")
    layers: list[Layer] = [
        _conv("conv1", 3, 64, 11, stride=4, padding=2),  # 224 in
        Pool2d("pool1", 3, 2, mode="max"),
        _conv("conv2", 64, 192, 5, padding=2),  # 27 in
        Pool2d("pool2", 3, 2, mode="max"),
        _conv("conv3", 192, 384, 3, padding=1),  # 13 in
        _conv("conv4", 384, 256, 3, padding=1),
        _conv("conv5", 256, 256, 3, padding=1),
        Pool2d("pool5", 3, 2, mode="max"),
        AdaptiveAvgPool("avgpool", 6),
        Linear("fc6", 256 * 6 * 6, 4096, activation="relu"),
        Linear("fc7", 4096, 4096, activation="relu"),
        Linear("fc8", 4096, num_classes),
    ]
    return Network(layers, resolution, 3, name=f"AlexNet-{resolution}", config={"resolution": resolution})


def _basic(name: str, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0) -> Conv2d:
    """torchvision GoogLeNet's ``BasicConv2d``: conv without bias, batch norm (eps 0.001), ReLU (the function
    ``F.relu`` in ``forward``, not a module: ``pytorch="functional_act"``)."""
    return Conv2d(name, in_ch, out_ch, kernel, stride, padding=padding, bias=False, batch_norm=True,
                  pytorch="functional_act")  # fmt: skip


# torchvision's Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) arguments, per block.
_INCEPTION: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),  # 28x28 in
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),  # 14x14 in
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),  # 7x7 in
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def _inception(name: str, k5: int = 3) -> Concat:
    in_ch, c1, c3r, c3, c5r, c5, proj = _INCEPTION[name]
    return Concat(
        name,
        (
            (_basic(f"{name}.branch1", in_ch, c1, 1),),
            (_basic(f"{name}.branch2.0", in_ch, c3r, 1), _basic(f"{name}.branch2.1", c3r, c3, 3, padding=1)),
            # torchvision's "5x5" branch uses a 3x3 kernel (a known bug, kept for weight compatibility).
            (_basic(f"{name}.branch3.0", in_ch, c5r, 1), _basic(f"{name}.branch3.1", c5r, c5, k5, padding=k5 // 2)),
            (
                Pool2d(f"{name}.branch4.0", 3, 1, mode="max", padding=1, ceil_mode=True),
                _basic(f"{name}.branch4.1", in_ch, proj, 1),
            ),
        ),
    )


def googlenet(resolution: int = 224, num_classes: int = 1000, *, branch3_kernel: int = 3) -> Network:
    """GoogLeNet (Inception v1) as ``torchvision.models.googlenet``, without the auxiliary classifiers.

    Every conv is torchvision's ``BasicConv2d`` (no bias, batch norm, ReLU); max pools use ``ceil_mode``.
    ``branch3_kernel=5`` gives the 5x5 convolutions of Szegedy et al. (2014) where torchvision has 3x3.
    """
    _check(resolution, num_classes)
    if branch3_kernel not in (3, 5):
        raise SpecError(f"branch3_kernel must be 3 (torchvision) or 5 (Szegedy et al.), got {branch3_kernel!r}")
    layers: list[Layer] = [
        _basic("conv1", 3, 64, 7, stride=2, padding=3),  # 224 in
        Pool2d("maxpool1", 3, 2, mode="max", ceil_mode=True),
        _basic("conv2", 64, 64, 1),  # 56 in
        _basic("conv3", 64, 192, 3, padding=1),
        Pool2d("maxpool2", 3, 2, mode="max", ceil_mode=True),
        _inception("inception3a", branch3_kernel),  # 28 in
        _inception("inception3b", branch3_kernel),
        Pool2d("maxpool3", 3, 2, mode="max", ceil_mode=True),
        *(_inception(f"inception4{c}", branch3_kernel) for c in "abcde"),  # 14 in
        Pool2d("maxpool4", 2, 2, mode="max", ceil_mode=True),
        _inception("inception5a", branch3_kernel),  # 7 in
        _inception("inception5b", branch3_kernel),
        GlobalAvgPool("avgpool"),
        Linear("fc", 1024, num_classes),
    ]
    return Network(layers, resolution, 3, name=f"GoogLeNet-{resolution}", config={"resolution": resolution})


def _fire(name: str, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int) -> tuple[Conv2d, Concat]:
    """torchvision's ``Fire``: a 1x1 squeeze conv, then 1x1 and 3x3 expand convs concatenated (all ReLU)."""
    return (
        _conv(f"{name}.squeeze", in_ch, squeeze, 1),
        Concat(
            f"{name}.expand",
            (
                (_conv(f"{name}.expand1x1", squeeze, expand1x1, 1),),
                (_conv(f"{name}.expand3x3", squeeze, expand3x3, 3, padding=1),),
            ),
        ),
    )


# Fire modules (name, in, squeeze, expand1x1, expand3x3) and max pools ("pool"), after the first conv + pool.
_SQUEEZE_BODY: dict[str, tuple[tuple[str, int, int, int, int] | str, ...]] = {
    "1_0": (
        ("fire2", 96, 16, 64, 64),
        ("fire3", 128, 16, 64, 64),
        ("fire4", 128, 32, 128, 128),
        "pool4",
        ("fire5", 256, 32, 128, 128),
        ("fire6", 256, 48, 192, 192),
        ("fire7", 384, 48, 192, 192),
        ("fire8", 384, 64, 256, 256),
        "pool8",
        ("fire9", 512, 64, 256, 256),
    ),
    "1_1": (
        ("fire2", 64, 16, 64, 64),
        ("fire3", 128, 16, 64, 64),
        "pool3",
        ("fire4", 128, 32, 128, 128),
        ("fire5", 256, 32, 128, 128),
        "pool5",
        ("fire6", 256, 48, 192, 192),
        ("fire7", 384, 48, 192, 192),
        ("fire8", 384, 64, 256, 256),
        ("fire9", 512, 64, 256, 256),
    ),
}


def _squeezenet(version: str, resolution: int, num_classes: int) -> Network:
    _check(resolution, num_classes)
    first = _conv("conv1", 3, 96, 7, stride=2) if version == "1_0" else _conv("conv1", 3, 64, 3, stride=2)
    layers: list[Layer] = [first, Pool2d("pool1", 3, 2, mode="max", ceil_mode=True)]
    for item in _SQUEEZE_BODY[version]:
        if isinstance(item, str):
            layers.append(Pool2d(item, 3, 2, mode="max", ceil_mode=True))
        else:
            layers.extend(_fire(*item))
    layers += [
        _conv("conv10", 512, num_classes, 1),
        GlobalAvgPool("avgpool"),
    ]  # classifier: final_conv + ReLU
    label = f"SqueezeNet {version.replace('_', '.')}-{resolution}"
    return Network(layers, resolution, 3, name=label, config={"resolution": resolution})


def squeezenet1_0(resolution: int = 224, num_classes: int = 1000) -> Network:
    """SqueezeNet 1.0 as ``torchvision.models.squeezenet1_0`` (7x7/2 first conv, 96 channels)."""
    return _squeezenet("1_0", resolution, num_classes)


def squeezenet1_1(resolution: int = 224, num_classes: int = 1000) -> Network:
    """SqueezeNet 1.1 as ``torchvision.models.squeezenet1_1`` (3x3/2 first conv, 64 channels)."""
    return _squeezenet("1_1", resolution, num_classes)


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's (and TF's) channel rounding for MobileNetV2: the nearest multiple of ``divisor``, at least
    ``divisor``, and never more than 10 % below ``value``. (MobileNetV1's rule is ``scale_channels``.)"""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


# (expansion t, output channels c, repeats n, first stride s), as in torchvision's MobileNetV2 and the paper.
_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2(resolution: int = 224, num_classes: int = 1000, *, alpha: float = 1.0) -> Network:
    """MobileNetV2 (Sandler et al., 2018) as ``torchvision.models.mobilenet_v2``: inverted residual blocks
    (1x1 expansion, 3x3 depthwise, linear 1x1 projection; every conv with batch norm, ReLU6 except the
    projection), a residual addition where stride is 1 and the channels stay, a 1x1 conv to 1280, global
    average pooling and an FC layer. Blocks are named ``block<i>`` (``.expand``, ``.dw``, ``.project``).

    torchvision pools with the function ``nn.functional.adaptive_avg_pool2d``, not a module
    (``GlobalAvgPool(pytorch="function")``): thop, which hooks modules, does not see it; ptflops counts it once
    (its patched function), fvcore once (``aten::adaptive_avg_pool2d``); see :mod:`costmodel.counting.presets`.
    """
    _check(resolution, num_classes)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise SpecError(f"alpha must be a number > 0, got {alpha!r}")
    relu6: dict[str, Any] = {"bias": False, "batch_norm": True, "activation": "relu6"}
    ch = make_divisible(32 * alpha)
    layers: list[Layer] = [Conv2d("conv1", 3, ch, 3, 2, padding=1, **relu6)]  # 224 in
    i = 0
    for t, c, n, s in _V2_SETTINGS:
        out = make_divisible(c * alpha)
        for r in range(n):
            i += 1
            layers += inverted_residual(f"block{i}", ch, out, expand_ch=int(round(ch * t)), kernel=3,
                                        stride=s if r == 0 else 1, activation="relu6")  # fmt: skip
            ch = out
    last = make_divisible(1280 * max(1.0, alpha))
    pool = GlobalAvgPool("avgpool", pytorch="function")  # nn.functional.adaptive_avg_pool2d(x, (1, 1))
    layers += [Conv2d("conv_last", ch, last, 1, **relu6), pool, Linear("fc", last, num_classes)]
    width = f"{alpha:g}" if "." in f"{alpha:g}" else f"{alpha:.1f}"  # "1.0", "0.75", as MobileNetV1's labels
    label = f"MobileNetV2 {width}-{resolution}"
    return Network(layers, resolution, 3, name=label, config={"resolution": resolution, "alpha": alpha})


# MobileNetV3 (Howard et al., 2019) as torchvision's _mobilenet_v3_conf: per block (input channels, kernel,
# expanded channels, output channels, squeeze-and-excite, activation, stride).
_V3_LARGE = (
    (16, 3, 16, 16, False, "relu", 1),  # 112x112 in
    (16, 3, 64, 24, False, "relu", 2),
    (24, 3, 72, 24, False, "relu", 1),  # 56x56 in
    (24, 5, 72, 40, True, "relu", 2),
    (40, 5, 120, 40, True, "relu", 1),  # 28x28 in
    (40, 5, 120, 40, True, "relu", 1),
    (40, 3, 240, 80, False, "hardswish", 2),
    (80, 3, 200, 80, False, "hardswish", 1),  # 14x14 in
    (80, 3, 184, 80, False, "hardswish", 1),
    (80, 3, 184, 80, False, "hardswish", 1),
    (80, 3, 480, 112, True, "hardswish", 1),
    (112, 3, 672, 112, True, "hardswish", 1),
    (112, 5, 672, 160, True, "hardswish", 2),
    (160, 5, 960, 160, True, "hardswish", 1),  # 7x7 in
    (160, 5, 960, 160, True, "hardswish", 1),
)
_V3_SMALL = (
    (16, 3, 16, 16, True, "relu", 2),  # 112x112 in
    (16, 3, 72, 24, False, "relu", 2),  # 56x56 in
    (24, 3, 88, 24, False, "relu", 1),  # 28x28 in
    (24, 5, 96, 40, True, "hardswish", 2),
    (40, 5, 240, 40, True, "hardswish", 1),  # 14x14 in
    (40, 5, 240, 40, True, "hardswish", 1),
    (40, 5, 120, 48, True, "hardswish", 1),
    (48, 5, 144, 48, True, "hardswish", 1),
    (48, 5, 288, 96, True, "hardswish", 2),
    (96, 5, 576, 96, True, "hardswish", 1),  # 7x7 in
    (96, 5, 576, 96, True, "hardswish", 1),
)


def _mobilenet_v3(size: str, resolution: int, num_classes: int) -> Network:
    _check(resolution, num_classes)
    setting, last = (_V3_LARGE, 1280) if size == "large" else (_V3_SMALL, 1024)
    bn: dict[str, Any] = {"bias": False, "batch_norm": True}
    layers: list[Layer] = [Conv2d("conv1", 3, setting[0][0], 3, 2, padding=1, **bn, activation="hardswish")]
    for i, (in_ch, k, exp, out, se, act, stride) in enumerate(setting, start=1):
        layers += inverted_residual(
            f"block{i}", in_ch, out, expand_ch=exp, kernel=k, stride=stride, activation=act,
            se_ch=make_divisible(exp // 4) if se else None, se_activation="relu", se_gate="hardsigmoid",
        )  # fmt: skip
    ch = setting[-1][3]
    layers += [
        Conv2d("conv_last", ch, 6 * ch, 1, **bn, activation="hardswish"),
        GlobalAvgPool("avgpool"),
        Linear("fc1", 6 * ch, last, activation="hardswish"),
        Linear("fc", last, num_classes),
    ]
    label = f"MobileNetV3-{size.capitalize()}-{resolution}"
    return Network(layers, resolution, 3, name=label, config={"resolution": resolution})


def mobilenet_v3_large(resolution: int = 224, num_classes: int = 1000) -> Network:
    """MobileNetV3-Large as ``torchvision.models.mobilenet_v3_large``: 15 inverted residual blocks (3x3 and
    5x5 depthwise, squeeze-and-excite with a hard-sigmoid gate in 8 of them, ReLU then h-swish), a 1x1 conv to
    960, global average pooling, FC 1280 with h-swish, FC. Blocks ``block<i>`` as
    :func:`~costmodel.blocks.inverted_residual` names them."""
    return _mobilenet_v3("large", resolution, num_classes)


def mobilenet_v3_small(resolution: int = 224, num_classes: int = 1000) -> Network:
    """MobileNetV3-Small as ``torchvision.models.mobilenet_v3_small`` (11 blocks, SE in 9, FC 1024)."""
    return _mobilenet_v3("small", resolution, num_classes)


# MNASNet-B1 (Tan et al., 2019) as torchvision's MNASNet(1.0): after the stem, stacks of (output channels,
# kernel, first stride, expansion, repeats).
_MNAS_STACKS = (
    (24, 3, 2, 3, 3),  # 112x112 in
    (40, 5, 2, 3, 3),  # 56x56 in
    (80, 5, 2, 6, 3),  # 28x28 in
    (96, 3, 1, 6, 2),  # 14x14 in
    (192, 5, 2, 6, 4),
    (320, 3, 1, 6, 1),  # 7x7 in
)


def mnasnet1_0(resolution: int = 224, num_classes: int = 1000) -> Network:
    """MNASNet 1.0 as ``torchvision.models.mnasnet1_0``: a 3x3 conv, a depthwise separable pair without skip,
    six stacks of inverted residuals (every one with its 1x1 expansion, ReLU, no squeeze-and-excite), a 1x1
    conv to 1280 and an FC layer. torchvision averages with ``x.mean([2, 3])``, a tensor op, not a pooling
    module (``GlobalAvgPool(pytorch="mean")``), which none of the counting tools counts (see
    :mod:`costmodel.counting.presets`)."""
    _check(resolution, num_classes)
    bn: dict[str, Any] = {"bias": False, "batch_norm": True}
    layers: list[Layer] = [
        Conv2d("conv1", 3, 32, 3, 2, padding=1, **bn),  # 224 in
        Conv2d("conv2.dw", 32, 32, 3, 1, groups=32, padding=1, **bn),  # 112 in
        Conv2d("conv2.pw", 32, 16, 1, **bn, activation=None),
    ]
    ch, i = 16, 0
    for out, k, s, t, n in _MNAS_STACKS:
        for r in range(n):
            i += 1
            stride = s if r == 0 else 1
            layers += inverted_residual(f"block{i}", ch, out, expand_ch=ch * t, kernel=k, stride=stride,
                                        activation="relu")  # fmt: skip
            ch = out
    pool = GlobalAvgPool("avgpool", pytorch="mean")  # x.mean([2, 3])
    layers += [Conv2d("conv_last", ch, 1280, 1, **bn), pool, Linear("fc", 1280, num_classes)]
    return Network(layers, resolution, 3, name=f"MNASNet 1.0-{resolution}", config={"resolution": resolution})


# EfficientNet-B0 (Tan & Le, 2019) as torchvision's _efficientnet_conf: per stage (expansion, kernel, first
# stride, input channels, output channels, repeats).
_B0_STAGES = (
    (1, 3, 1, 32, 16, 1),  # 112x112 in
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),  # 56x56 in
    (6, 3, 2, 40, 80, 3),  # 28x28 in
    (6, 5, 1, 80, 112, 3),  # 14x14 in
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),  # 7x7 in
)


def efficientnet_b0(resolution: int = 224, num_classes: int = 1000) -> Network:
    """EfficientNet-B0 as ``torchvision.models.efficientnet_b0``: 16 MBConv blocks, SiLU throughout, squeeze-
    and-excite in every block (``max(1, in_ch // 4)`` squeeze channels of the block's *input*, SiLU, sigmoid
    gate), a 1x1 conv to 1280 and an FC layer. Stochastic depth and dropout are identities at inference."""
    _check(resolution, num_classes)
    bn: dict[str, Any] = {"bias": False, "batch_norm": True}
    layers: list[Layer] = [Conv2d("conv1", 3, 32, 3, 2, padding=1, **bn, activation="silu")]
    i = 0
    for t, k, s, in_ch, out, n in _B0_STAGES:
        for r in range(n):
            i += 1
            ch = in_ch if r == 0 else out
            layers += inverted_residual(
                f"block{i}", ch, out, expand_ch=make_divisible(ch * t), kernel=k, stride=s if r == 0 else 1,
                activation="silu", se_ch=max(1, ch // 4), se_activation="silu", se_gate="sigmoid",
            )  # fmt: skip
    layers += [
        Conv2d("conv_last", 320, 1280, 1, **bn, activation="silu"),
        GlobalAvgPool("avgpool"),
        Linear("fc", 1280, num_classes),
    ]
    return Network(layers, resolution, 3, name=f"EfficientNet-B0-{resolution}", config={"resolution": resolution})


#: Builders by name, with keyword arguments ``resolution``, ``num_classes`` (MobileNetV1: also ``alpha``...).
NETWORKS: dict[str, Callable[..., Network]] = {
    "mobilenet_v1": mobilenet_v1,
    "vgg16": vgg16,
    "googlenet": googlenet,
    "alexnet": alexnet,
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_1": squeezenet1_1,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_large": mobilenet_v3_large,
    "mobilenet_v3_small": mobilenet_v3_small,
    "mnasnet1_0": mnasnet1_0,
    "efficientnet_b0": efficientnet_b0,
}


def _graph_network(name: str) -> Callable[..., Network]:
    """A builder of :mod:`costmodel.spec.zoo_graph`, imported on first use (``import costmodel`` stays lean)."""

    def build(**kwargs: Any) -> Network:
        from . import zoo_graph

        return getattr(zoo_graph, name)(**kwargs)  # type: ignore[no-any-return]

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"``costmodel.spec.zoo_graph.{name}`` (imported on first use)."
    return build


# graphs: projection shortcuts, growing concatenation, split and shuffle
NETWORKS.update((name, _graph_network(name)) for name in ("resnet18", "resnet50", "densenet121", "shufflenet_v2_x1_0"))


def network(name: str, **kwargs: Any) -> Network:
    """A built-in network by name: ``mobilenet_v1``, ``vgg16``, ``googlenet``, ``alexnet``, ``squeezenet1_0``,
    ``squeezenet1_1``, ``mobilenet_v2``, ``mobilenet_v3_large``, ``mobilenet_v3_small``, ``mnasnet1_0``,
    ``efficientnet_b0``, ``resnet18``, ``resnet50``, ``densenet121``, ``shufflenet_v2_x1_0``. Keyword arguments
    go to the builder.

    Examples
    --------
    >>> net = network("googlenet")
    >>> net["inception3a"].out_ch, net["inception3a"].out_size
    (256, 28)
    >>> network("mobilenet_v1", alpha=0.5, resolution=160).name
    'MobileNetV1 0.5-160'
    """
    if not isinstance(name, str) or name not in NETWORKS:
        raise SpecError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    try:
        return NETWORKS[name](**kwargs)
    except TypeError as exc:  # an unknown keyword argument
        raise SpecError(f"{name}: {exc}") from None
