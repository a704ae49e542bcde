"""The cost engine: exact integer parameter and Mult-Add counts, from shapes only.

Counting convention (the default, ``"paper"``; see :mod:`costmodel.counting.conventions` for the others):

- One Mult-Add is one multiply-accumulate. FLOPs are always 2 x Mult-Adds and are never mixed with them.
- A convolution with kernel D_K, M input and N output channels, ``groups`` g and a D_F x D_F *output* map
  costs D_K·D_K·(M/g)·N·D_F·D_F Mult-Adds (the paper's eq. (1); with g = M = N it is eq. (4)'s depthwise term,
  D_K·D_K·M·D_F·D_F) and has D_K·D_K·(M/g)·N weights.
- A fully connected layer costs M·N Mult-Adds and has M·N weights.
- Pooling and softmax cost nothing in the paper's convention: that is an explicit rule per type, and a layer
  type with no rule is an error (:class:`~costmodel.errors.ConventionError`), never a silent zero.

The engine returns integers and small dataclasses; it never formats (see :mod:`costmodel.report.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING, Any, NamedTuple

from .._hooks import table as _table
from ..checks import dump_json
from ..errors import ConventionError, SpecError
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
    conv_weight_shape,
    linear_weight_shape,
)
from ..spec.network import Network, Node
from .conventions import Convention, get_convention
from .kinds import layer_kind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LayerCost", "Cost", "count", "layer_cost", "weights_cost", "extra_ops"]


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

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        """A small JSON-compatible record: the network's name and input, the convention, the totals, and with
        ``layers=True`` one row per layer (blocks expanded: name, kind, params, mult_adds). Not the network
        itself (``self.network.to_dict()`` is that).

        >>> from costmodel import count, mobilenet_v1
        >>> count(mobilenet_v1()).to_dict()["mult_adds"]
        568740352
        """
        net = self.network
        out: dict[str, Any] = {
            "network": net.name,
            "input_size": net.input_size,
            "in_ch": net.in_ch,
            "convention": self.convention.name,
            "mult_adds": self.mult_adds,
            "flops": self.flops,
            "params": self.params,
        }
        if layers:
            out["layers"] = [
                {"name": lc.name, "kind": lc.kind, "params": lc.params, "mult_adds": lc.mult_adds}
                for lc in self.leaves()
            ]
        return out

    def to_json(self, layers: bool = False, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string."""
        return dump_json(self.to_dict(layers), indent=indent)

    def table(self) -> pd.DataFrame:
        """One row per layer (pandas DataFrame); the rows add up to :attr:`params` and :attr:`mult_adds`."""
        return _table(self)  # built by costmodel.report.tables, through the one hook (costmodel._hooks)

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
    k_h, k_w, m, n = conv_weight_shape(layer)
    weights = k_h * k_w * m * n
    return weights, weights * node.out_size * node.out_size  # eq. (1); eq. (4)'s first term when depthwise


@weights_cost.register
def _(layer: Linear, node: Node) -> tuple[int, int]:
    m, n = linear_weight_shape(layer)
    return m * n, m * n


@weights_cost.register(Pool2d)
@weights_cost.register(GlobalAvgPool)
@weights_cost.register(AdaptiveAvgPool)
@weights_cost.register(Softmax)
@weights_cost.register(Add)
@weights_cost.register(Mul)
@weights_cost.register(Sum)
@weights_cost.register(Cat)
@weights_cost.register(ChannelSlice)
@weights_cost.register(ChannelShuffle)
@weights_cost.register(BatchNormAct)
@weights_cost.register(Zero)
def _(layer: object, node: Node) -> tuple[int, int]:
    return 0, 0  # no weights, no multiply-accumulates; pool_ops, elementwise_ops may add operations


@weights_cost.register(Concat)
@weights_cost.register(Residual)
@weights_cost.register(Scale)
@weights_cost.register(Graph)
def _(layer: object, node: Node) -> tuple[int, int]:
    # The concatenation is free, the add or multiply a weightless leaf; a block costs what its layers cost.
    costs = [weights_cost(leaf.layer, leaf) for leaf in node.leaves()]
    return sum(w for w, _ in costs), sum(m for _, m in costs)


_weights_rule = weights_cost.dispatch  # skip singledispatch's wrapper in the hot loop


@singledispatch
def extra_ops(layer: object, node: Node, convention: Convention) -> int:
    """Operations a layer type adds under a convention beyond its multiply-accumulates and the bias, batch-norm
    and activation rules every type shares (pooling: one per input element, and so on); 0 for most types."""
    raise ConventionError(
        f"{getattr(layer, 'name', layer)!r}: no convention rule for layer type {type(layer).__name__}"
    )


@extra_ops.register(Conv2d)
@extra_ops.register(Linear)
@extra_ops.register(Softmax)
@extra_ops.register(Concat)
@extra_ops.register(Residual)
@extra_ops.register(Scale)
@extra_ops.register(Graph)
@extra_ops.register(Cat)
@extra_ops.register(ChannelSlice)
@extra_ops.register(ChannelShuffle)
@extra_ops.register(BatchNormAct)
@extra_ops.register(Zero)
def _(layer: object, node: Node, convention: Convention) -> int:
    # a block's layers are counted one by one; concatenation, slicing, shuffling and zeros move data only; a
    # standalone batch norm and activation are the rules every type shares (layer_cost)
    return 0  # a block's layers are counted one by one (``parts``), its Add or Mul among them


@extra_ops.register(Add)
@extra_ops.register(Mul)
def _(layer: object, node: Node, convention: Convention) -> int:
    # A residual add or SE multiply: one op per output element when a convention counts them (no tool does).
    return convention.elementwise_ops * node.out_ch * node.out_size * node.out_size


@extra_ops.register
def _(layer: Sum, node: Node, convention: Convention) -> int:
    # k inputs: k - 1 additions per output element, when a convention counts elementwise ops (no tool does)
    return convention.elementwise_ops * (len(node.sources) - 1) * node.out_ch * node.out_size * node.out_size


def _in_elements(node: Node) -> int:
    return node.in_ch * node.in_size * node.in_size


@extra_ops.register
def _(layer: Pool2d, node: Node, convention: Convention) -> int:
    out = node.out_ch * node.out_size * node.out_size
    return convention.pool_ops * _in_elements(node) + (convention.avg_pool_out_ops * out if layer.mode == "avg" else 0)


@extra_ops.register(GlobalAvgPool)
@extra_ops.register(AdaptiveAvgPool)
def _(layer: object, node: Node, convention: Convention) -> int:
    # adaptive/global average pooling: torchvision's nn.AdaptiveAvgPool2d, unless PyTorch writes it otherwise
    pytorch = getattr(layer, "pytorch", "module")
    if pytorch != "module" and (ops := convention.global_pool_ops(pytorch)) is not None:
        return ops * _in_elements(node)
    out = node.out_ch * node.out_size * node.out_size
    return (convention.pool_ops + convention.adaptive_pool_ops) * _in_elements(node) + convention.avg_pool_out_ops * out


def layer_cost(node: Node, convention: Convention) -> LayerCost:
    """Count one placed layer under ``convention`` (a block: the sum of its branches' layers: ``parts``)."""
    layer = node.layer
    if node.branches:
        parts = tuple(layer_cost(sub, convention) for branch in node.branches for sub in branch)
        if node.merge is not None:
            parts += (layer_cost(node.merge, convention),)
        return LayerCost(node, sum(p.params for p in parts), sum(p.mult_adds for p in parts), parts)
    params, mult_adds = _weights_rule(type(layer))(layer, node)
    out_elems = node.out_ch * node.out_size * node.out_size
    if getattr(layer, "bias", False):
        if convention.bias_params:
            params += node.out_ch
        mult_adds += convention.bias_ops * out_elems
    pytorch = getattr(layer, "pytorch", None)  # how PyTorch writes it, which hook-based tools see
    if getattr(layer, "batch_norm", False):
        # gamma is among both the trainable (2) and all (4) batch-norm variables; a batch norm without a scale
        # (TF-slim's checkpoints: bn_scale=False) stores one fewer
        bn = convention.bn_params - (1 if convention.bn_params and not getattr(layer, "bn_scale", True) else 0)
        fused = pytorch == "bn_act"  # timm's BatchNormAct2d: some tools skip the module
        if convention.bn_act_params or not fused:
            params += bn * node.out_ch
        if convention.bn_act_ops or not fused:
            mult_adds += convention.bn_ops * out_elems + convention.bn_channel_ops * node.out_ch
    activation = getattr(layer, "activation", None)
    if activation is not None:
        if pytorch == "functional_act":
            mult_adds += convention.ops_per_functional_activation(activation) * out_elems
        else:
            mult_adds += convention.ops_per_activation(activation) * out_elems
    mult_adds += extra_ops(layer, node, convention)
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
    if not conv.weights_only:
        layers = tuple(layer_cost(node, conv) for node in network.nodes)
        return Cost(network, conv, layers, sum(lc.params for lc in layers), sum(lc.mult_adds for lc in layers))
    # The paper's convention: no per-layer extras. The hot path of search loops: one rule looked up per layer
    # type, totals summed as the rows are made.
    rules: dict[type, Any] = {}
    costs = []
    params = mult_adds = 0
    make = LayerCost._make
    for node in network.nodes:
        if node.branches:  # a block: its layers, each counted, in ``parts``
            lc = layer_cost(node, conv)
            w, m = lc.params, lc.mult_adds
        else:
            cls = type(node.layer)
            rule = rules.get(cls) or rules.setdefault(cls, weights_cost.dispatch(cls))
            w, m = rule(node.layer, node)
            lc = make((node, w, m, ()))
        costs.append(lc)
        params += w
        mult_adds += m
    return Cost(network, conv, tuple(costs), params, mult_adds)
