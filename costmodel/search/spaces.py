"""The built-in search spaces, by name: ``costmodel.search_space(name, **options)``.

- ``"mobilenet_v1"``: MobileNetV1 (Table 1) with a width multiplier per block and a depthwise kernel per block.
- ``"ofa_mobilenet_v3"``: the Once-for-All MobileNetV3 space (Cai et al., ICLR 2020, arXiv:1908.09791).
- ``"nasbench201"``: NAS-Bench-201's 15,625 cells (Dong & Yang, ICLR 2020, arXiv:2001.00326), at 32x32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..checks import positive_int
from ..errors import SpecError
from ..spec.flavours import Flavour, get_flavour
from ..spec.layers import ACTIVATIONS, Layer
from ..spec.mobilenet import BLOCKS, FIRST_CONV, MIN_RESOLUTION, classifier, first_conv, scale_channels, separable_block
from .nasbench201 import nasbench201_space
from .ofa import ofa_mobilenet_v3_space
from .space import Block, SearchSpace, Stage, choice_values, odd_kernel

__all__ = ["search_space", "SPACES", "mobilenet_v1_space", "ofa_mobilenet_v3_space", "nasbench201_space"]


# ------------------------------------------------------------------------------------------------ MobileNetV1
def _width(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SpecError(f"a width multiplier must be a finite number > 0, got {value!r}")
    return float(value)


def _v1_stem(activation: str, flavour: Flavour, in_ch: int, width: float) -> tuple[Layer, ...]:
    return (first_conv(scale_channels(FIRST_CONV, width), activation, in_ch, flavour=flavour),)


def _v1_block(
    index: int, stride: int, out: int, activation: str, flavour: Flavour, in_ch: int, kernel: int, width: float
) -> tuple[Layer, ...]:
    return separable_block(index, in_ch, scale_channels(out, width), stride, kernel, activation, flavour=flavour)


def _v1_head(num_classes: int, flavour: Flavour, in_ch: int) -> tuple[Layer, ...]:
    return classifier(in_ch, num_classes, flavour=flavour)


def mobilenet_v1_space(
    widths: Sequence[float] = (0.5, 0.75, 1.0),
    kernels: Sequence[int] = (3, 5, 7),
    *,
    num_classes: int | None = None,
    activation: str | None = None,
    flavour: str | Flavour = "paper",
) -> SearchSpace:
    """MobileNetV1 with per-block choices: the first convolution's width and, for each of Table 1's 13
    depthwise separable blocks, the depthwise kernel and the pointwise output width.

    A width ``w`` keeps ``int(channels * w)`` channels of that layer (the α rounding of
    :func:`costmodel.spec.mobilenet.scale_channels`); the next block's depthwise convolution follows it. Genes:
    ``conv1.width``, then ``block<i>.kernel`` and ``block<i>.width`` for i = 1..13 (27 with the defaults). With
    every width equal to α and every kernel 3, a candidate is ``mobilenet_v1(alpha=α, flavour=flavour)``, layer
    for layer; ``num_classes`` and ``activation`` default to the flavour's, as there.
    """
    widths = choice_values(widths, "widths", _width)
    kernels = choice_values(kernels, "kernels", odd_kernel)
    f = get_flavour(flavour)
    num_classes = f.num_classes if num_classes is None else positive_int(num_classes, "num_classes")
    activation = f.activation if activation is None else activation
    if activation not in ACTIVATIONS or activation is None:
        raise SpecError(f"activation must be one of {', '.join(a for a in ACTIVATIONS if a)}, got {activation!r}")
    items: list[Block | Stage] = [Block("conv1", partial(_v1_stem, activation, f), {"width": widths})]
    for i, (stride, out) in enumerate(BLOCKS, start=1):
        build = partial(_v1_block, i, stride, out, activation, f)
        items.append(Block(f"block{i}", build, {"kernel": kernels, "width": widths}))
    items.append(Block("classifier", partial(_v1_head, num_classes, f)))
    return SearchSpace("mobilenet_v1", items, label="MobileNetV1 space", min_resolution=MIN_RESOLUTION)


#: Space builders by name; keyword options go to the builder.
SPACES: dict[str, Callable[..., SearchSpace]] = {
    "mobilenet_v1": mobilenet_v1_space,
    "ofa_mobilenet_v3": ofa_mobilenet_v3_space,
    "nasbench201": nasbench201_space,
}


def search_space(name: str, **options: Any) -> SearchSpace:
    """A built-in search space by name (``"mobilenet_v1"``, ``"ofa_mobilenet_v3"``, ``"nasbench201"``); options go
    to its builder.

    Examples
    --------
    >>> import costmodel
    >>> s = costmodel.search_space("mobilenet_v1", widths=(0.5, 1.0), kernels=(3, 5))
    >>> s.num_genes, s.size() == 2 ** 27
    (27, True)
    """
    try:
        builder = SPACES[name]
    except (KeyError, TypeError):
        raise SpecError(f"unknown search space {name!r}; choose from {', '.join(SPACES)}") from None
    try:
        return builder(**options)
    except TypeError as exc:
        raise SpecError(f"search space {name!r}: {exc}") from None
