"""Built-in networks: torchvision's documented parameter counts, and feature-map sizes from torchvision."""

from __future__ import annotations

import pytest

import costmodel
from costmodel import count
from costmodel.errors import SpecError
from costmodel.paper.published import read_csv
from costmodel.spec.layers import Conv2d, Residual
from costmodel.spec.zoo import NETWORKS


def _torchvision() -> list[dict[str, str]]:
    return read_csv("torchvision_params.csv")


@pytest.mark.parametrize("row", _torchvision(), ids=lambda r: r["network"])
def test_torch_convention_params_equal_torchvision_documentation(row):
    assert count(costmodel.network(row["network"]), "torch").params == int(row["params"])


def test_every_name_of_the_issue_is_built():
    assert set(NETWORKS) - {"resnet18", "resnet50", "densenet121", "shufflenet_v2_x1_0"} == {
        "mobilenet_v1",
        "vgg16",
        "googlenet",
        "alexnet",
        "squeezenet1_0",
        "squeezenet1_1",
        "mobilenet_v2",
        "mobilenet_v3_large",
        "mobilenet_v3_small",
        "mnasnet1_0",
        "efficientnet_b0",
    }
    assert count(costmodel.network("mobilenet_v1")).mult_adds == 568_740_352  # the paper's Table 1 network


# Output (channels, size) of named layers at 224x224, as torchvision's modules produce them (N, C, H, W).
SHAPES = {
    "googlenet": {
        "conv1": (64, 112),
        "maxpool1": (64, 56),
        "conv3": (192, 56),
        "maxpool2": (192, 28),
        "inception3a": (256, 28),
        "inception3b": (480, 28),
        "maxpool3": (480, 14),
        "inception4a": (512, 14),
        "inception4d": (528, 14),
        "inception4e": (832, 14),
        "maxpool4": (832, 7),
        "inception5a": (832, 7),
        "inception5b": (1024, 7),
        "avgpool": (1024, 1),
        "fc": (1000, 1),
        "inception3a.branch4.0": (192, 28),
    },
    "alexnet": {
        "conv1": (64, 55),
        "pool1": (64, 27),
        "conv2": (192, 27),
        "pool2": (192, 13),
        "pool5": (256, 6),
        "avgpool": (256, 6),
    },
    "vgg16": {"conv1_2": (64, 224), "pool1": (64, 112), "pool5": (512, 7), "avgpool": (512, 7)},
    "squeezenet1_0": {
        "conv1": (96, 109),
        "pool1": (96, 54),
        "fire2.expand": (128, 54),
        "pool4": (256, 27),
        "pool8": (512, 13),
        "fire9.expand": (512, 13),
        "conv10": (1000, 13),
        "avgpool": (1000, 1),
    },
    "mobilenet_v2": {
        "conv1": (32, 112),
        "block1.dw": (32, 112),
        "block2.dw": (96, 56),
        "block3": (24, 56),
        "block14.dw": (576, 7),
        "block17.project": (320, 7),
        "conv_last": (1280, 7),
        "avgpool": (1280, 1),
    },
    "mobilenet_v3_large": {
        "conv1": (16, 112),
        "block1": (16, 112),
        "block2.project": (24, 56),
        "block4.se.pool": (72, 1),
        "block4.se.reduce": (24, 1),
        "block4.se": (72, 28),
        "block7.dw": (240, 14),
        "block13.dw": (672, 7),
        "conv_last": (960, 7),
        "fc1": (1280, 1),
    },
    "mobilenet_v3_small": {
        "block1.se.reduce": (8, 1),
        "block1.project": (16, 56),
        "block4.se.reduce": (24, 1),
        "block9.dw": (288, 7),
        "conv_last": (576, 7),
        "fc1": (1024, 1),
    },
    "mnasnet1_0": {"conv2.pw": (16, 112), "block1.expand": (48, 112), "block1.dw": (48, 56), "conv_last": (1280, 7)},
    "efficientnet_b0": {
        "block1.dw": (32, 112),
        "block1.se.reduce": (8, 1),
        "block2.se.reduce": (4, 1),
        "block3.se.reduce": (6, 1),
        "block16.project": (320, 7),
        "conv_last": (1280, 7),
    },
    "squeezenet1_1": {
        "conv1": (64, 111),
        "pool1": (64, 55),
        "pool3": (128, 27),
        "pool5": (256, 13),
        "conv10": (1000, 13),
    },
}


@pytest.mark.parametrize("name,layer,shape", [(n, k, v) for n, d in SHAPES.items() for k, v in d.items()])
def test_feature_maps_match_torchvision(name, layer, shape):
    node = costmodel.network(name)[layer]
    assert (node.out_ch, node.out_size) == shape


def test_googlenet_5x5_branch_is_3x3_as_in_torchvision():
    node = costmodel.network("googlenet")["inception3a.branch3.1"]
    assert node.layer.kernel == 3 and (node.layer.in_ch, node.layer.out_ch) == (16, 32)


def test_vgg16_paper_mult_adds_by_hand():
    """13 convs 3x3 (stride 1, 'same' padding) + 3 FC, summed from the configuration by hand."""
    cfg = [(3, 64, 224), (64, 64, 224), (64, 128, 112), (128, 128, 112), (128, 256, 56), (256, 256, 56),
           (256, 256, 56), (256, 512, 28), (512, 512, 28), (512, 512, 28), (512, 512, 14), (512, 512, 14),
           (512, 512, 14)]  # fmt: skip
    convs = sum(9 * m * n * d * d for m, n, d in cfg)
    fcs = 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert count(costmodel.network("vgg16")).mult_adds == convs + fcs


@pytest.mark.parametrize("name", ["vgg16", "googlenet", "alexnet", "squeezenet1_0", "squeezenet1_1"])
def test_num_classes_changes_only_the_classifier(name):
    small, big = costmodel.network(name, num_classes=10), costmodel.network(name)
    diff = count(big, "torch").params - count(small, "torch").params
    last = big.nodes[-1] if name.startswith(("vgg", "alex", "goog")) else big["conv10"]
    fan_in = last.layer.in_features if hasattr(last.layer, "in_features") else last.layer.in_ch
    assert diff == (1000 - 10) * (fan_in + 1)  # weights and bias of the last layer


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: costmodel.network("resnet101"), "unknown network 'resnet101'"),
        (lambda: costmodel.network("alexnet", towers=3), "towers must be 1 .* or 2 .*, got 3"),
        (lambda: costmodel.network("googlenet", branch3_kernel=7), "branch3_kernel must be 3 .* or 5 .*, got 7"),
        (lambda: costmodel.network("vgg16", alpha=0.5), "vgg16: .*alpha"),
        (lambda: costmodel.network("alexnet", resolution=0), "resolution must be a positive integer, got 0"),
        (lambda: costmodel.network("alexnet", resolution=40), "shrinks to nothing"),
        (lambda: costmodel.network("googlenet", num_classes=2.5), "num_classes must be a positive integer"),
    ],
)
def test_bad_requests(call, match):
    with pytest.raises(SpecError, match=match):
        call()


def _make_divisible(v: float, d: int = 8) -> int:  # torchvision's _utils._make_divisible, retyped
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


def _by_hand(blocks, stem: int, head: tuple[int, ...], resolution: int) -> tuple[int, int]:
    """(params, Mult-Adds) summed from a block table (in, kernel, expanded, out, squeeze or 0, stride), every
    conv with batch norm (2 parameters per channel) except the SE convs (bias), the way the papers tabulate."""
    size = -(-resolution // 2)
    params, mult_adds = 3 * 3 * 3 * stem + 2 * stem, 3 * 3 * 3 * stem * size * size

    def conv(m, n, k, d, groups=1, bn=True):
        nonlocal params, mult_adds
        w = k * k * (m // groups) * n
        params += w + (2 * n if bn else n)
        mult_adds += w * d * d

    for cin, k, e, cout, sq, s in blocks:
        if e != cin:
            conv(cin, e, 1, size)
        size = -(-size // s)
        conv(e, e, k, size, groups=e)
        if sq:
            conv(e, sq, 1, 1, bn=False)
            conv(sq, e, 1, 1, bn=False)
        conv(e, cout, 1, size)
    last = blocks[-1][3]
    conv(last, head[0], 1, size)
    for m, n in zip(head, head[1:], strict=False):
        params += m * n + n
        mult_adds += m * n
    return params, mult_adds


def _v3_small():
    cfg = [(16, 3, 16, 16, 1, 2), (16, 3, 72, 24, 0, 2), (24, 3, 88, 24, 0, 1), (24, 5, 96, 40, 1, 2),
           (40, 5, 240, 40, 1, 1), (40, 5, 240, 40, 1, 1), (40, 5, 120, 48, 1, 1), (48, 5, 144, 48, 1, 1),
           (48, 5, 288, 96, 1, 2), (96, 5, 576, 96, 1, 1), (96, 5, 576, 96, 1, 1)]  # fmt: skip
    return [(i, k, e, o, _make_divisible(e // 4) if se else 0, s) for i, k, e, o, se, s in cfg], 16, (576, 1024, 1000)


def _b0():
    stages = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]  # fmt: skip
    blocks = []
    for t, k, s, cin, cout, n in stages:
        for r in range(n):
            c = cin if r == 0 else cout
            blocks.append((c, k, _make_divisible(c * t), cout, max(1, c // 4), s if r == 0 else 1))
    return blocks, 32, (1280, 1000)


@pytest.mark.parametrize("name,table", [("mobilenet_v3_small", _v3_small), ("efficientnet_b0", _b0)])
@pytest.mark.parametrize("resolution", [224, 97])
def test_mobile_networks_by_hand(name, table, resolution):
    """Parameters (torch convention) and Mult-Adds summed here from the architecture tables, not from the spec."""
    blocks, stem, head = table()
    cost = count(costmodel.network(name, resolution=resolution), "torch")
    assert (cost.params, cost.mult_adds) == _by_hand(blocks, stem, head, resolution)


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mobilenet_v3_small", "mnasnet1_0", "efficientnet_b0"])
def test_residual_rule_of_mobilenet_v2(name):
    """A block is a Residual exactly when its stride is 1 and it keeps its channels."""
    net = costmodel.network(name)
    for node in net:
        if isinstance(node.layer, Residual):
            assert (node.in_ch, node.in_size) == (node.out_ch, node.out_size)
    dws = [n for n in net.leaves() if isinstance(n.layer, Conv2d) and n.layer.depthwise]
    blocks = {n.name.split(".")[0]: n for n in dws}
    residual = {n.name for n in net if isinstance(n.layer, Residual)}
    for block, dw in blocks.items():
        if not block.startswith("block"):
            continue
        project = net[f"{block}.project"]
        first = net[f"{block}.expand"] if f"{block}.expand" in {n.name for n in net.leaves()} else dw
        keeps = dw.layer.stride == 1 and first.in_ch == project.out_ch
        assert (block in residual) == keeps, block
