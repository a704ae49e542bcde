"""Networks from timm's architecture definitions: the block strings NAS papers and timm use.

timm (``timm/models/_efficientnet_builder.py``) declares EfficientNet, MobileNetV2/V3, MNASNet, FBNet and many
NAS results as stages of block strings: ``ir_r2_k5_s2_e6_c40_se0.25`` is two inverted residuals (``ir``),
5x5 depthwise, the first at stride 2, expansion 6, 40 output channels, squeeze-and-excite ratio 0.25. This
module decodes those strings once (:func:`decode_block`, :func:`decode_arch_def`) into typed
:class:`BlockArgs`, and builds a :class:`~costmodel.spec.network.Network` from them (:func:`from_timm_arch`)
with timm's own rules, read from its source:

- channels: ``round_channels`` (``make_divisible(c * multiplier, 8)``, never more than 10 % down); expanded
  channels ``make_divisible(in_ch * e)``; depth multiplier per stage by ``_scale_stage_depth`` ("ceil");
- only a stage's first block keeps its stride; padding is PyTorch's ``((s - 1) + (k - 1)) // 2`` per side;
- block types ``ds`` (depthwise separable: k x k depthwise, [SE], 1x1; ``dsa`` also activates the 1x1 and
  never skips), ``ir`` (1x1 expansion, always present, even at e1; k x k depthwise; [SE]; linear 1x1), ``er``
  (edge residual: k x k expansion; [SE]; linear 1x1), ``cn`` (conv, batch norm, activation); a block adds its
  input when stride 1 keeps the channels, unless ``noskip`` (``cn`` only with ``skip``);
- squeeze-and-excite: the two families differ (:class:`Family`). EfficientNet's reduces
  ``round(c * se / e)`` of the expanded channels (Python's ``round``) with the block's activation and a
  sigmoid gate; MobileNetV3's ``round_channels(c * se)`` with ReLU and a hard-sigmoid gate;
- the head: EfficientNet's 1x1 conv with batch norm before pooling (none when ``num_features`` is 0, as
  ``mobilenetv1_100``), MobileNetV3's 1x1 conv with bias after pooling; then the classifier.

Names follow timm's modules (``conv_stem``, ``blocks.2.1.conv_dw``, ``blocks.2.1.se``, ``conv_head``,
``classifier``), so they double as state-dict prefixes. Batch norm epsilon is PyTorch's 1e-5, and each batch
norm with its activation is timm's ``BatchNormAct2d`` (``Conv2d.pytorch = "bn_act"``), as the counting tools see it.

Options a counting spec cannot express are errors naming the string: CondConv (``cc``), group size
(``gs``), space-to-depth (``d``), the ``uir``/``mqa``/``mha`` blocks, and activations other than the spec's.

>>> blocks, repeats = decode_block("ir_r2_k5_s2_e6_c40_se0.25")
>>> blocks.block_type, blocks.kernel, blocks.stride, blocks.expand, blocks.out_ch, blocks.se_ratio, repeats
('ir', 5, 2, 6.0, 40, 0.25, 2)
>>> net = timm_network("efficientnet_b0")
>>> net["blocks.1.0.conv_dw"].out_size, net["blocks.1.0.se.reduce"].layer.out_ch
(56, 4)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..checks import boolean, one_of, positive_int
from ..errors import SpecError
from .blocks import squeeze_excite
from .layers import Conv2d, GlobalAvgPool, Layer, Linear, Residual
from .network import Network

__all__ = [
    "BlockArgs",
    "Family",
    "FAMILIES",
    "TIMM_MODELS",
    "decode_block",
    "decode_arch_def",
    "from_timm_arch",
    "timm_network",
]

#: timm's activation codes (``n<code>`` in a block string) and model defaults, as the spec names them.
_ACTIVATION_CODES = {"re": "relu", "r6": "relu6", "hs": "hardswish", "sw": "silu"}
_BLOCK_TYPES = ("ds", "dsa", "ir", "er", "cn")
_UNSUPPORTED = {
    "cc": "CondConv experts",
    "gs": "group size",
    "d": "space-to-depth",
    "a": "an expansion kernel other than 1x1",
    "p": "a projection kernel other than 1x1",
    "fc": "a forced input width",
}
#: PyTorch's BatchNorm2d epsilon; timm writes each batch norm and its activation as one BatchNormAct2d module
#: (which the hook-based counting tools see differently: Conv2d.pytorch).
_BN: dict[str, Any] = {"bias": False, "batch_norm": True, "bn_epsilon": 1e-5, "pytorch": "bn_act"}


@dataclass(frozen=True, slots=True)
class BlockArgs:
    """One decoded block string (before the model's channel multiplier and activation are applied)."""

    block_type: Literal["ds", "dsa", "ir", "er", "cn"]
    out_ch: int  # ``c``: output channels before ``round_channels``
    stride: int  # ``s``: the stage's first block only (the builder sets the others to 1)
    kernel: int  # ``k``: depthwise kernel (ds, dsa, ir), expansion kernel (er), the conv's kernel (cn)
    expand: float = 1.0  # ``e``: expansion ratio (ir, er); timm ignores it elsewhere
    se_ratio: float = 0.0  # ``se``: squeeze-and-excite ratio, 0 for none
    activation: str | None = None  # ``n<code>``; None: the model's default
    skip: bool | None = None  # ``noskip`` -> False, ``skip`` -> True, else the block type's rule


def _number(text: str, key: str, block: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise SpecError(f"timm block {block!r}: {key}{text} is not a number") from None
    if kind is float and not (math.isfinite(value) and value >= 0):
        raise SpecError(f"timm block {block!r}: {key}{text} must be a finite number >= 0")
    return value


def decode_block(text: str) -> tuple[BlockArgs, int]:
    """One timm block string as (:class:`BlockArgs`, repeats), by timm's ``_decode_block_str`` rules.

    >>> decode_block("ds_r1_k3_s1_e1_c16_nre")[0].activation
    'relu'
    """
    if not isinstance(text, str) or not text:
        raise SpecError(f"a timm block string must be a non-empty string, got {text!r}")
    block_type, *ops = text.split("_")
    if block_type not in _BLOCK_TYPES:
        raise SpecError(f"timm block {text!r}: block type {block_type!r} is not one of {', '.join(_BLOCK_TYPES)}")
    options: dict[str, str] = {}
    skip: bool | None = None
    activation: str | None = None
    for op in ops:
        if op in ("noskip", "skip"):
            skip = op == "skip"
        elif op.startswith("n") and not op[1:2].isdigit():
            if op[1:] not in _ACTIVATION_CODES:
                raise SpecError(
                    f"timm block {text!r}: activation {op[1:]!r} is not one of {', '.join(_ACTIVATION_CODES)}"
                )
            activation = _ACTIVATION_CODES[op[1:]]
        else:
            parts = re.split(r"(\d.*)", op)
            if len(parts) < 2:
                raise SpecError(f"timm block {text!r}: option {op!r} has no value")
            key, value = parts[0], parts[1]
            if key in _UNSUPPORTED:
                raise SpecError(f"timm block {text!r}: {_UNSUPPORTED[key]} ({op}) is not supported")
            if key not in ("r", "k", "s", "e", "c", "se"):
                raise SpecError(f"timm block {text!r}: unknown option {op!r}")
            options[key] = value
    for key in ("r", "k", "s", "c"):
        if key not in options:
            raise SpecError(f"timm block {text!r}: the option {key!r} is missing")
    repeats = _number(options["r"], "r", text, int)
    stride = _number(options["s"], "s", text, int)
    if repeats < 1 or stride not in (1, 2):
        raise SpecError(f"timm block {text!r}: needs r >= 1 and s in (1, 2)")
    if block_type in ("ir", "er") and "e" not in options:
        raise SpecError(f"timm block {text!r}: the option 'e' is missing")
    args = BlockArgs(
        block_type=block_type,  # type: ignore[arg-type]
        out_ch=positive_int(_number(options["c"], "c", text, int), f"timm block {text!r}: c"),
        stride=stride,
        kernel=positive_int(_number(options["k"], "k", text, int), f"timm block {text!r}: k"),
        expand=_number(options.get("e", "1"), "e", text, float),
        se_ratio=_number(options.get("se", "0"), "se", text, float),
        activation=activation,
        skip=skip,
    )
    if args.expand <= 0:
        raise SpecError(f"timm block {text!r}: e must be > 0")
    return args, repeats


def _scale_stage_depth(args: list[BlockArgs], repeats: list[int], multiplier: float) -> list[BlockArgs]:
    """timm's ``_scale_stage_depth`` with ``depth_trunc="ceil"``: scale the stage's total, then share it out
    from the last block string backwards (Python's ``round``, at least one each)."""
    total = sum(repeats)
    scaled_total = int(math.ceil(total * multiplier))
    scaled: list[int] = []
    for r in repeats[::-1]:
        rs = max(1, round(r / total * scaled_total))
        scaled.append(rs)
        total -= r
        scaled_total -= rs
    return [a for a, n in zip(args, scaled[::-1], strict=True) for _ in range(n)]


def decode_arch_def(
    arch_def: Sequence[Sequence[str]], depth_multiplier: float = 1.0
) -> tuple[tuple[BlockArgs, ...], ...]:
    """timm's ``decode_arch_def``: stages of block strings -> stages of :class:`BlockArgs`, one per block,
    with the depth multiplier applied per stage."""
    if isinstance(arch_def, (str, bytes)) or not isinstance(arch_def, Sequence) or not arch_def:
        raise SpecError(f"a timm architecture must be a non-empty list of stages, got {arch_def!r}")
    if (
        isinstance(depth_multiplier, bool)
        or not isinstance(depth_multiplier, (int, float))
        or not (0 < depth_multiplier <= 100 and math.isfinite(depth_multiplier))
    ):
        raise SpecError(f"depth_multiplier must be a number in (0, 100], got {depth_multiplier!r}")
    stages = []
    for i, stage in enumerate(arch_def):
        if isinstance(stage, (str, bytes)) or not isinstance(stage, Sequence) or not stage:
            raise SpecError(f"timm stage {i} must be a non-empty list of block strings, got {stage!r}")
        decoded = [decode_block(text) for text in stage]
        stages.append(tuple(_scale_stage_depth([a for a, _ in decoded], [r for _, r in decoded], depth_multiplier)))
    return tuple(stages)


def _make_divisible(value: float, divisor: int = 8) -> int:
    """timm's ``make_divisible`` (``round_limit`` 0.9): nearest multiple, at least ``divisor``, at most 10 %
    below ``value``."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * value else out


def _round_channels(channels: float, multiplier: float = 1.0) -> int:
    return _make_divisible(channels * multiplier)


@dataclass(frozen=True, slots=True)
class Family:
    """What differs between timm's model classes built from block strings."""

    name: str
    se_from_exp: bool  # SE ratio of the expanded channels as given (MobileNetV3) or divided by e (EfficientNet)
    se_round: Literal["round", "divisible"]  # Python's round (EfficientNet) or round_channels (MobileNetV3)
    se_activation: str | None  # None: the block's own activation (EfficientNet); MobileNetV3 forces ReLU
    se_gate: Literal["sigmoid", "hardsigmoid"]
    # EfficientNet: conv + BN + activation, then pool; MobileNetV3: pool, then conv with bias + activation
    head: Literal["conv_then_pool", "pool_then_conv"]


#: ``EfficientNet`` (timm/models/efficientnet.py) and ``MobileNetV3`` (timm/models/mobilenetv3.py).
FAMILIES = {
    "efficientnet": Family("efficientnet", False, "round", None, "sigmoid", "conv_then_pool"),
    "mobilenetv3": Family("mobilenetv3", True, "divisible", "relu", "hardsigmoid", "pool_then_conv"),
}


def _pad(kernel: int, stride: int) -> int:
    return ((stride - 1) + (kernel - 1)) // 2  # timm.layers.padding.get_padding, dilation 1


def _se(name: str, channels: int, args: BlockArgs, family: Family, activation: str) -> Layer | None:
    if not args.se_ratio:
        return None
    ratio = args.se_ratio
    if not family.se_from_exp:
        ratio /= args.expand if args.block_type in ("ir", "er") else 1.0
    squeeze = round(channels * ratio) if family.se_round == "round" else _round_channels(channels * ratio)
    return squeeze_excite(
        f"{name}.se", channels, max(1, squeeze), activation=family.se_activation or activation, gate=family.se_gate
    )


def _block(name: str, args: BlockArgs, in_ch: int, out_ch: int, stride: int, act: str, family: Family) -> list[Layer]:
    k, t = args.kernel, args.block_type
    body: list[Layer] = []
    if t in ("ds", "dsa"):
        mid = in_ch
        body.append(Conv2d(f"{name}.conv_dw", in_ch, in_ch, k, stride, groups=in_ch, padding=_pad(k, stride), **_BN,
                           activation=act))  # fmt: skip
    elif t == "ir":
        mid = _make_divisible(in_ch * args.expand)
        body.append(Conv2d(f"{name}.conv_pw", in_ch, mid, 1, **_BN, activation=act))
        body.append(Conv2d(f"{name}.conv_dw", mid, mid, k, stride, groups=mid, padding=_pad(k, stride), **_BN,
                           activation=act))  # fmt: skip
    elif t == "er":
        mid = _make_divisible(in_ch * args.expand)
        body.append(Conv2d(f"{name}.conv_exp", in_ch, mid, k, stride, padding=_pad(k, stride), **_BN, activation=act))
    else:  # cn
        conv = Conv2d(f"{name}.conv", in_ch, out_ch, k, stride, padding=_pad(k, stride), **_BN, activation=act)
        keep = args.skip is True and stride == 1 and in_ch == out_ch
        return [Residual(name, (conv,))] if keep else [conv]
    se = _se(name, mid, args, family, act)
    if se is not None:
        body.append(se)
    last = "conv_pw" if t in ("ds", "dsa") else "conv_pwl"
    body.append(Conv2d(f"{name}.{last}", mid, out_ch, 1, **_BN, activation=act if t == "dsa" else None))
    noskip = t == "dsa" or args.skip is False
    return [Residual(name, tuple(body))] if (stride == 1 and in_ch == out_ch and not noskip) else body


def from_timm_arch(
    arch_def: Sequence[Sequence[str]],
    *,
    family: str = "efficientnet",
    stem_size: int = 32,
    num_features: int = 1280,
    activation: str = "relu",
    channel_multiplier: float = 1.0,
    depth_multiplier: float = 1.0,
    fix_stem: bool = False,
    resolution: int = 224,
    num_classes: int = 1000,
    name: str | None = None,
) -> Network:
    """A :class:`~costmodel.spec.network.Network` from a timm architecture definition.

    Parameters
    ----------
    arch_def : list of list of str
        Stages of block strings, as timm's ``_gen_*`` functions write them.
    family : {"efficientnet", "mobilenetv3"}
        Which timm model class builds it (:data:`FAMILIES`): squeeze-and-excite rule and head.
    stem_size, num_features, activation, channel_multiplier, depth_multiplier, fix_stem
        The ``_gen_*`` function's model arguments (``activation`` is its ``act_layer``, in the spec's names:
        "relu", "relu6", "hardswish", "silu"). ``num_features`` 0 leaves out the EfficientNet head conv.

    Examples
    --------
    >>> net = from_timm_arch([["ds_r1_k3_s1_c16"], ["ir_r2_k3_s2_e6_c24"]], num_features=0, resolution=32,
    ...                      num_classes=10)
    >>> [layer.name for layer in net.layers][:4]
    ['conv_stem', 'blocks.0.0.conv_dw', 'blocks.0.0.conv_pw', 'blocks.1.0.conv_pw']
    """
    if not one_of(family, tuple(FAMILIES)):
        raise SpecError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    fam = FAMILIES[family]
    if not one_of(activation, tuple(_ACTIVATION_CODES.values())):
        raise SpecError(f"activation must be one of {', '.join(_ACTIVATION_CODES.values())}, got {activation!r}")
    if (
        isinstance(channel_multiplier, bool)
        or not isinstance(channel_multiplier, (int, float))
        or not (0 < channel_multiplier <= 100 and math.isfinite(channel_multiplier))
    ):
        raise SpecError(f"channel_multiplier must be a number in (0, 100], got {channel_multiplier!r}")
    stem_size = positive_int(stem_size, "stem_size")
    fix_stem = boolean(fix_stem, "fix_stem")
    num_classes = positive_int(num_classes, "num_classes")
    if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 0:
        raise SpecError(f"num_features must be an integer >= 0, got {num_features!r}")
    if name is not None and not isinstance(name, str):
        raise SpecError(f"name must be a string, got {type(name).__name__}")
    stages = decode_arch_def(arch_def, depth_multiplier)

    stem = stem_size if fix_stem else _round_channels(stem_size, channel_multiplier)
    layers: list[Layer] = [Conv2d("conv_stem", 3, stem, 3, 2, padding=1, **_BN, activation=activation)]
    ch = stem
    for i, stage in enumerate(stages):
        for j, args in enumerate(stage):
            out = _round_channels(args.out_ch, channel_multiplier)
            stride = args.stride if j == 0 else 1
            layers += _block(f"blocks.{i}.{j}", args, ch, out, stride, args.activation or activation, fam)
            ch = out
    if fam.head == "conv_then_pool":
        if num_features:
            layers.append(Conv2d("conv_head", ch, num_features, 1, **_BN, activation=activation))
            ch = num_features
        layers += [GlobalAvgPool("global_pool"), Linear("classifier", ch, num_classes)]
    else:
        layers += [
            GlobalAvgPool("global_pool"),
            Conv2d("conv_head", ch, num_features, 1, bias=True, batch_norm=False, activation=activation),
            Linear("classifier", num_features, num_classes),
        ]
    config = {"resolution": resolution, "num_classes": num_classes}
    return Network(layers, resolution, 3, name=name or f"timm {family}-{resolution}", config=config)


#: timm models by name: their ``_gen_*`` arguments, copied from timm's source (efficientnet.py, mobilenetv3.py).
TIMM_MODELS: dict[str, dict[str, Any]] = {
    "efficientnet_b0": {
        "family": "efficientnet",
        "arch_def": [
            ["ds_r1_k3_s1_e1_c16_se0.25"],
            ["ir_r2_k3_s2_e6_c24_se0.25"],
            ["ir_r2_k5_s2_e6_c40_se0.25"],
            ["ir_r3_k3_s2_e6_c80_se0.25"],
            ["ir_r3_k5_s1_e6_c112_se0.25"],
            ["ir_r4_k5_s2_e6_c192_se0.25"],
            ["ir_r1_k3_s1_e6_c320_se0.25"],
        ],
        "stem_size": 32,
        "num_features": 1280,
        "activation": "silu",
    },
    "mobilenetv1_100": {
        "family": "efficientnet",
        "arch_def": [
            ["dsa_r1_k3_s1_c64"],
            ["dsa_r2_k3_s2_c128"],
            ["dsa_r2_k3_s2_c256"],
            ["dsa_r6_k3_s2_c512"],
            ["dsa_r2_k3_s2_c1024"],
        ],
        "stem_size": 32,
        "num_features": 0,  # head_conv=False
        "activation": "relu6",
    },
    "mobilenetv2_100": {
        "family": "efficientnet",
        "arch_def": [
            ["ds_r1_k3_s1_c16"],
            ["ir_r2_k3_s2_e6_c24"],
            ["ir_r3_k3_s2_e6_c32"],
            ["ir_r4_k3_s2_e6_c64"],
            ["ir_r3_k3_s1_e6_c96"],
            ["ir_r3_k3_s2_e6_c160"],
            ["ir_r1_k3_s1_e6_c320"],
        ],
        "stem_size": 32,
        "num_features": 1280,  # max(1280, round_chs_fn(1280)) at multiplier 1.0
        "activation": "relu6",
    },
    "mobilenetv3_large_100": {
        "family": "mobilenetv3",
        "arch_def": [
            ["ds_r1_k3_s1_e1_c16_nre"],
            ["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
            ["ir_r3_k5_s2_e3_c40_se0.25_nre"],
            ["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
            ["ir_r2_k3_s1_e6_c112_se0.25"],
            ["ir_r3_k5_s2_e6_c160_se0.25"],
            ["cn_r1_k1_s1_c960"],
        ],
        "stem_size": 16,
        "num_features": 1280,
        "activation": "hardswish",
    },
}


def timm_network(name: str, resolution: int = 224, num_classes: int = 1000) -> Network:
    """A timm model by name (:data:`TIMM_MODELS`), from its architecture definition.

    >>> timm_network("mobilenetv3_large_100")["blocks.2.0.se.reduce"].layer.out_ch
    24
    """
    if not one_of(name, tuple(TIMM_MODELS)):
        raise SpecError(f"unknown timm model {name!r}; choose from {', '.join(TIMM_MODELS)}")
    return from_timm_arch(**TIMM_MODELS[name], resolution=resolution, num_classes=num_classes, name=f"timm {name}")
