"""Zoo networks that are graphs, not chains: ResNet-18 and -50, DenseNet-121 and ShuffleNetV2 x1.0.

Each follows its torchvision definition module for module (``torchvision/models/resnet.py``, ``densenet.py``,
``shufflenetv2.py``), so that the parameters under the ``torch`` convention are exactly the ones torchvision
documents (``data/torchvision_params.csv``) and the Mult-Adds round to its GFLOPS column
(``data/torchvision_ops.csv``). Every block is a :class:`~costmodel.spec.layers.Graph` whose nodes name
their inputs; layer names are torchvision's module names (``layer1.0.conv1``, ``features.denseblock1.denselayer1.conv1``
shortened to ``denseblock1.denselayer1.conv1``, ``stage2.0.branch2.0``), so they double as weight keys.
Batch norms have PyTorch's epsilon, 1e-5. Dropout is an inference-time identity and is left out.

>>> import costmodel
>>> c = costmodel.count(costmodel.network("resnet18"), "torch")
>>> c.params, round(c.mult_adds / 1e9, 3)
(11689512, 1.814)
"""

from __future__ import annotations

from ..checks import positive_int
from .layers import (
    AdaptiveAvgPool,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Layer,
    Linear,
    Pool2d,
    Sum,
)
from .network import Network

__all__ = ["resnet18", "resnet50", "densenet121", "shufflenet_v2_x1_0", "GRAPH_NETWORKS"]

#: The zoo names of this module's networks. They are not (yet) in the latency zoo that ``calibrate --zoo`` fits
#: (costmodel.latency.calibrate.ZOO): their new kinds (Channel Shuffle, BN/Act, ...) have no measurements yet.
GRAPH_NETWORKS = ("resnet18", "resnet50", "densenet121", "shufflenet_v2_x1_0")

EPS = 1e-5  # PyTorch's BatchNorm2d default


def _check(resolution: object, num_classes: object) -> None:
    positive_int(resolution, "resolution")
    positive_int(num_classes, "num_classes")


def _conv(
    name: str, in_ch: int, out_ch: int, kernel: int, stride: int = 1, *, relu: bool = True, groups: int = 1
) -> Conv2d:
    """torchvision's ``conv`` + ``BatchNorm2d`` (+ ``ReLU``): no bias, PyTorch padding ``kernel // 2``."""
    return Conv2d(name, in_ch, out_ch, kernel, stride, groups=groups, padding=kernel // 2, bias=False,
                  batch_norm=True, activation="relu" if relu else None, bn_epsilon=EPS)  # fmt: skip


# ------------------------------------------------------------------------------------------------------- ResNet
def _basic_block(name: str, in_ch: int, planes: int, stride: int) -> Graph:
    """``BasicBlock``: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is ``downsample`` (a
    strided 1x1 conv and batch norm) where the shape changes, else the input itself."""
    nodes: list[Layer] = [
        _conv(f"{name}.conv1", in_ch, planes, 3, stride),
        _conv(f"{name}.conv2", planes, planes, 3, relu=False),
    ]
    return _residual(name, nodes, in_ch, planes, stride)


def _bottleneck(name: str, in_ch: int, planes: int, stride: int) -> Graph:
    """``Bottleneck`` (ResNet v1.5: the stride on the 3x3 conv): 1x1 to ``planes``, 3x3, 1x1 to 4·planes."""
    nodes: list[Layer] = [
        _conv(f"{name}.conv1", in_ch, planes, 1),
        _conv(f"{name}.conv2", planes, planes, 3, stride),
        _conv(f"{name}.conv3", planes, 4 * planes, 1, relu=False),
    ]
    return _residual(name, nodes, in_ch, 4 * planes, stride)


def _residual(name: str, body: list[Layer], in_ch: int, out_ch: int, stride: int) -> Graph:
    last = body[-1].name
    inputs: list[tuple[str, ...]] = [()] * len(body)
    if stride != 1 or in_ch != out_ch:  # torchvision's downsample: conv1x1(stride) + BatchNorm2d
        body.append(Conv2d(f"{name}.downsample", in_ch, out_ch, 1, stride, padding=0, bias=False, batch_norm=True,
                           activation=None, bn_epsilon=EPS))  # fmt: skip
        inputs.append(("input",))
        shortcut = f"{name}.downsample"
    else:
        shortcut = "input"
    body.append(Sum(f"{name}.add", activation="relu"))
    inputs.append((last, shortcut))
    return Graph(name, tuple(body), tuple(inputs))


def _resnet(label: str, block: str, repeats: tuple[int, ...], resolution: int, num_classes: int) -> Network:
    _check(resolution, num_classes)
    make, expansion = (_basic_block, 1) if block == "basic" else (_bottleneck, 4)
    layers: list[Layer] = [
        _conv("conv1", 3, 64, 7, 2),  # 224x224 in
        Pool2d("maxpool", 3, 2, "max", padding=1),  # 112x112 in
    ]
    in_ch = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), repeats, strict=True), start=1):
        for i in range(n):  # 56x56, 28x28, 14x14, 7x7 in
            layers.append(make(f"layer{stage}.{i}", in_ch, planes, 2 if stage > 1 and i == 0 else 1))
            in_ch = planes * expansion
    layers += [AdaptiveAvgPool("avgpool", 1), Linear("fc", in_ch, num_classes)]
    return Network(layers, resolution, 3, name=f"{label}-{resolution}", config={"resolution": resolution})


def resnet18(resolution: int = 224, num_classes: int = 1000) -> Network:
    """ResNet-18 as ``torchvision.models.resnet18``: a 7x7 stem, max pooling, four stages of two basic blocks."""
    return _resnet("ResNet-18", "basic", (2, 2, 2, 2), resolution, num_classes)


def resnet50(resolution: int = 224, num_classes: int = 1000) -> Network:
    """ResNet-50 as ``torchvision.models.resnet50`` (v1.5): four stages of 3, 4, 6 and 3 bottleneck blocks."""
    return _resnet("ResNet-50", "bottleneck", (3, 4, 6, 3), resolution, num_classes)


# ----------------------------------------------------------------------------------------------------- DenseNet
def _dense_block(name: str, in_ch: int, layers: int, growth: int, bn_size: int) -> Graph:
    """``_DenseBlock``: dense layer i reads the concatenation of the block's input and every earlier layer's
    output (``torch.cat(prev_features, 1)``: the growing concatenation), then BN-ReLU-conv1x1-BN-ReLU-conv3x3
    to ``growth`` new channels; the block's output concatenates them all."""
    nodes: list[Layer] = []
    inputs: list[tuple[str, ...]] = []
    features = ["input"]
    ch = in_ch
    for i in range(1, layers + 1):
        layer = f"{name}.denselayer{i}"
        if len(features) > 1:
            nodes.append(Cat(f"{layer}.cat"))
            inputs.append(tuple(features))
        nodes += [
            BatchNormAct(f"{layer}.norm1", ch, bn_epsilon=EPS),  # norm1 + relu1
            Conv2d(
                f"{layer}.conv1",
                ch,
                bn_size * growth,
                1,
                padding=0,
                bias=False,
                batch_norm=True,
                activation="relu",
                bn_epsilon=EPS,
            ),  # fmt: skip  # conv1 + norm2 + relu2
            Conv2d(
                f"{layer}.conv2", bn_size * growth, growth, 3, padding=1, bias=False, batch_norm=False, activation=None
            ),  # fmt: skip
        ]
        inputs += [("input",) if len(features) == 1 else (), (), ()]
        features.append(f"{layer}.conv2")
        ch += growth
    nodes.append(Cat(f"{name}.cat"))
    inputs.append(tuple(features))
    return Graph(name, tuple(nodes), tuple(inputs))


def densenet121(resolution: int = 224, num_classes: int = 1000) -> Network:
    """DenseNet-121 as ``torchvision.models.densenet121``: growth rate 32, blocks of 6, 12, 24 and 16 dense
    layers (bottleneck width 4 x 32), transitions halving the channels (BN-ReLU-conv1x1-avgpool 2x2), a
    final batch norm and ReLU, global average pooling and the classifier."""
    _check(resolution, num_classes)
    growth, bn_size = 32, 4
    layers: list[Layer] = [
        Conv2d("conv0", 3, 64, 7, 2, padding=3, bias=False, batch_norm=True, activation="relu", bn_epsilon=EPS),
        Pool2d("pool0", 3, 2, "max", padding=1),  # 112x112 in
    ]
    ch = 64
    for i, n in enumerate((6, 12, 24, 16), start=1):  # 56x56, 28x28, 14x14, 7x7 in
        layers.append(_dense_block(f"denseblock{i}", ch, n, growth, bn_size))
        ch += n * growth
        if i < 4:
            layers += [
                BatchNormAct(f"transition{i}.norm", ch, bn_epsilon=EPS),  # norm + relu
                Conv2d(f"transition{i}.conv", ch, ch // 2, 1, padding=0, bias=False, batch_norm=False, activation=None),
                Pool2d(f"transition{i}.pool", 2, 2, "avg"),
            ]
            ch //= 2
    layers += [
        BatchNormAct("norm5", ch, bn_epsilon=EPS, pytorch="functional_act"),  # features.norm5, forward's F.relu
        GlobalAvgPool("avgpool", pytorch="function"),  # forward's F.adaptive_avg_pool2d(out, (1, 1))
        Linear("classifier", ch, num_classes),
    ]
    return Network(layers, resolution, 3, name=f"DenseNet-121-{resolution}", config={"resolution": resolution})


# ------------------------------------------------------------------------------------------------ ShuffleNetV2
def _shuffle_unit(name: str, in_ch: int, out_ch: int, stride: int) -> Graph:
    """ShuffleNetV2's ``InvertedResidual``. Stride 1: the input's channels split in halves (``x.chunk(2)``), the
    second through branch2 (1x1-BN-ReLU, depthwise 3x3-BN, 1x1-BN-ReLU), concatenated after the first. Stride 2:
    branch1 (depthwise 3x3 s2-BN, 1x1-BN-ReLU) and branch2 both on the whole input, concatenated. Then the
    channel shuffle in 2 groups."""
    half = out_ch // 2
    b2_in = in_ch if stride > 1 else half
    branch2: list[Layer] = [
        _conv(f"{name}.branch2.0", b2_in, half, 1),
        _conv(f"{name}.branch2.3", half, half, 3, stride, relu=False, groups=half),
        _conv(f"{name}.branch2.5", half, half, 1),
    ]
    nodes: list[Layer]
    if stride > 1:
        nodes = [
            _conv(f"{name}.branch1.0", in_ch, in_ch, 3, stride, relu=False, groups=in_ch),
            _conv(f"{name}.branch1.2", in_ch, half, 1),
            *branch2,
        ]
        inputs = [("input",), (), ("input",), (), ()]
        first = f"{name}.branch1.2"
    else:
        nodes = [ChannelSlice(f"{name}.x1", 0, half), ChannelSlice(f"{name}.x2", half, in_ch), *branch2]
        inputs = [("input",), ("input",), (), (), ()]
        first = f"{name}.x1"
    nodes += [Cat(f"{name}.cat"), ChannelShuffle(f"{name}.shuffle", 2)]
    inputs += [(first, f"{name}.branch2.5"), ()]
    return Graph(name, tuple(nodes), tuple(inputs))


def shufflenet_v2_x1_0(resolution: int = 224, num_classes: int = 1000) -> Network:
    """ShuffleNetV2 x1.0 as ``torchvision.models.shufflenet_v2_x1_0``: a 3x3 stem to 24, max pooling, three
    stages of 4, 8 and 4 units at 116, 232 and 464 channels (the first of each at stride 2), a 1x1 conv to
    1024, global average pooling (``x.mean([2, 3])``) and the classifier."""
    _check(resolution, num_classes)
    layers: list[Layer] = [_conv("conv1", 3, 24, 3, 2), Pool2d("maxpool", 3, 2, "max", padding=1)]
    in_ch = 24
    for stage, (repeats, out) in enumerate(zip((4, 8, 4), (116, 232, 464), strict=True), start=2):
        for i in range(repeats):  # 56x56, 28x28, 14x14 in
            layers.append(_shuffle_unit(f"stage{stage}.{i}", in_ch, out, 2 if i == 0 else 1))
            in_ch = out
    layers += [
        _conv("conv5", in_ch, 1024, 1),
        GlobalAvgPool("globalpool", pytorch="mean"),
        Linear("fc", 1024, num_classes),
    ]
    return Network(layers, resolution, 3, name=f"ShuffleNetV2-1.0-{resolution}", config={"resolution": resolution})
