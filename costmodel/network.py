"""A network: an ordered tuple of layers and an input size, with every feature-map size derived once.

Consumers (the cost engine, the reference executor, the reports) read finished :class:`Node` objects and never
re-derive a shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError
from .layers import Layer, output_shape

__all__ = ["Network", "Node"]


@dataclass(frozen=True, slots=True)
class Node:
    """One layer placed in a network: its input and output shapes (square maps, ``size x size x ch``)."""

    layer: Layer
    in_ch: int
    in_size: int
    out_ch: int
    out_size: int

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True, slots=True, eq=False)
class Network:
    """An ordered stack of layers on an ``input_size x input_size x in_ch`` image.

    Parameters
    ----------
    layers : iterable of layers
        Layer descriptions from :mod:`costmodel.layers`, in execution order. Names must be unique.
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
    >>> from costmodel.layers import Conv2d
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
        layers = tuple(layers)
        for value, what in ((input_size, "input_size"), (in_ch, "in_ch")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{name}: {what} must be a positive integer, got {value!r}")
        if not layers:
            raise SpecError(f"{name}: a network needs at least one layer")
        nodes = []
        seen: set[str] = set()
        ch, size = in_ch, input_size
        for layer in layers:
            layer_name = getattr(layer, "name", None)
            if layer_name in seen:
                raise SpecError(f"{name}: duplicate layer name {layer_name!r}")
            seen.add(layer_name)
            out_ch, out_size = output_shape(layer, ch, size)
            if out_size < 1:
                raise SpecError(f"{layer_name}: the {size}x{size} input shrinks to nothing (output size {out_size})")
            nodes.append(Node(layer, ch, size, out_ch, out_size))
            ch, size = out_ch, out_size
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_size", input_size)
        object.__setattr__(self, "in_ch", in_ch)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "config", dict(config or {}))
        object.__setattr__(self, "nodes", tuple(nodes))

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def out_ch(self) -> int:
        return self.nodes[-1].out_ch

    def __repr__(self) -> str:
        return f"Network({self.name!r}, {len(self.nodes)} layers, input {self.input_size}x{self.input_size}x{self.in_ch})"
