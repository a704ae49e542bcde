"""Table 2's layer kinds: "Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC", "Avg Pool", ... One rule per layer type.

The kind groups layers for the paper's Table 2, the per-kind reports and the sweeps' closed form. The latency
model keeps its own kinds (:func:`costmodel.latency.model.latency_kind`), which may split these further.
"""

from __future__ import annotations

from functools import singledispatch

from ..errors import SpecError
from ..spec.layers import (
    AdaptiveAvgPool,
    Add,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
)

__all__ = ["layer_kind"]


@singledispatch
def layer_kind(layer: object) -> str:
    """The paper's Table 2 category of a layer.

    >>> from costmodel.spec.layers import Conv2d
    >>> layer_kind(Conv2d("c", 32, 32, 3, groups=32)), layer_kind(Conv2d("p", 32, 64, 1))
    ('Conv DW 3x3', 'Conv 1x1')
    """
    raise SpecError(f"no kind rule for layer type {type(layer).__name__}")


@layer_kind.register
def _(layer: Conv2d) -> str:
    k = f"{layer.kernel}x{layer.kernel}"
    if layer.depthwise:
        return f"Conv DW {k}"
    return f"Conv {k}" if layer.groups == 1 else f"Conv group {k}"


@layer_kind.register
def _(layer: Linear) -> str:
    return "FC"


@layer_kind.register
def _(layer: Pool2d) -> str:
    return "Max Pool" if layer.mode == "max" else "Avg Pool"


@layer_kind.register(GlobalAvgPool)
@layer_kind.register(AdaptiveAvgPool)
def _(layer: object) -> str:
    return "Avg Pool"


@layer_kind.register
def _(layer: Concat) -> str:
    return "Concat"


@layer_kind.register
def _(layer: Residual) -> str:
    return "Residual"


@layer_kind.register
def _(layer: Softmax) -> str:
    return "Softmax"


@layer_kind.register
def _(layer: Scale) -> str:
    return "Scale"


@layer_kind.register
def _(layer: Add) -> str:
    return "Add"


@layer_kind.register
def _(layer: Mul) -> str:
    return "Mul"


@layer_kind.register
def _(layer: Graph) -> str:
    return "Graph"


@layer_kind.register
def _(layer: Sum) -> str:
    return "Add"  # the same elementwise sum as a residual block's Add, with any number of inputs


@layer_kind.register
def _(layer: Cat) -> str:
    return "Concat"


@layer_kind.register
def _(layer: ChannelSlice) -> str:
    return "Channel Slice"


@layer_kind.register
def _(layer: ChannelShuffle) -> str:
    return "Channel Shuffle"


@layer_kind.register
def _(layer: BatchNormAct) -> str:
    return "BN/Act"


@layer_kind.register
def _(layer: Zero) -> str:
    return "Zero"
