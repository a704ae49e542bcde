"""The NAS-Bench-201 search space (Dong & Yang, ICLR 2020, arXiv:2001.00326): one cell, 15,625 networks.

Read off ``D-X-Y/AutoDL-Projects`` (``xautodl/models/cell_infers/tiny_network.py``, ``TinyNetwork``;
``cell_infers/cells.py``, ``InferCell``; ``cell_operations.py``, ``OPS`` and ``ResNetBasicblock``), with
``C = 16``, ``N = 5`` and 10 classes (CIFAR-10) at 32x32:

- ``stem``: 3x3 convolution to 16 channels (padding 1, no bias) and batch norm, no activation;
- ``cells.0`` .. ``cells.16``: three stages of 5 cells at 16, 32 and 64 channels, with a ResNet basic block
  at stride 2 between them (``cells.5``, ``cells.11``: ReLU-conv3x3 s2-BN, ReLU-conv3x3-BN, plus a shortcut
  of 2x2 average pooling and a 1x1 convolution without bias or batch norm);
- ``lastact``: batch norm and ReLU; global average pooling; ``classifier``: FC with bias.

The cell is a graph that is not series-parallel: node 0 is the cell's input, and nodes 1, 2 and 3 each sum one
operation on every earlier node (6 edges); node 3 is the output. Each edge is one of NAS-Bench-201's five
operations, in its own order (``NAS_BENCH_201``): ``none`` (zeros, ``x.mul(0.)``), ``skip_connect`` (the
node itself), ``nor_conv_1x1`` and ``nor_conv_3x3`` (ReLU, convolution without bias, batch norm),
``avg_pool_3x3`` (3x3 average at stride 1, padding 1, ``count_include_pad=False``: TF's SAME average). Every
cell of a network is the same cell.

Genes: the six edges in the order of NAS-Bench-201's architecture strings,
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: ``edge_1_0``, ``edge_2_0``, ``edge_2_1``, ``edge_3_0``,
``edge_3_1``, ``edge_3_2`` (``edge_j_i``: node i into node j). :func:`arch_string` and :func:`genes_of`
convert. The gene value of an edge is its operation's index in :data:`OPERATIONS`, so the genes read in
base 5 are NAS-Bench-201's own architecture index.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial

from ..checks import positive_int
from ..errors import SpecError
from ..spec.layers import (
    BatchNormAct,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Layer,
    Linear,
    Pool2d,
    Sum,
    Zero,
)
from ..spec.network import Network
from .space import Block, SearchSpace

__all__ = ["nasbench201_space", "nasbench201_network", "OPERATIONS", "EDGES", "arch_string", "genes_of", "cell"]

#: NAS-Bench-201's operations, in its order (``cell_operations.NAS_BENCH_201``).
OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The cell's edges (into node j, from node i), in the order of the architecture strings.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
EPS = 1e-5  # PyTorch's BatchNorm2d default


def _node(cell_name: str, i: int) -> str:
    return "input" if i == 0 else f"{cell_name}.node{i}"


def cell(name: str, channels: int, ops: tuple[str, ...]) -> Graph:
    """One NAS-Bench-201 cell on ``channels`` channels; ``ops[k]`` is the operation on edge ``EDGES[k]``.

    Each edge's layers are named ``<name>.edge_<j>_<i>`` (``.relu``, ``.conv`` for a convolution; ``.pool``,
    ``.zero``); each node's sum ``<name>.node<j>``. A skip edge adds no layer: the node reads node i itself.
    """
    if len(ops) != len(EDGES) or any(op not in OPERATIONS for op in ops):
        raise SpecError(f"{name}: a cell needs {len(EDGES)} operations from {OPERATIONS}, got {ops!r}")
    nodes: list[Layer] = []
    inputs: list[tuple[str, ...]] = []
    into: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for (j, i), op in zip(EDGES, ops, strict=True):
        layers, wires, out = _edge(name, j, i, op, channels)
        nodes += layers
        inputs += wires
        into[j].append(out)
        if i == j - 1:  # the node's last incoming edge: the node itself, the sum of its edges
            sum_layer, sum_inputs = _sum(name, j, tuple(into[j]))
            nodes.append(sum_layer)
            inputs.append(sum_inputs)
    return Graph(name, tuple(nodes), tuple(inputs))


# A space compiles 15,625 bodies of 15 cells: the layers of one edge (and one node's sum) are made once and
# shared by every candidate that has them (equal values either way; this keeps the compiled space small).
@cache
def _edge(
    name: str, j: int, i: int, op: str, channels: int
) -> tuple[tuple[Layer, ...], tuple[tuple[str, ...], ...], str]:
    """Edge (j <- i)'s layers, their inputs, and the name of its output."""
    edge, source = f"{name}.edge_{j}_{i}", _node(name, i)
    if op == "skip_connect":
        return (), (), source
    if op == "none":
        return (Zero(f"{edge}.zero"),), ((source,),), f"{edge}.zero"
    if op == "avg_pool_3x3":
        return (Pool2d(f"{edge}.pool", 3, 1, "avg", padding="tf_same"),), ((source,),), f"{edge}.pool"
    k = 1 if op == "nor_conv_1x1" else 3
    layers = (
        BatchNormAct(f"{edge}.relu", channels, batch_norm=False, activation="relu"),
        Conv2d(
            f"{edge}.conv",
            channels,
            channels,
            k,
            padding=k // 2,
            bias=False,
            batch_norm=True,
            activation=None,
            bn_epsilon=EPS,
        ),  # fmt: skip
    )
    return layers, ((source,), ()), f"{edge}.conv"


@cache
def _sum(name: str, j: int, inputs: tuple[str, ...]) -> tuple[Sum, tuple[str, ...]]:
    return Sum(_node(name, j)), inputs


def _reduction(name: str, in_ch: int, out_ch: int) -> Graph:
    """``ResNetBasicblock(in_ch, out_ch, stride=2)``: conv_a (ReLU-conv3x3 s2-BN), conv_b (ReLU-conv3x3-BN), and
    the shortcut ``downsample`` (2x2 average pooling at stride 2, then a 1x1 convolution, no bias, no BN)."""

    def relu_conv_bn(part: str, m: int, stride: int) -> list[Layer]:
        return [
            BatchNormAct(f"{name}.{part}.relu", m, batch_norm=False, activation="relu"),
            Conv2d(
                f"{name}.{part}.conv",
                m,
                out_ch,
                3,
                stride,
                padding=1,
                bias=False,
                batch_norm=True,
                activation=None,
                bn_epsilon=EPS,
            ),  # fmt: skip
        ]

    nodes = [
        *relu_conv_bn("conv_a", in_ch, 2),
        *relu_conv_bn("conv_b", out_ch, 1),
        Pool2d(f"{name}.downsample.pool", 2, 2, "avg"),
        Conv2d(f"{name}.downsample.conv", in_ch, out_ch, 1, padding=0, bias=False, batch_norm=False, activation=None),
        Sum(f"{name}.add"),
    ]
    inputs = [(), (), (), (), ("input",), (), (f"{name}.conv_b.conv", f"{name}.downsample.conv")]
    return Graph(name, tuple(nodes), tuple(inputs))


def _stem(in_ch: int) -> tuple[Layer, ...]:
    return (
        Conv2d("stem", in_ch, 16, 3, padding=1, bias=False, batch_norm=True, activation=None, bn_epsilon=EPS),
    )  # fmt: skip


def _cell(name: str, in_ch: int, **edges: str) -> tuple[Layer, ...]:
    return (cell(name, in_ch, tuple(edges[f"edge_{j}_{i}"] for j, i in EDGES)),)


def _head(num_classes: int, in_ch: int) -> tuple[Layer, ...]:
    return (
        BatchNormAct("lastact", in_ch, activation="relu", bn_epsilon=EPS),
        GlobalAvgPool("global_pooling"),
        Linear("classifier", in_ch, num_classes),
    )


def nasbench201_space(num_classes: int = 10) -> SearchSpace:
    """NAS-Bench-201's 15,625 networks (see the module docstring); ``num_classes`` 10 (CIFAR-10), 100
    (CIFAR-100) or 120 (ImageNet16-120, at 16x16). Build a candidate at 32 (``space.build(genes, 32)``).

    The six edge genes belong to the first cell, ``cells.0``; the other 14 cells are the same cell
    (``Block(same_as="cells.0")``: they read its genes, and their costs are computed once per input shape). The
    space has ``5**6 = 15,625`` candidates and :meth:`~costmodel.search.SearchSpace.size` says 15,625: every
    encoding counts as distinct, as in NAS-Bench-201 (its API indexes all 15,625), although some compute the
    same function (an edge into a node whose output only reaches ``none`` edges, for example). Any two
    encodings build different layers.

    >>> s = nasbench201_space()
    >>> s.num_genes, [g.name for g in s.genes][:2]
    (6, ['cells.0.edge_1_0', 'cells.0.edge_2_0'])
    """
    positive_int(num_classes, "num_classes")
    choices = {f"edge_{j}_{i}": OPERATIONS for j, i in EDGES}
    items: list[Block] = [Block("stem", _stem)]
    channels = (16,) * 5 + (32,) * 6 + (64,) * 6  # 32x32, 16x16 (from cells.5), 8x8 (from cells.11)
    previous = 16
    for index, out in enumerate(channels):
        name = f"cells.{index}"
        if out != previous:
            items.append(Block(name, partial(_reduction_block, name, out)))
        elif index == 0:
            items.append(Block(name, partial(_cell, name), choices))
        else:
            items.append(Block(name, partial(_cell, name), same_as="cells.0"))
        previous = out
    items.append(Block("head", partial(_head, num_classes)))
    return SearchSpace("nasbench201", items, label="NAS-Bench-201")


def nasbench201_network(arch: str | Sequence[int], *, num_classes: int = 10, resolution: int = 32) -> Network:
    """One NAS-Bench-201 network from its architecture string or genes, without compiling the space (the same
    layers as ``nasbench201_space(num_classes).build(genes, resolution)``).

    >>> import costmodel
    >>> net = nasbench201_network("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    >>> costmodel.count(net, "torch").params
    344346
    """
    genes = genes_of(arch) if isinstance(arch, str) else [int(g) for g in arch]
    ops = tuple(OPERATIONS[g] for g in genes)
    if len(ops) != len(EDGES):
        raise SpecError(f"a NAS-Bench-201 candidate has {len(EDGES)} genes, got {len(ops)}")
    layers: list[Layer] = list(_stem(3))
    ch = 16
    for index, out in enumerate((16,) * 5 + (32,) * 6 + (64,) * 6):
        name = f"cells.{index}"
        layers.append(_reduction(name, ch, out) if out != ch else cell(name, out, ops))
        ch = out
    layers += _head(positive_int(num_classes, "num_classes"), ch)
    return Network(layers, resolution, 3, name=f"NAS-Bench-201 {arch_string(genes)}")


def _reduction_block(name: str, out_ch: int, in_ch: int) -> tuple[Layer, ...]:
    return (_reduction(name, in_ch, out_ch),)


def arch_string(genes: object) -> str:
    """NAS-Bench-201's architecture string of one candidate's genes.

    >>> arch_string([3, 3, 3, 1, 3, 3])
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
    """
    ops = [OPERATIONS[int(g)] for g in genes]  # type: ignore[attr-defined]
    if len(ops) != len(EDGES):
        raise SpecError(f"a NAS-Bench-201 candidate has {len(EDGES)} genes, got {len(ops)}")
    nodes = [[f"{op}~{i}" for (j, i), op in zip(EDGES, ops, strict=True) if j == node] for node in (1, 2, 3)]
    return "+".join("|" + "|".join(edges) + "|" for edges in nodes)


def genes_of(arch: str) -> list[int]:
    """The genes of a NAS-Bench-201 architecture string (the inverse of :func:`arch_string`).

    >>> genes_of('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|')
    [3, 3, 3, 1, 3, 3]
    """
    if not isinstance(arch, str):
        raise SpecError(f"an architecture string is a str, got {type(arch).__name__}")
    edges = []
    for node, part in enumerate(arch.split("+"), start=1):
        for item in part.strip("|").split("|"):
            op, _, source = item.partition("~")
            edges.append(((node, int(source) if source.isdigit() else -1), op))
    if [e for e, _ in edges] != list(EDGES) or any(op not in OPERATIONS for _, op in edges):
        raise SpecError(f"not a NAS-Bench-201 architecture string: {arch!r}")
    return [OPERATIONS.index(op) for _, op in edges]
