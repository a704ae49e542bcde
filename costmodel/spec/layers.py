"""Layer descriptions, by shape only: no weights, no costs, no NumPy.

Paper notation (Howard et al., 2017): M = input channels, N = output channels, D_K = kernel size,
D_F = feature-map size. Feature maps are square.

Each layer type registers its shape rule with :func:`output_shape`, so :class:`~costmodel.spec.network.Network`
derives every feature-map size without knowing the layer types. The size rule for strided windows lives in
one function, :func:`window_out_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING, Any, Literal, Union, get_args

from ..checks import MAX_SIZE, boolean, non_negative_int, one_of, positive_int
from ..errors import SpecError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Conv2d",
    "Pool2d",
    "GlobalAvgPool",
    "AdaptiveAvgPool",
    "Linear",
    "Softmax",
    "Concat",
    "Residual",
    "Scale",
    "Add",
    "Mul",
    "Graph",
    "Sum",
    "Cat",
    "ChannelSlice",
    "ChannelShuffle",
    "BatchNormAct",
    "Zero",
    "GRAPH_INPUT",
    "MULTI_INPUT",
    "graph_wiring",
    "BLOCKS",
    "MERGES",
    "block_branches",
    "block_merge",
    "Layer",
    "ACTIVATIONS",
    "CONV_PYTORCH",
    "POOL_PYTORCH",
    "window_out_size",
    "window_out_size_array",
    "same_padding",
    "explicit_padding",
    "keeps_size",
    "check_padding",
    "PADDING_NAMES",
    "output_shape",
    "weight_shape",
    "LAYER_TYPES",
]

#: Activations a convolution or FC layer may carry: the one list (the engine, presets, executor and ONNX export
#: read it). ``None`` means linear. "hardswish" is x·relu6(x + 3)/6 and "hardsigmoid" relu6(x + 3)/6 (PyTorch's
#: and MobileNetV3's definitions), "silu" x·sigmoid(x) (EfficientNet's swish), "sigmoid" 1/(1 + exp(-x)).
ACTIVATIONS = (None, "relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid")

#: How PyTorch writes a convolution's batch norm and activation (``Conv2d.pytorch``): as modules
#: (``"modules"``: ``nn.BatchNorm2d``, ``nn.ReLU``), the activation as a function called in ``forward``
#: (``"functional_act"``: ``F.relu``, torchvision's GoogLeNet), or batch norm and activation as one module
#: (``"bn_act"``: timm's ``BatchNormAct2d``). Only the counting tools that hook modules see the difference
#: (:mod:`costmodel.counting.presets`); shapes, weights and the paper's counts never depend on it.
CONV_PYTORCH = ("modules", "functional_act", "bn_act")
#: How PyTorch writes a global average pooling (``GlobalAvgPool.pytorch``): the module
#: ``nn.AdaptiveAvgPool2d(1)`` (``"module"``), the function ``F.adaptive_avg_pool2d`` (``"function"``,
#: torchvision's MobileNetV2) or a tensor mean ``x.mean([2, 3])`` (``"mean"``, torchvision's MNASNet).
POOL_PYTORCH = ("module", "function", "mean")

#: A layer's padding, named by what it does: ``"tf_same"`` (TensorFlow's SAME: out = ceil(n / stride), the odd
#: extra row and column after), an ``int`` p (p zero rows and columns on every side, PyTorch's ``padding=p``),
#: or ``(before, after)`` (explicit asymmetric zero padding, then a valid window: Keras' ``ZeroPadding2D(((0,
#: 1), (0, 1)))`` before a stride-2 depthwise layer is ``(0, 1)``). ``"same"`` is read as ``"tf_same"``.
Padding = Union[int, Literal["tf_same"], tuple[int, int]]
PADDING_NAMES = ("tf_same", "int p: symmetric", "(before, after): explicit")


def _check_ints(layer: object, fields: tuple[str, ...]) -> None:
    """Every field a positive int. The fast path is one pass of cheap checks (this runs for every layer of
    every network built, millions of times in a search loop); the slow path finds and names the bad one,
    and accepts integer-like values (NumPy integers), storing them as ``int``."""
    for f in fields:
        v = getattr(layer, f)
        if type(v) is not int or v < 1 or v > MAX_SIZE:
            break
    else:
        return
    for f in fields:
        value = positive_int(getattr(layer, f), f"{layer.name}: {f}")  # type: ignore[attr-defined]
        object.__setattr__(layer, f, value)


def check_padding(value: object, name: str) -> Padding:
    """``value`` as a :data:`Padding` (``"same"`` read as ``"tf_same"``, a list as a tuple), or a SpecError."""
    if isinstance(value, str) and value in ("tf_same", "same"):
        return "tf_same"
    if isinstance(value, (tuple, list)) and not isinstance(value, str):
        if len(value) != 2:
            raise SpecError(f"{name}: padding (before, after) must have two entries, got {value!r}")
        what = f"{name}: padding (before, after)"
        return (non_negative_int(value[0], what), non_negative_int(value[1], what))
    if isinstance(value, str):
        raise SpecError(f"{name}: padding must be 'tf_same', an integer or (before, after), got {value!r}")
    return non_negative_int(value, f"{name}: padding ('tf_same', an integer or (before, after))")


def _padding(layer: object) -> None:
    value = layer.padding  # type: ignore[attr-defined]
    fixed = check_padding(value, layer.name)  # type: ignore[attr-defined]
    if fixed is not value:
        object.__setattr__(layer, "padding", fixed)


def _flags(layer: object, fields: tuple[str, ...]) -> None:
    for f in fields:
        if type(getattr(layer, f)) is not bool:
            object.__setattr__(layer, f, boolean(getattr(layer, f), f"{layer.name}: {f}"))  # type: ignore[attr-defined]


def _epsilon(layer: object) -> None:
    eps = layer.bn_epsilon  # type: ignore[attr-defined]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
        raise SpecError(f"{layer.name}: bn_epsilon must be a number in (0, 1), got {eps!r}")  # type: ignore[attr-defined]
    object.__setattr__(layer, "bn_epsilon", float(eps))


def _activation(value: object, name: str) -> None:
    if not one_of(value, ACTIVATIONS):
        raise SpecError(f"{name}: activation must be one of {ACTIVATIONS}, got {value!r}")


def _pytorch(value: object, choices: tuple[str, ...], name: str) -> None:
    if not one_of(value, choices):
        raise SpecError(f"{name}: pytorch must be one of {choices}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Conv2d:
    """One convolution, by shape only. M = in_ch, N = out_ch, D_K = kernel.

    ``groups == in_ch == out_ch`` is a depthwise convolution; the cost engine needs no special case for it.
    The batch norm and activation that follow the convolution are attributes, because other tools count them.
    """

    name: str  # stable; also the weight key, e.g. "conv_dw_3"
    in_ch: int
    out_ch: int
    kernel: int
    stride: int = 1
    groups: int = 1
    padding: Padding = "tf_same"  # see Padding: "tf_same", int (every side) or (before, after)
    bias: bool = False  # the convolution has its own bias (MobileNet's convs do not: batch norm follows)
    batch_norm: bool = True
    activation: str | None = "relu"  # the paper: ReLU; TF-slim and Keras checkpoints: ReLU6
    bn_scale: bool = True  # the batch norm has gamma (TF-slim's released checkpoints have none)
    bn_epsilon: float = 1e-3  # added to the variance: Keras and TF-slim 1e-3, PyTorch (timm) 1e-5
    pytorch: str = "modules"  # how PyTorch writes its batch norm and activation: CONV_PYTORCH (counting tools only)

    def __post_init__(self) -> None:
        i, o, k, s, g = self.in_ch, self.out_ch, self.kernel, self.stride, self.groups
        if not (
            type(i) is int
            and type(o) is int
            and type(k) is int
            and type(s) is int
            and type(g) is int
            and 0 < i <= MAX_SIZE
            and 0 < o <= MAX_SIZE
            and 0 < k <= MAX_SIZE
            and 0 < s <= MAX_SIZE
            and 0 < g <= MAX_SIZE
            and type(self.bias) is bool
            and type(self.batch_norm) is bool
            and type(self.bn_scale) is bool
        ):  # fast path; the helpers name the bad one
            _check_ints(self, ("in_ch", "out_ch", "kernel", "stride", "groups"))
            _flags(self, ("bias", "batch_norm", "bn_scale"))
            i, o, g = self.in_ch, self.out_ch, self.groups
        if i % g or o % g:
            raise SpecError(f"{self.name}: groups={g} must divide in_ch={i} and out_ch={o}")
        if not (isinstance(self.padding, str) and self.padding == "tf_same"):
            _padding(self)
        if not (isinstance(self.activation, str) and self.activation == "relu"):
            _activation(self.activation, self.name)
        if not (type(self.bn_epsilon) is float and self.bn_epsilon == 1e-3):
            _epsilon(self)
        if type(self.pytorch) is not str or self.pytorch != "modules":
            _pytorch(self.pytorch, CONV_PYTORCH, self.name)

    @property
    def depthwise(self) -> bool:
        """True for a depthwise convolution (one filter per input channel)."""
        return self.groups > 1 and self.groups == self.in_ch == self.out_ch


@dataclass(frozen=True, slots=True)
class Pool2d:
    """Average or max pooling over ``kernel`` x ``kernel`` windows."""

    name: str
    kernel: int
    stride: int = 1
    mode: Literal["avg", "max"] = "avg"
    padding: Padding = 0
    ceil_mode: bool = False  # PyTorch's ceil_mode (used by torchvision's GoogLeNet and SqueezeNet)

    def __post_init__(self) -> None:
        _check_ints(self, ("kernel", "stride"))
        _padding(self)
        _flags(self, ("ceil_mode",))
        if not one_of(self.mode, ("avg", "max")):
            raise SpecError(f"{self.name}: mode must be 'avg' or 'max', got {self.mode!r}")


@dataclass(frozen=True, slots=True)
class GlobalAvgPool:
    """Average over the whole feature map: D_F x D_F x C -> 1 x 1 x C (Table 1's "Avg Pool / s1")."""

    name: str
    pytorch: str = "module"  # how PyTorch writes it: POOL_PYTORCH (only the counting tools see the difference)

    def __post_init__(self) -> None:
        if type(self.pytorch) is not str or self.pytorch != "module":
            _pytorch(self.pytorch, POOL_PYTORCH, self.name)


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool:
    """PyTorch's ``AdaptiveAvgPool2d(output_size)``: any D_F x D_F x C map -> output_size x output_size x C.

    torchvision's VGG (to 7x7) and AlexNet (to 6x6) use it before their classifiers; with output_size 1 it is
    the same map as :class:`GlobalAvgPool` (torchvision's GoogLeNet, SqueezeNet, MobileNets).
    """

    name: str
    output_size: int

    def __post_init__(self) -> None:
        _check_ints(self, ("output_size",))


@dataclass(frozen=True, slots=True)
class Linear:
    """Fully connected layer on the flattened input (size x size x channels == in_features)."""

    name: str
    in_features: int
    out_features: int
    bias: bool = True
    activation: str | None = None

    def __post_init__(self) -> None:
        _check_ints(self, ("in_features", "out_features"))
        _flags(self, ("bias",))
        _activation(self.activation, self.name)


@dataclass(frozen=True, slots=True)
class Softmax:
    """The classifier's softmax (Table 1's last row). Costs nothing in the paper's convention."""

    name: str


@dataclass(frozen=True, slots=True)
class Concat:
    """Parallel branches on one input, their outputs concatenated on channels (Inception, Fire modules).

    Each branch is a non-empty sequence of layers run one after another on the block's input; every branch
    must end at the same feature-map size, and the block's output has the sum of the branches' channels.
    Sub-layer names share the network's name space (they must be unique network-wide; they are weight keys).
    The concatenation itself has no weights and, in every counting convention, no operations.
    """

    name: str
    branches: tuple[tuple[Layer, ...], ...]

    def __post_init__(self) -> None:
        branches = self.branches
        if isinstance(branches, (str, bytes)) or not isinstance(branches, (tuple, list)) or not branches:
            raise SpecError(f"{self.name}: branches must be a non-empty sequence of layer sequences")
        fixed = []
        for i, branch in enumerate(branches):
            if isinstance(branch, (str, bytes)) or not isinstance(branch, (tuple, list)) or not branch:
                raise SpecError(f"{self.name}: branch {i} must be a non-empty sequence of layers")
            fixed.append(tuple(branch))
        object.__setattr__(self, "branches", tuple(fixed))

    def sublayers(self) -> tuple[Layer, ...]:
        """Every layer of every branch, depth first (nested blocks included)."""
        return _sublayers(self.branches)


@dataclass(frozen=True, slots=True)
class _Body:
    """A block whose one branch, ``body``, runs on the block's input and is combined with it by the block's
    ``merge`` layer (an elementwise op; its type says which)."""

    name: str
    body: tuple[Layer, ...]

    def __post_init__(self) -> None:
        body = self.body
        if isinstance(body, (str, bytes)) or not isinstance(body, (tuple, list)) or not body:
            raise SpecError(f"{self.name}: body must be a non-empty sequence of layers")
        object.__setattr__(self, "body", tuple(body))

    @property
    def branches(self) -> tuple[tuple[Layer, ...], ...]:
        """The body as the block's one branch (the input it is combined with carries no layer)."""
        return (self.body,)

    @property
    def merge(self) -> Add | Mul:
        raise NotImplementedError

    def sublayers(self) -> tuple[Layer, ...]:
        """Every layer of the body, depth first (nested blocks included), then the merge."""
        return (*_sublayers(self.branches), self.merge)


@dataclass(frozen=True, slots=True)
class Residual(_Body):
    """A body of layers whose output is added to the block's input (MobileNetV2's inverted residual, ResNet).

    The body must give back the input's shape (channels and size). The addition is the block's own leaf, an
    :class:`Add` named ``"<name>.add"`` (:attr:`merge`), with its own rule in every registry: no weights and,
    in every tool's convention modelled here, no operations (the tools trace ``x + y`` as a free tensor op).
    :func:`costmodel.spec.blocks.inverted_residual` builds MobileNetV2's block.
    """

    @property
    def merge(self) -> Add:
        """The elementwise sum that ends the block, ``"<name>.add"``."""
        return Add(f"{self.name}.add")


@dataclass(frozen=True, slots=True)
class Scale(_Body):
    """A body of layers whose 1 x 1 x C output scales the block's input channel by channel: x · body(x).

    Squeeze-and-excite (Hu et al., 2018; MobileNetV3, EfficientNet) is one: global average pooling, a 1x1
    convolution that reduces the channels, an activation, a 1x1 convolution back to C channels and a gate
    (sigmoid or hard sigmoid); :func:`costmodel.spec.blocks.squeeze_excite` builds it from those layers. The
    body must end at 1 x 1 x C, C the input's channels. The product is the block's :class:`Mul`.
    """

    @property
    def merge(self) -> Mul:
        """The elementwise product that ends the block, ``"<name>.mul"``."""
        return Mul(f"{self.name}.mul")


@dataclass(frozen=True, slots=True)
class Add:
    """The elementwise sum that ends a :class:`Residual` block: its body's output plus the block's input.

    Never written in a network or a document: every residual block has one, ``"<block>.add"``
    (:attr:`Residual.merge`), placed on the block's input (D_F x D_F x C in and out). No weights; one addition
    per output element, which every tool modelled here leaves uncounted (see :mod:`costmodel.counting.presets`).
    """

    name: str


@dataclass(frozen=True, slots=True)
class Mul:
    """The elementwise product that ends a :class:`Scale` block: the block's input (D_F x D_F x C) times its
    body's 1 x 1 x C output, broadcast over positions (squeeze-and-excite's scaling).

    Never written in a network or a document: every scale block has one, ``"<block>.mul"``, placed on the
    block's input. No weights; one multiplication per output element.
    """

    name: str


@dataclass(frozen=True, slots=True)
class Sum:
    """The elementwise sum of several inputs of one shape, then an optional activation (ResNet's
    ``relu(f(x) + g(x))``, a NAS cell's node summing its incoming edges). Only inside a :class:`Graph`, which
    names its inputs. No weights; ``k - 1`` additions per output element for ``k`` inputs, which no counting
    tool modelled here counts (they trace ``x + y`` as a free tensor op)."""

    name: str
    activation: str | None = None

    def __post_init__(self) -> None:
        if self.activation is not None:
            _activation(self.activation, self.name)


@dataclass(frozen=True, slots=True)
class Cat:
    """Channel concatenation of several inputs of one size, in the order the :class:`Graph` names them
    (DenseNet's growing concatenation, ShuffleNetV2's ``cat(x1, branch(x2))``). No weights, no operations."""

    name: str


@dataclass(frozen=True, slots=True)
class ChannelSlice:
    """Channels ``start:stop`` of the input (ShuffleNetV2's ``x.chunk(2, dim=1)`` is two slices). A view in
    PyTorch; no weights, no operations."""

    name: str
    start: int
    stop: int

    def __post_init__(self) -> None:
        for f in ("start", "stop"):
            v = getattr(self, f)
            if type(v) is not int:
                object.__setattr__(self, f, non_negative_int(v, f"{self.name}: {f}"))
            elif v < 0:
                raise SpecError(f"{self.name}: {f} must be >= 0, got {v}")
        if self.stop <= self.start:
            raise SpecError(f"{self.name}: stop={self.stop} must be greater than start={self.start}")


@dataclass(frozen=True, slots=True)
class ChannelShuffle:
    """ShuffleNet's channel shuffle: C channels seen as ``groups`` x (C / groups), transposed. Channel
    ``g * (C / groups) + j`` of the input goes to channel ``j * groups + g``. No weights, no operations."""

    name: str
    groups: int

    def __post_init__(self) -> None:
        _check_ints(self, ("groups",))


@dataclass(frozen=True, slots=True)
class BatchNormAct:
    """A standalone batch norm and/or activation on ``channels`` channels (pre-activation networks: DenseNet's
    BN-ReLU-conv, NAS-Bench-201's ReLU-conv-BN and its final BN-ReLU). At least one of the two must be on."""

    name: str
    channels: int
    batch_norm: bool = True
    activation: str | None = "relu"
    bn_scale: bool = True
    bn_epsilon: float = 1e-5  # PyTorch's default
    pytorch: str = "modules"  # how PyTorch writes it: CONV_PYTORCH (DenseNet's last ReLU is F.relu: "functional_act")

    def __post_init__(self) -> None:
        _check_ints(self, ("channels",))
        _flags(self, ("batch_norm", "bn_scale"))
        _activation(self.activation, self.name)
        if type(self.pytorch) is not str or self.pytorch != "modules":
            _pytorch(self.pytorch, CONV_PYTORCH, self.name)
        _epsilon(self)  # not the Conv2d fast path: an array would make `!=` ambiguous here
        if not self.batch_norm and self.activation is None:
            raise SpecError(f"{self.name}: a BatchNormAct needs a batch norm or an activation (or both)")


@dataclass(frozen=True, slots=True)
class Zero:
    """Zeros of the input's shape: NAS-Bench-201's ``none`` edge (``x.mul(0.)``). No weights, no operations."""

    name: str


#: The name a :class:`Graph` node uses for the graph's own input.
GRAPH_INPUT = "input"

#: Layer types that take several inputs (only inside a :class:`Graph`, which names them).
MULTI_INPUT = (Sum, Cat)


@dataclass(frozen=True)
class Graph:
    """A block whose nodes each name their inputs: any directed acyclic graph of layers with one input and one
    output (ResNet's projection shortcut f(x) + g(x), DenseNet's growing concatenation, ShuffleNetV2's split
    and shuffle, NAS cells whose nodes sum several earlier nodes).

    ``nodes`` are layers in execution order; ``inputs[i]`` names node i's inputs: :data:`GRAPH_INPUT`
    (``"input"``) for the graph's input, or the name of an *earlier* node of this graph (so the order given
    is a topological order, and cycles cannot be written). An empty tuple means the previous node (the
    graph's input for the first node); ``inputs`` may be left empty altogether for a chain. :data:`MULTI_INPUT`
    types (:class:`Sum`, :class:`Cat`) take one or more inputs, every other type exactly one. The graph's output
    is its last node. Node names share the network's name space (they are weight keys); by convention they
    extend the graph's name (``layer1.0.conv1``).

    Not slotted: the resolved wiring (:func:`graph_wiring`) is kept on the instance, outside the fields.
    """

    name: str
    nodes: tuple[Layer, ...]
    inputs: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        nodes = self.nodes
        if isinstance(nodes, (str, bytes)) or not isinstance(nodes, (tuple, list)) or not nodes:
            raise SpecError(f"{self.name}: nodes must be a non-empty sequence of layers")
        nodes = tuple(nodes)
        inputs = self.inputs
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (tuple, list)):
            raise SpecError(f"{self.name}: inputs must be a sequence (one tuple of names per node)")
        if not inputs:
            inputs = ((),) * len(nodes)
        if len(inputs) != len(nodes):
            raise SpecError(f"{self.name}: {len(nodes)} nodes but {len(inputs)} input lists")
        if type(inputs) is not tuple or not all(
            type(names) is tuple and all(type(n) is str for n in names) for names in inputs
        ):
            fixed = []
            for i, names in enumerate(inputs):
                if isinstance(names, str) or not isinstance(names, (tuple, list)):
                    raise SpecError(f"{self.name}: inputs of node {i} must be a list of names, got {names!r}")
                if not all(isinstance(n, str) for n in names):
                    raise SpecError(f"{self.name}: inputs of node {i} must be names (strings), got {names!r}")
                fixed.append(tuple(names))
            inputs = tuple(fixed)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "_wiring", _resolve(self))  # checks every name

    @property
    def branches(self) -> tuple[tuple[Layer, ...], ...]:
        """The nodes, in order, as the block's one branch (their inputs are :func:`graph_wiring`'s)."""
        return (self.nodes,)

    def sublayers(self) -> tuple[Layer, ...]:
        """Every node, depth first (nested blocks included)."""
        return _sublayers((self.nodes,))


def graph_wiring(graph: Graph) -> tuple[tuple[int, ...], ...]:
    """Node i's inputs as indices of earlier nodes (-1: the graph's input), resolved once when the graph is made.

    >>> g = Graph("g", (Zero("a"), Zero("b"), Sum("s")), (("input",), ("input",), ("a", "b")))
    >>> graph_wiring(g)
    ((-1,), (-1,), (0, 1))
    """
    return graph._wiring  # type: ignore[attr-defined,no-any-return]


_PREVIOUS = tuple((i - 1,) for i in range(256))  # shared: most nodes read the one before


def _resolve(graph: Graph) -> tuple[tuple[int, ...], ...]:
    """The one place a graph's names resolve (see :func:`graph_wiring`)."""
    index: dict[str, int] = {GRAPH_INPUT: -1}
    out = []
    for i, (layer, names) in enumerate(zip(graph.nodes, graph.inputs, strict=True)):
        name = getattr(layer, "name", None)
        if not names:
            wired: tuple[int, ...] = _PREVIOUS[i] if i < len(_PREVIOUS) else (i - 1,)
        else:
            try:
                wired = tuple(index[n] for n in names)
            except KeyError as exc:
                raise SpecError(
                    f"{graph.name}: node {name!r} reads {exc.args[0]!r}, which is neither {GRAPH_INPUT!r} nor an "
                    "earlier node of the graph"
                ) from None
            if len(wired) > 1 and type(layer) not in MULTI_INPUT:
                raise SpecError(
                    f"{graph.name}: node {name!r} ({type(layer).__name__}) takes one input, got {len(wired)}"
                )
        if name in index:
            raise SpecError(f"{graph.name}: node name {name!r} is used twice or is reserved")
        index[name] = i  # type: ignore[index]
        out.append(wired)
    return tuple(out)


def graph_shapes(graph: Graph, in_ch: int, in_size: int) -> list[tuple[int, int, int, int]]:
    """(in_ch, in_size, out_ch, out_size) of every node of ``graph`` on an ``in_size`` x ``in_size`` x ``in_ch``
    input. A :class:`Sum`'s input shape is its inputs' common shape; a :class:`Cat`'s input has the sum of its
    inputs' channels (what it reads), at their common size."""
    shapes: list[tuple[int, int, int, int]] = []
    outs: dict[int, tuple[int, int]] = {-1: (in_ch, in_size)}
    rules: dict[type, Any] = {}
    for i, (layer, wired) in enumerate(zip(graph.nodes, graph._wiring, strict=True)):  # type: ignore[attr-defined]
        cls = type(layer)
        if cls in MULTI_INPUT:
            ins = [outs[j] for j in wired]
            if len({s for _, s in ins}) != 1:
                raise SpecError(f"{layer.name}: inputs of sizes {[s for _, s in ins]} differ")
            if cls is Sum:
                if len(set(ins)) != 1:
                    shown = ", ".join(f"{s}x{s}x{c}" for c, s in ins)
                    raise SpecError(f"{layer.name}: a sum needs inputs of one shape, got {shown}")
                ch, size = ins[0]
            else:
                ch, size = sum(c for c, _ in ins), ins[0][1]
        else:
            if cls in MERGES:
                raise SpecError(f"{layer.name}: {cls.__name__} only ends a block (never written)")
            ch, size = outs[wired[0]]
        rule = rules.get(cls) or rules.setdefault(cls, output_shape.dispatch(cls))
        out_ch, out_size = rule(layer, ch, size)
        if out_size < 1:
            raise SpecError(f"{layer.name}: the input shrinks to nothing (output size {out_size})")
        outs[i] = (out_ch, out_size)
        shapes.append((ch, size, out_ch, out_size))
    return shapes


#: Layer types made of other layers; their nodes carry ``branches`` (and, for Residual and Scale, a merge; for a
#: Graph, one branch: its nodes in order, each placed node's ``sources`` naming its inputs).
BLOCKS = (Concat, Residual, Scale, Graph)

#: The layers that end a block (an elementwise op with the block's input); they exist only inside blocks.
MERGES = (Add, Mul)


def block_merge(layer: object) -> Add | Mul | None:
    """The layer that ends a block (:class:`Add` for a Residual, :class:`Mul` for a Scale), else ``None``."""
    return layer.merge if isinstance(layer, (Residual, Scale)) else None


def block_branches(layer: object) -> tuple[tuple[Layer, ...], ...]:
    """A block's branches (a :class:`Residual` has one, its body); ``()`` for any other layer."""
    return layer.branches if isinstance(layer, BLOCKS) else ()


def _sublayers(branches: tuple[tuple[Layer, ...], ...]) -> tuple[Layer, ...]:
    out: list[Layer] = []
    for branch in branches:
        for layer in branch:
            out.append(layer)
            out.extend(layer.sublayers() if isinstance(layer, BLOCKS) else ())
    return tuple(out)


Layer = Union[
    Conv2d,
    Pool2d,
    GlobalAvgPool,
    AdaptiveAvgPool,
    Linear,
    Softmax,
    Concat,
    Residual,
    Scale,
    Add,
    Mul,
    Graph,
    Sum,
    Cat,
    ChannelSlice,
    ChannelShuffle,
    BatchNormAct,
    Zero,
]

#: Every layer type. Each concern (shape, weights, Mult-Adds, memory, kind, executor, ONNX, latency) keeps one
#: rule per type in its own registry; ``tests/test_registries.py`` checks every type against every registry.
LAYER_TYPES: tuple[type, ...] = get_args(Layer)  # the union's members, in its order: one list to keep


def _pads(padding: Padding) -> tuple[int, int]:
    """(before, after) of an explicit padding (an int pads both sides)."""
    return (padding, padding) if isinstance(padding, int) else padding  # type: ignore[return-value]


def window_out_size(n: int, kernel: int, stride: int, padding: Padding, ceil_mode: bool = False) -> int:
    """Output size of a strided window over ``n`` positions; the one place this rule lives.

    ``"tf_same"`` is TF's SAME: ``ceil(n / stride)`` whatever the kernel (a stride-2 layer on 7 gives 4). An
    explicit padding, an int p on both sides (PyTorch style) or ``(before, after)``, gives
    ``floor((n + before + after - k) / s) + 1`` (``ceil`` with ``ceil_mode``, where the last window must still
    start inside the input or left padding, as PyTorch requires). Keras' stride-2 depthwise layers, ``(0, 1)``
    then valid, give ``floor(n / 2)`` for a 3x3 kernel: 12 on 25, where SAME gives 13.

    Examples
    --------
    >>> window_out_size(224, 3, 2, "tf_same"), window_out_size(7, 3, 2, "tf_same"), window_out_size(7, 3, 2, (0, 1))
    (112, 4, 3)
    >>> window_out_size(224, 11, 4, 2), window_out_size(112, 3, 2, 0, ceil_mode=True)
    (55, 56)
    """
    if padding == "tf_same":
        return -(-n // stride)
    before, after = _pads(padding)
    span = n + before + after - kernel
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= n + before:
        out -= 1
    return out


def window_out_size_array(
    n: np.ndarray, kernel: int, stride: int, padding: Padding, ceil_mode: bool = False
) -> np.ndarray:
    """:func:`window_out_size` over an int64 array of input sizes (the same rule, vectorised for sweeps).

    NumPy is imported only when this is called; the spec itself does not need it.

    Parameters
    ----------
    n : ndarray of int64, shape (m,)
        Input sizes.

    Returns
    -------
    ndarray of int64, shape (m,)
        Output sizes; 0 where the window does not fit (as :func:`window_out_size`).

    Examples
    --------
    >>> import numpy as np
    >>> window_out_size_array(np.array([224, 7]), 3, 2, "tf_same").tolist()
    [112, 4]
    >>> window_out_size_array(np.array([224, 25]), 3, 2, (0, 1)).tolist()
    [112, 12]
    """
    import numpy as np

    n = np.asarray(n, dtype=np.int64)
    if padding == "tf_same":
        return -(-n // stride)
    before, after = _pads(padding)
    span = n + before + after - kernel
    if not ceil_mode:
        out = span // stride + 1
    else:
        out = -(-span // stride) + 1
        out = out - ((out - 1) * stride >= n + before)
    return np.where(span < 0, 0, out)


def keeps_size(kernel: int, stride: int, padding: Padding) -> bool:
    """True when the window gives back its input size at every n (stride 1, padding totalling kernel - 1)."""
    if stride != 1:
        return False
    return padding == "tf_same" or sum(_pads(padding)) == kernel - 1


def same_padding(n: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF SAME padding (before, after) for one axis: an odd extra row/column goes after (bottom/right)."""
    out = -(-n // stride)
    total = max((out - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def explicit_padding(padding: Padding, n: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero rows of one axis for a layer's padding on an input of ``n``: TF SAME's, an int on
    both sides, or the pair itself. The executor and the ONNX export pad by this; ``after`` may exceed what the
    last window reads (they trim it).

    >>> explicit_padding("tf_same", 224, 3, 2), explicit_padding((0, 1), 224, 3, 2), explicit_padding(1, 224, 3, 2)
    ((0, 1), (0, 1), (1, 1))
    """
    if padding == "tf_same":
        return same_padding(n, kernel, stride)
    return _pads(padding)


@singledispatch
def output_shape(layer: object, in_ch: int, in_size: int) -> tuple[int, int]:
    """(channels, size) a layer produces from an ``in_size`` x ``in_size`` x ``in_ch`` input.

    Raises :class:`SpecError` for a layer type with no shape rule, or an input the layer cannot take.
    """
    raise SpecError(f"no shape rule for layer type {type(layer).__name__}")


@output_shape.register
def _(layer: Conv2d, in_ch: int, in_size: int) -> tuple[int, int]:
    if in_ch != layer.in_ch:
        raise SpecError(
            f"{layer.name}: in_ch={layer.in_ch}, but the previous layer gives {in_ch} channels (channel mismatch)"
        )
    return layer.out_ch, window_out_size(in_size, layer.kernel, layer.stride, layer.padding)


@output_shape.register
def _(layer: Pool2d, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, window_out_size(in_size, layer.kernel, layer.stride, layer.padding, layer.ceil_mode)


@output_shape.register
def _(layer: GlobalAvgPool, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, 1


@output_shape.register
def _(layer: AdaptiveAvgPool, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, layer.output_size


@output_shape.register
def _(layer: Concat, in_ch: int, in_size: int) -> tuple[int, int]:
    total_ch, sizes = 0, set()
    for branch in layer.branches:
        ch, size = in_ch, in_size
        for sub in branch:
            ch, size = output_shape(sub, ch, size)
            if size < 1:
                raise SpecError(f"{sub.name}: the input shrinks to nothing (output size {size})")
        total_ch += ch
        sizes.add(size)
    if len(sizes) != 1:
        raise SpecError(f"{layer.name}: branches end at different sizes {sorted(sizes)}; cannot concatenate")
    return total_ch, sizes.pop()


def _body_shape(layer: _Body, in_ch: int, in_size: int) -> tuple[int, int]:
    ch, size = in_ch, in_size
    for sub in layer.body:
        ch, size = output_shape(sub, ch, size)
        if size < 1:
            raise SpecError(f"{sub.name}: the input shrinks to nothing (output size {size})")
    return ch, size


@output_shape.register
def _(layer: Residual, in_ch: int, in_size: int) -> tuple[int, int]:
    ch, size = _body_shape(layer, in_ch, in_size)
    if (ch, size) != (in_ch, in_size):
        raise SpecError(
            f"{layer.name}: the body turns {in_size}x{in_size}x{in_ch} into {size}x{size}x{ch}; "
            "a residual block must keep the shape"
        )
    return in_ch, in_size


@output_shape.register
def _(layer: Scale, in_ch: int, in_size: int) -> tuple[int, int]:
    ch, size = _body_shape(layer, in_ch, in_size)
    if (ch, size) != (in_ch, 1):
        raise SpecError(
            f"{layer.name}: the body turns {in_size}x{in_size}x{in_ch} into {size}x{size}x{ch}; "
            f"a scale block's body must end at 1x1x{in_ch} (one factor per channel)"
        )
    return in_ch, in_size


@output_shape.register(Add)
@output_shape.register(Mul)
def _(layer: object, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, in_size  # placed on the block's input, whose shape the result has


@output_shape.register
def _(layer: Graph, in_ch: int, in_size: int) -> tuple[int, int]:
    return graph_shapes(layer, in_ch, in_size)[-1][2:]  # type: ignore[return-value]


@output_shape.register(Sum)
@output_shape.register(Cat)
@output_shape.register(Zero)
def _(layer: object, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, in_size  # the graph gives a Sum its inputs' shape, a Cat their channels' total


@output_shape.register
def _(layer: ChannelSlice, in_ch: int, in_size: int) -> tuple[int, int]:
    if layer.stop > in_ch:
        raise SpecError(f"{layer.name}: channels {layer.start}:{layer.stop} of an input with {in_ch} channels")
    return layer.stop - layer.start, in_size


@output_shape.register
def _(layer: ChannelShuffle, in_ch: int, in_size: int) -> tuple[int, int]:
    if in_ch % layer.groups:
        raise SpecError(f"{layer.name}: groups={layer.groups} must divide the input's {in_ch} channels")
    return in_ch, in_size


@output_shape.register
def _(layer: BatchNormAct, in_ch: int, in_size: int) -> tuple[int, int]:
    if in_ch != layer.channels:
        raise SpecError(f"{layer.name}: channels={layer.channels}, but the previous layer gives {in_ch} channels")
    return in_ch, in_size


@output_shape.register
def _(layer: Linear, in_ch: int, in_size: int) -> tuple[int, int]:
    flat = in_ch * in_size * in_size
    if flat != layer.in_features:
        raise SpecError(
            f"{layer.name}: in_features={layer.in_features}, but "
            f"the previous layer gives {in_size}x{in_size}x{in_ch} = {flat} features"
        )
    return layer.out_features, 1


@output_shape.register
def _(layer: Softmax, in_ch: int, in_size: int) -> tuple[int, int]:
    return in_ch, in_size


@singledispatch
def weight_shape(layer: object) -> tuple[int, ...] | None:
    """The shape of a layer's own weight array (its kernel; biases and batch norm are the conventions' business),
    or ``None`` for a layer without weights. The one weight-count rule: the cost engine, the memory model and the
    reference executor's weight shapes all read it. A block holds no weights of its own (its layers do).

    >>> weight_shape(Conv2d("c", 32, 32, 3, groups=32)), weight_shape(Linear("fc", 1024, 1000))
    ((3, 3, 1, 32), (1024, 1000))
    """
    raise SpecError(f"no weight rule for layer type {type(layer).__name__}")


@weight_shape.register
def conv_weight_shape(layer: Conv2d) -> tuple[int, int, int, int]:
    """(D_K, D_K, M / groups, N), the layout Keras stores (HWIO)."""
    return (layer.kernel, layer.kernel, layer.in_ch // layer.groups, layer.out_ch)


@weight_shape.register
def linear_weight_shape(layer: Linear) -> tuple[int, int]:
    """(M, N): in_features x out_features."""
    return (layer.in_features, layer.out_features)


@weight_shape.register(Pool2d)
@weight_shape.register(GlobalAvgPool)
@weight_shape.register(AdaptiveAvgPool)
@weight_shape.register(Softmax)
@weight_shape.register(Concat)
@weight_shape.register(Residual)
@weight_shape.register(Scale)
@weight_shape.register(Add)
@weight_shape.register(Mul)
@weight_shape.register(Graph)
@weight_shape.register(Sum)
@weight_shape.register(Cat)
@weight_shape.register(ChannelSlice)
@weight_shape.register(ChannelShuffle)
@weight_shape.register(BatchNormAct)
@weight_shape.register(Zero)
def _(layer: object) -> None:
    return None
