"""A network: an ordered tuple of layers and an input size, with every feature-map size derived once.

Consumers (the cost engine, the reference executor, the reports) read finished :class:`Node` objects and never
re-derive a shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..checks import MAX_JSON_DEPTH, MAX_SIZE, dump_json, exceeds_nesting, positive_int
from ..errors import LayerNotFoundError, SpecError
from .layers import (
    BLOCKS,
    MERGES,
    MULTI_INPUT,
    Graph,
    Layer,
    block_branches,
    block_merge,
    graph_shapes,
    graph_wiring,
    output_shape,
)
from .serialize import network_document, parse_document, parse_json, read_document

__all__ = ["Network", "Node", "place"]


class Node(NamedTuple):
    """One layer placed in a network: its input and output shapes (square maps, ``size x size x ch``).

    A named tuple rather than a frozen dataclass: as immutable, and three times faster to build, which
    matters when a search loop builds millions of networks.
    """

    layer: Layer
    in_ch: int
    in_size: int
    out_ch: int
    out_size: int
    # For a block (:class:`~costmodel.spec.layers.Concat`, :class:`~costmodel.spec.layers.Residual`): each branch's
    # layers, placed.
    branches: tuple[tuple[Node, ...], ...] = ()
    # For a Residual or Scale block: the elementwise Add or Mul that ends it, placed on the block's input.
    merge: Node | None = None
    # For a node inside a Graph: its inputs, as indices of earlier nodes of the graph's one branch (-1: the
    # graph's input). A Sum's in_ch/in_size are its inputs' common shape; a Cat's in_ch their channels' total.
    sources: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return self.layer.name

    def leaves(self) -> tuple[Node, ...]:
        """This node, or for a block every sub-layer node (depth first, nested blocks expanded)."""
        if not self.branches:
            return (self,)
        inner = tuple(leaf for branch in self.branches for node in branch for leaf in node.leaves())
        return inner if self.merge is None else (*inner, self.merge)

    def walk(self) -> Iterator[Node]:
        """This node, then (for a block) every node inside it, depth first."""
        yield self
        for branch in self.branches:
            for node in branch:
                yield from node.walk()
        if self.merge is not None:
            yield self.merge


#: Deepest nesting of blocks in blocks (a Residual inside a Residual...): real networks nest two or three.
MAX_NESTING = 64


def _check_nesting(layers: tuple[Layer, ...], network: str) -> None:
    """Refuse blocks nested deeper than :data:`MAX_NESTING`, walked without recursion (placing, counting and
    running a network recurse into its blocks)."""
    stack = [(layer, 1, layer) for layer in layers if type(layer) in BLOCKS]
    while stack:
        block, depth, top = stack.pop()
        if depth > MAX_NESTING:
            raise SpecError(f"{network}: block {top.name!r} nests blocks more than {MAX_NESTING} deep")
        for branch in block_branches(block):
            stack.extend((sub, depth + 1, top) for sub in branch if type(sub) in BLOCKS)


def _check_config(config: object, network: str) -> None:
    """``config`` is a mapping (or None) no deeper than JSON's limit: it is written into the network's JSON
    (a dictionary that contains itself would nest without end)."""
    if config is None:
        return
    if not isinstance(config, Mapping):
        raise SpecError(f"{network}: config must be a mapping, got {type(config).__name__}")
    if exceeds_nesting(config, MAX_JSON_DEPTH - 1):  # the config is one level of the network's JSON
        raise SpecError(f"{network}: config nests more than {MAX_JSON_DEPTH} levels deep (or contains itself)")


_NOT_PLAIN = frozenset((*BLOCKS, *MERGES, *MULTI_INPUT))  # layer types the network places other than by one rule


def place(layer: Layer, in_ch: int, in_size: int) -> Node:
    """Place one layer on an ``in_size x in_size x in_ch`` input: its :class:`Node`, blocks recursively.

    The sizes come from :func:`costmodel.spec.layers.output_shape`, the one shape rule per layer type (for a
    Graph, :func:`~costmodel.spec.layers.graph_shapes`, which applies it node by node).
    """
    if type(layer) is Graph:
        nodes = []
        shapes = graph_shapes(layer, in_ch, in_size)
        for sub, wired, (ch, size, o_ch, o_size) in zip(layer.nodes, graph_wiring(layer), shapes, strict=True):
            if type(sub) in BLOCKS:
                nodes.append(place(sub, ch, size)._replace(sources=wired))
            else:
                nodes.append(Node(sub, ch, size, o_ch, o_size, (), None, wired))
        return Node(layer, in_ch, in_size, shapes[-1][2], shapes[-1][3], (tuple(nodes),))
    out_ch, out_size = output_shape(layer, in_ch, in_size)
    if out_size < 1:
        name = getattr(layer, "name", layer)
        raise SpecError(f"{name}: the {in_size}x{in_size} input shrinks to nothing (output size {out_size})")
    branches: tuple[tuple[Node, ...], ...] = ()
    merge = None
    if isinstance(layer, BLOCKS):
        placed = []
        for branch in block_branches(layer):
            ch, size, nodes = in_ch, in_size, []
            for sub in branch:
                if isinstance(sub, MERGES):
                    raise SpecError(f"{sub.name}: {type(sub).__name__} only ends a block (never written)")
                if isinstance(sub, MULTI_INPUT):
                    raise SpecError(f"{sub.name}: {type(sub).__name__} takes named inputs: only inside a Graph")
                node = place(sub, ch, size)
                nodes.append(node)
                ch, size = node.out_ch, node.out_size
            placed.append(tuple(nodes))
        branches = tuple(placed)
        op = block_merge(layer)
        if op is not None:
            merge = Node(op, in_ch, in_size, *output_shape(op, in_ch, in_size))
    return Node(layer, in_ch, in_size, out_ch, out_size, branches, merge)


@dataclass(frozen=True, slots=True, eq=False)
class Network:
    """An ordered stack of layers on an ``input_size x input_size x in_ch`` image.

    Parameters
    ----------
    layers : iterable of layers
        Layer descriptions from :mod:`costmodel.spec.layers`, in execution order. Names must be unique.
    input_size : int
        Height and width of the (square) input image.
    in_ch : int
        Input channels (3 for RGB).
    name : str
        A label for reports.
    config : mapping
        How the network was built (for MobileNetV1: alpha, resolution, variant); informational.

    Examples
    --------
    >>> from costmodel.spec.layers import Conv2d
    >>> net = Network([Conv2d("c", 3, 8, 3, stride=2)], input_size=33)
    >>> net.nodes[0].out_size
    17
    """

    layers: tuple[Layer, ...]
    input_size: int
    in_ch: int = 3
    name: str = "network"
    config: Mapping[str, Any] = field(default_factory=dict)
    nodes: tuple[Node, ...] = field(init=False, repr=False)

    def __init__(
        self,
        layers: Iterable[Layer],
        input_size: int,
        in_ch: int = 3,
        name: str = "network",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise SpecError(f"{name}: layers must be an iterable of layers, got {type(layers).__name__}")
        layers = tuple(layers)
        if (
            type(input_size) is not int
            or type(in_ch) is not int
            or not (0 < input_size <= MAX_SIZE and 0 < in_ch <= MAX_SIZE)
        ):
            input_size = positive_int(input_size, f"{name}: input_size")
            in_ch = positive_int(in_ch, f"{name}: in_ch")
        if not layers:
            raise SpecError(f"{name}: a network needs at least one layer")
        _check_nesting(layers, name)  # before placing blocks, which recurses into them
        _check_config(config, name)
        nodes = []
        rules: dict[type, Any] = {}  # output_shape's rule per layer type, looked up once per type
        ch, size = in_ch, input_size
        blocks: list[Any] = []
        make = Node._make
        for layer in layers:
            cls = type(layer)
            if cls in _NOT_PLAIN:  # one test on the common path
                if cls in MERGES:
                    raise SpecError(f"{layer.name}: {cls.__name__} only ends a block (never written)")
                if cls in MULTI_INPUT:
                    raise SpecError(f"{layer.name}: {cls.__name__} takes named inputs: only inside a Graph")
                blocks.append(layer)  # a block: placed recursively, its sub-layers recorded
                node = place(layer, ch, size)
                nodes.append(node)
                ch, size = node.out_ch, node.out_size
                continue
            rule = rules.get(cls) or rules.setdefault(cls, output_shape.dispatch(cls))
            out_ch, out_size = rule(layer, ch, size)
            if out_size < 1:
                raise SpecError(f"{layer.name}: the {size}x{size} input shrinks to nothing (output size {out_size})")
            nodes.append(make((layer, ch, size, out_ch, out_size, (), None, ())))
            ch, size = out_ch, out_size
        names = [getattr(layer, "name", None) for layer in layers]
        if blocks:
            names += [getattr(sub, "name", None) for block in blocks for sub in block.sublayers()]
        if len(set(names)) != len(names):
            seen: set[object] = set()
            dup = None
            for n in names:  # linear, even for a 10,000-layer document
                if n in seen:
                    dup = n
                    break
                seen.add(n)
            raise SpecError(f"{name}: duplicate layer name {dup!r}")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_size", input_size)
        object.__setattr__(self, "in_ch", in_ch)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "config", dict(config or {}))
        object.__setattr__(self, "nodes", tuple(nodes))

    def __eq__(self, other: object) -> bool:
        """Equal by value: the same layers (names included), input size and input channels, so the same
        architecture with the same weight keys. ``name`` and ``config`` are labels and do not count."""
        if self is other:
            return True
        if not isinstance(other, Network):
            return NotImplemented
        return self.input_size == other.input_size and self.in_ch == other.in_ch and self.layers == other.layers

    def __hash__(self) -> int:
        """Hash of what :meth:`__eq__` compares: equal networks hash equal, so a network can key a cache."""
        return hash((self.input_size, self.in_ch, self.layers))

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        """The node of the layer called ``name`` (sub-layers of blocks included)."""
        for node in self.nodes:
            for inner in node.walk():
                if inner.name == name:
                    return inner
        names = [leaf.name for leaf in self.leaves()]
        shown = ", ".join(names[:6]) + (f", ... ({len(names)} layers)" if len(names) > 6 else "")
        raise LayerNotFoundError(f"{self.name} has no layer {name!r}; its layers are {shown}")

    def leaves(self) -> tuple[Node, ...]:
        """Every layer's node with blocks expanded into their sub-layers (execution order, depth first)."""
        return tuple(leaf for node in self.nodes for leaf in node.leaves())

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Network:
        """Build a network from a JSON-compatible document; see :mod:`costmodel.spec.serialize` for the schema."""
        return cls(**parse_document(document))

    @classmethod
    def from_json(cls, text: str | bytes) -> Network:
        """Build a network from JSON text (at most :data:`costmodel.spec.serialize.MAX_DOCUMENT_BYTES`)."""
        return cls.from_dict(parse_json(text))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """Read a network document from a JSON file (its size checked before it is read)."""
        return cls.from_dict(read_document(path))

    def to_dict(self) -> dict[str, Any]:
        """This network as a JSON-compatible document (:meth:`from_dict` rebuilds it); defaults written out."""
        return network_document(self)

    def to_json(self, indent: int | None = 2) -> str:
        """This network as JSON text."""
        return dump_json(self.to_dict(), indent=indent)

    @property
    def out_ch(self) -> int:
        return self.nodes[-1].out_ch

    def __repr__(self) -> str:
        return (
            f"Network({self.name!r}, {len(self.nodes)} layers, input {self.input_size}x{self.input_size}x{self.in_ch})"
        )
