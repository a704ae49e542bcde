"""Latency kinds: which layers share one efficiency and one overhead in a device profile. One rule per type.

A latency kind is the paper's Table 2 category with the kernel size always spelled out (``"Conv DW 3x3"``,
``"Conv DW 5x5"`` and ``"Conv DW 7x7"`` are three kinds: their kernels run at different speeds). A block
(``Residual``, ``Scale``, ``Concat``) is not a kind: its leaf layers are predicted one by one, and its own
elementwise work (the add of a residual, the channel scaling of squeeze-and-excite, the copy of a
concatenation) is a memory-bound operation of kind ``"Add"``, ``"Mul"`` or ``"Concat"`` (:func:`block_op`).

Adding a layer type: register its kind with :func:`latency_kind` and the kind's name (or a pattern) with
:func:`register_kind_names`, so that a profile naming it is accepted; a block type registers :func:`block_op`.
"""

from __future__ import annotations

import re
from functools import singledispatch

from ..counting.kinds import layer_kind
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
from ..spec.network import Node

__all__ = [
    "latency_kind",
    "kernel_groups",
    "block_op",
    "register_kind_names",
    "is_latency_kind",
    "kind_names",
    "general_kind",
]

_NAMES: dict[str, re.Pattern[str]] = {}  # readable name -> full-match pattern


def register_kind_names(*names: str) -> None:
    """Declare kind names a profile may list; ``<k>`` in a name stands for a kernel size (``"Conv <k>x<k>"``)."""
    for name in names:
        first, *rest = name.split("<k>")
        pattern = re.escape(first)
        for i, piece in enumerate(rest):  # the first <k> captures a size, the others repeat it
            pattern += (r"(?P<k>[1-9][0-9]*)" if i == 0 else r"(?P=k)") + re.escape(piece)
        _NAMES[name] = re.compile(pattern)


def is_latency_kind(name: str) -> bool:
    """True when ``name`` is a kind some layer type can have.

    >>> is_latency_kind("Conv DW 5x5"), is_latency_kind("Conv1x1"), is_latency_kind("Conv 3x5")
    (True, False, False)
    """
    return any(p.fullmatch(name) for p in _NAMES.values())


def kind_names() -> list[str]:
    """The readable list of valid kinds, for error messages (``<k>``: any kernel size)."""
    return list(_NAMES)


@singledispatch
def latency_kind(layer: object) -> str:
    """The latency kind of a leaf layer.

    >>> latency_kind(Conv2d("c", 32, 32, 5, groups=32)), latency_kind(Conv2d("p", 32, 64, 1))
    ('Conv DW 5x5', 'Conv 1x1')
    """
    raise SpecError(f"no latency kind rule for layer type {type(layer).__name__}")


@latency_kind.register
def _(layer: Conv2d) -> str:
    # A strided depthwise layer is a kind of its own ("Conv DW 7x7 s2"): its kernels differ from stride 1's (the
    # NumPy executor's taps and column groups, the runtimes' own), and one efficiency for both mispredicts
    # them. A profile without the strided kind uses the unstrided one (costmodel.latency.profiles).
    kind = layer_kind(layer)
    return f"{kind} s{layer.stride}" if layer.depthwise and layer.stride > 1 else kind


@latency_kind.register(Linear)
@latency_kind.register(GlobalAvgPool)
@latency_kind.register(Softmax)
@latency_kind.register(Concat)
def _(layer: object) -> str:
    return layer_kind(layer)  # Table 2's kind, which spells out the kernel size of a convolution


@latency_kind.register
def _(layer: AdaptiveAvgPool) -> str:  # to 1x1 it is a global pool; to more cells, a kernel of its own
    return layer_kind(layer) if layer.output_size == 1 else "Adaptive Avg Pool"


@latency_kind.register
def _(layer: Pool2d) -> str:  # Table 2 says "Max Pool"; the window size changes the time
    return f"{layer_kind(layer)} {layer.kernel}x{layer.kernel}"


@latency_kind.register
def _(layer: Residual) -> str:  # the block's own work is its add; its layers have their own kinds
    return "Add"


@latency_kind.register(Scale)
@latency_kind.register(Mul)
def _(layer: object) -> str:
    return "Mul"  # squeeze-and-excite's channel scaling, the Scale block's merge


@latency_kind.register
def _(layer: Add) -> str:
    return "Add"  # the Residual block's merge


@latency_kind.register(Graph)
@latency_kind.register(Sum)
@latency_kind.register(Cat)
@latency_kind.register(ChannelSlice)
@latency_kind.register(ChannelShuffle)
@latency_kind.register(BatchNormAct)
@latency_kind.register(Zero)
def _(layer: object) -> str:
    # Table 2's kind: "Add" for a sum (any number of inputs), "Concat", "Channel Slice", "Channel Shuffle",
    # "BN/Act", "Zero"; a Graph's row is named "Graph" (its nodes are predicted one by one, it has no kind)
    return layer_kind(layer)


@singledispatch
def kernel_groups(layer: object) -> int:
    """The groups of a layer's kernel, for a profile's per-group overhead: a grouped or depthwise convolution's
    ``groups``; 1 for every other type (a channel shuffle's ``groups`` are not kernel launches)."""
    return 1


@kernel_groups.register
def _(layer: Conv2d) -> int:
    return layer.groups


register_kind_names(
    "Channel Slice", "Channel Shuffle", "BN/Act", "Zero",
)  # fmt: skip
register_kind_names(
    "Conv <k>x<k>", "Conv DW <k>x<k>", "Conv group <k>x<k>", "FC", "Max Pool <k>x<k>", "Avg Pool <k>x<k>",
    "Avg Pool", "Adaptive Avg Pool", "Softmax", "Add", "Mul", "Concat", "Conv DW <k>x<k> s2",
)  # fmt: skip


def general_kind(kind: str) -> str | None:
    """The kind a strided depthwise kind falls back to in a profile that does not list it, else None.

    >>> general_kind("Conv DW 7x7 s2"), general_kind("Conv DW 7x7")
    ('Conv DW 7x7', None)
    """
    base, sep, stride = kind.rpartition(" s")
    return base if sep and base.startswith("Conv DW ") and stride.isdigit() else None


@singledispatch
def block_op(layer: object, node: Node) -> tuple[str, int] | None:
    """A block's own elementwise work: (kind, elements read and written per image), or None for a leaf."""
    return None


@block_op.register
def _(layer: Residual, node: Node) -> tuple[str, int]:
    out = node.out_ch * node.out_size * node.out_size
    return "Add", 3 * out  # read the body's output and the shortcut, write the sum


@block_op.register
def _(layer: Scale, node: Node) -> tuple[str, int]:
    out = node.out_ch * node.out_size * node.out_size
    return "Mul", 2 * out + node.out_ch  # read the input and the per-channel scales, write the product


@block_op.register
def _(layer: Concat, node: Node) -> tuple[str, int]:
    out = node.out_ch * node.out_size * node.out_size
    return "Concat", 2 * out  # read every branch's output, write the concatenation
