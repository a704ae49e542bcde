"""The cost engine: exact integer parameter and Mult-Add counts, from shapes only.

Counting convention (the default, ``"paper"``; see :mod:`costmodel.conventions` for the others):

- One Mult-Add is one multiply-accumulate. FLOPs are always 2 x Mult-Adds and are never mixed with them.
- A convolution with kernel D_K, M input and N output channels, ``groups`` g and a D_F x D_F *output* map
  costs D_K·D_K·(M/g)·N·D_F·D_F Mult-Adds (the paper's eq. (1); with g = M = N it is eq. (4)'s depthwise term,
  D_K·D_K·M·D_F·D_F) and has D_K·D_K·(M/g)·N weights.
- A fully connected layer costs M·N Mult-Adds and has M·N weights.
- Pooling and softmax cost nothing in the paper's convention: that is an explicit rule per type, and a layer
  type with no rule is an error (:class:`~costmodel.errors.ConventionError`), never a silent zero.

The engine returns integers and small dataclasses; it never formats (see :mod:`costmodel.report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING, Any, NamedTuple

from .conventions import Convention, get_convention
from .errors import ConventionError, SpecError
from .layers import AdaptiveAvgPool, Concat, Conv2d, GlobalAvgPool, Linear, Pool2d, Residual, Softmax
from .spec import Network, Node

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LayerCost", "Cost", "count", "layer_cost", "layer_kind", "formula", "weights_cost"]


class LayerCost(NamedTuple):
    """One layer's count under one convention (a named tuple: immutable and cheap to build)."""

    node: Node
    params: int
    mult_adds: int
    # For a multi-branch block: the cost of every layer of every branch (they add up to this row's counts).
    parts: tuple[LayerCost, ...] = ()

    @property
    def name(self) -> str:
        return self.node.layer.name

    @property
    def kind(self) -> str:
        """The row of the paper's Table 2: "Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC", ..."""
        return layer_kind(self.node.layer)

    @property
    def flops(self) -> int:
        return 2 * self.mult_adds


@dataclass(frozen=True, slots=True, eq=False)
class Cost:
    """The count of a whole network: totals, and one :class:`LayerCost` per layer that add up to them."""

    network: Network
    convention: Convention
    layers: tuple[LayerCost, ...]
    params: int
    mult_adds: int

    @property
    def flops(self) -> int:
        """2 x Mult-Adds (one multiply-accumulate = two floating-point operations)."""
        return 2 * self.mult_adds

    def leaves(self) -> tuple[LayerCost, ...]:
        """Per-layer costs, multi-branch blocks expanded into their sub-layers (they add up to the totals)."""

        def expand(layers: tuple[LayerCost, ...]) -> list[LayerCost]:
            return [leaf for lc in layers for leaf in (expand(lc.parts) if lc.parts else [lc])]

        return tuple(expand(self.layers))

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """{kind: (params, mult_adds)} over layers (blocks expanded), in first-seen order (Table 2's rows)."""
        out: dict[str, tuple[int, int]] = {}
        for lc in self.leaves():
            p, m = out.get(lc.kind, (0, 0))
            out[lc.kind] = (p + lc.params, m + lc.mult_adds)
        return out

    def table(self) -> pd.DataFrame:
        """One row per layer (pandas DataFrame); the rows add up to :attr:`params` and :attr:`mult_adds`."""
        from .report import cost_table

        return cost_table(self)

    def __repr__(self) -> str:
        return (
            f"Cost({self.network.name!r}, convention={self.convention.name!r}, "
            f"mult_adds={self.mult_adds:,}, params={self.params:,})"
        )


@singledispatch
def weights_cost(layer: object, node: Node) -> tuple[int, int]:
    """(weights, multiply-accumulates) of a layer's own arithmetic: the part every convention counts."""
    raise ConventionError(f"{getattr(layer, 'name', layer)!r}: no cost rule for layer type {type(layer).__name__}")


@weights_cost.register
def _(layer: Conv2d, node: Node) -> tuple[int, int]:
    weights = layer.kernel * layer.kernel * (layer.in_ch // layer.groups) * layer.out_ch
    return weights, weights * node.out_size * node.out_size  # eq. (1); eq. (4)'s first term when depthwise


@weights_cost.register
def _(layer: Linear, node: Node) -> tuple[int, int]:
    weights = layer.in_features * layer.out_features
    return weights, weights


@weights_cost.register(Pool2d)
@weights_cost.register(GlobalAvgPool)
@weights_cost.register(AdaptiveAvgPool)
@weights_cost.register(Softmax)
def _(layer: object, node: Node) -> tuple[int, int]:
    return 0, 0  # no weights, no multiply-accumulates; pool_ops may add operations


@weights_cost.register(Concat)
@weights_cost.register(Residual)
def _(layer: object, node: Node) -> tuple[int, int]:
    # The concatenation or addition itself is free; a block costs what its branches' layers cost.
    costs = [weights_cost(leaf.layer, leaf) for leaf in node.leaves()]
    return sum(w for w, _ in costs), sum(m for _, m in costs)


_weights_rule = weights_cost.dispatch  # skip singledispatch's wrapper in the hot loop


def layer_kind(layer: object) -> str:
    """The paper's Table 2 category of a layer: "Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC", ..."""
    if isinstance(layer, Conv2d):
        k = f"{layer.kernel}x{layer.kernel}"
        if layer.depthwise:
            return f"Conv DW {k}"
        return f"Conv {k}" if layer.groups == 1 else f"Conv group {k}"
    if isinstance(layer, Linear):
        return "FC"
    if isinstance(layer, (Pool2d, GlobalAvgPool, AdaptiveAvgPool)):
        return "Max Pool" if getattr(layer, "mode", "avg") == "max" else "Avg Pool"
    if isinstance(layer, Concat):
        return "Concat"
    if isinstance(layer, Residual):
        return "Residual"
    if isinstance(layer, Softmax):
        return "Softmax"
    return type(layer).__name__


def layer_cost(node: Node, convention: Convention) -> LayerCost:
    """Count one placed layer under ``convention`` (a block: the sum of its branches' layers: ``parts``)."""
    layer = node.layer
    if node.branches:
        parts = tuple(layer_cost(sub, convention) for branch in node.branches for sub in branch)
        return LayerCost(node, sum(p.params for p in parts), sum(p.mult_adds for p in parts), parts)
    params, mult_adds = _weights_rule(type(layer))(layer, node)
    out_elems = node.out_ch * node.out_size * node.out_size
    if getattr(layer, "bias", False):
        if convention.bias_params:
            params += node.out_ch
        mult_adds += convention.bias_ops * out_elems
    if getattr(layer, "batch_norm", False):
        params += convention.bn_params * node.out_ch
        mult_adds += convention.bn_ops * out_elems + convention.bn_channel_ops * node.out_ch
    if getattr(layer, "activation", None) is not None:
        mult_adds += convention.activation_ops * out_elems
    if isinstance(layer, (Pool2d, GlobalAvgPool, AdaptiveAvgPool)):
        in_elems = node.in_ch * node.in_size * node.in_size
        mult_adds += convention.pool_ops * in_elems
        if not isinstance(layer, Pool2d):  # adaptive: torchvision's nn.AdaptiveAvgPool2d
            mult_adds += convention.adaptive_pool_ops * in_elems
        if getattr(layer, "mode", "avg") == "avg":
            mult_adds += convention.avg_pool_out_ops * out_elems
    return LayerCost(node, params, mult_adds)


def count(network: Network, convention: str | Convention = "paper") -> Cost:
    """Count the parameters and Mult-Adds of every layer of ``network``.

    Parameters
    ----------
    network : Network
        For example ``costmodel.mobilenet_v1(alpha=0.75, resolution=160)``.
    convention : str or Convention
        ``"paper"`` (default) or another registered preset; options add with ``+``, e.g. ``"paper+bias+bn"``.

    Examples
    --------
    >>> from costmodel import mobilenet_v1
    >>> c = count(mobilenet_v1())
    >>> c.mult_adds, c.params, c.flops
    (568740352, 4209088, 1137480704)
    """
    if not isinstance(network, Network):
        raise SpecError(f"count() needs a Network, got {type(network).__name__}")
    conv = get_convention(convention)
    if conv.weights_only:  # the paper's convention: skip the per-layer extras (hot path of search loops)
        rules: dict[type, Any] = {}
        costs = []
        for node in network.nodes:
            if node.branches:  # a block: its layers, each counted, in ``parts``
                costs.append(layer_cost(node, conv))
                continue
            cls = type(node.layer)
            rule = rules.get(cls) or rules.setdefault(cls, weights_cost.dispatch(cls))
            costs.append(LayerCost(node, *rule(node.layer, node)))
        layers = tuple(costs)
    else:
        layers = tuple(layer_cost(node, conv) for node in network.nodes)
    return Cost(
        network,
        conv,
        layers,
        sum(lc.params for lc in layers),
        sum(lc.mult_adds for lc in layers),
    )


def formula(node: Node) -> str:
    """A layer's Mult-Adds in the paper's notation with its values substituted (the ``weights_cost`` part).

    D_F is the *output* feature-map size (the paper's formulas assume stride 1, where input and output agree).

    >>> from costmodel import mobilenet_v1
    >>> formula(mobilenet_v1()["conv_dw_1"])
    'D_K·D_K·M·D_F·D_F = 3·3·32·112·112 = 3,612,672'
    """
    layer = node.layer
    _, mult_adds = weights_cost(layer, node)
    if isinstance(layer, Conv2d):
        k, d = layer.kernel, node.out_size
        if layer.depthwise:
            symbols, values = "D_K·D_K·M·D_F·D_F", (k, k, layer.in_ch, d, d)
        elif layer.groups > 1:
            symbols, values = (
                "D_K·D_K·(M/g)·N·D_F·D_F",
                (k, k, layer.in_ch // layer.groups, layer.out_ch, d, d),
            )
        elif k == 1:
            symbols, values = "M·N·D_F·D_F", (layer.in_ch, layer.out_ch, d, d)
        else:
            symbols, values = "D_K·D_K·M·N·D_F·D_F", (k, k, layer.in_ch, layer.out_ch, d, d)
    elif isinstance(layer, Linear):
        symbols, values = "M·N", (layer.in_features, layer.out_features)
    elif isinstance(layer, (Concat, Residual)):
        return f"sum over the block's layers = {mult_adds:,}"
    else:
        return "0 (no multiply-accumulates)"
    return f"{symbols} = {'·'.join(map(str, values))} = {mult_adds:,}"
