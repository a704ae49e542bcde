"""Squeeze-and-excite and the inverted residual (MBConv) builder, the Scale block and the Add/Mul merges."""

from __future__ import annotations

import pytest
from _networks import tiny

from costmodel import count
from costmodel.errors import DataError, SpecError
from costmodel.spec.blocks import inverted_residual, squeeze_excite, use_residual
from costmodel.spec.layers import Add, Conv2d, GlobalAvgPool, Mul, Residual, Scale
from costmodel.spec.network import Network


def _names(layers):
    return [layer.name for layer in layers]


def test_squeeze_excite_is_torchvisions():
    se = squeeze_excite("se", 96, 24, activation="relu", gate="hardsigmoid")
    pool, reduce, expand = se.body
    assert isinstance(se, Scale) and isinstance(pool, GlobalAvgPool)
    assert (reduce.in_ch, reduce.out_ch, reduce.kernel, reduce.bias, reduce.batch_norm) == (96, 24, 1, True, False)
    assert (expand.in_ch, expand.out_ch, expand.activation) == (24, 96, "hardsigmoid")
    assert se.merge == Mul("se.mul") and se.sublayers()[-1] == Mul("se.mul")


@pytest.mark.parametrize(
    "in_ch,out_ch,stride,residual", [(16, 16, 1, True), (16, 24, 1, False), (16, 16, 2, False), (24, 16, 1, False)]
)
def test_residual_only_when_the_shape_stays(in_ch, out_ch, stride, residual):
    layers = inverted_residual("b", in_ch, out_ch, expand_ch=6 * in_ch, kernel=5, stride=stride)
    assert use_residual(in_ch, out_ch, stride) is residual
    if residual:
        (block,) = layers
        assert isinstance(block, Residual) and block.merge == Add("b.add")
        layers = block.body
    assert _names(layers) == ["b.expand", "b.dw", "b.project"]
    assert layers[1].depthwise and layers[1].kernel == 5 and layers[1].stride == stride
    assert layers[1].padding == 2  # PyTorch's kernel // 2, as torchvision
    assert layers[2].activation is None  # the linear bottleneck


def test_no_expansion_when_expanded_equals_input():
    layers = inverted_residual("b", 16, 24, expand_ch=16, se_ch=8, activation="silu", se_gate="sigmoid")
    assert _names(layers) == ["b.dw", "b.se", "b.project"]
    assert layers[1].body[2].activation == "sigmoid" and layers[0].activation == "silu"


def test_block_params_by_hand():
    """1x1 16->64, 3x3 dw 64, SE 64->16->64 (biases), 1x1 64->16; batch norm 2 per channel (torch)."""
    net = Network(inverted_residual("b", 16, 16, expand_ch=64, se_ch=16), input_size=10, in_ch=16)
    convs = 16 * 64 + 9 * 64 + (64 * 16 + 16) + (16 * 64 + 64) + 64 * 16
    bn = 2 * (64 + 64 + 16)
    assert count(net, "torch").params == convs + bn
    mult_adds = 16 * 64 * 100 + 9 * 64 * 100 + 64 * 16 + 16 * 64 + 64 * 16 * 100
    assert count(net).mult_adds == mult_adds


def test_merges_are_leaves_of_their_blocks():
    net = tiny(64)
    leaves = [n.name for n in net.leaves()]
    assert leaves.index("b1.se.mul") == leaves.index("b1.se.expand") + 1
    assert leaves.index("b1.add") == leaves.index("b1.project") + 1
    assert leaves[-6:] == ["b3.se.mul", "b3.project", "b3.add", "pool", "fc1", "fc"]
    node = net["b3.se.mul"]
    assert (node.in_ch, node.in_size, node.out_ch, node.out_size) == (72, 16, 72, 16)
    assert [n.name for n in net["b1"].walk()][-2:] == ["b1.project", "b1.add"]


@pytest.mark.parametrize("layer", [Add("a"), Mul("m")])
def test_merges_are_not_written(layer):
    with pytest.raises(SpecError, match="only ends a block"):
        Network([Conv2d("c", 3, 8, 3), layer], input_size=8)
    with pytest.raises(SpecError, match="only ends a block"):
        Network([Residual("r", (Conv2d("c", 3, 3, 1), layer))], input_size=8)


def test_scale_body_must_end_at_one_factor_per_channel():
    with pytest.raises(SpecError, match="must end at 1x1x8"):
        Network([Scale("s", (Conv2d("c", 8, 8, 1),))], input_size=4, in_ch=8)
    with pytest.raises(SpecError, match="must end at 1x1x8"):
        Network([Scale("s", (GlobalAvgPool("p"), Conv2d("c", 8, 4, 1)))], input_size=4, in_ch=8)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: squeeze_excite("se", 8, 2, gate="relu"), "gate must be one of"),
        (lambda: squeeze_excite("se", 8, 2, activation="gelu"), "activation must be one of"),
        (lambda: inverted_residual("b", 8, 8, expand_ch=16, kernel=4), "kernel must be an odd"),
        (lambda: inverted_residual("b", 8, 8, expand_ch=16, activation="tanh"), "activation must be one of"),
        (lambda: Scale("s", ()), "body must be a non-empty"),
    ],
)
def test_bad_blocks(call, match):
    with pytest.raises(SpecError, match=match):
        call()


def test_scale_blocks_round_trip_through_json():
    net = tiny(40)
    doc = net.to_dict()
    again = Network.from_dict(doc)
    assert again.leaves() == net.leaves()
    assert count(again, "thop").mult_adds == count(net, "thop").mult_adds
    blocks = [layer for layer in doc["layers"] if layer["type"] == "residual"]
    assert [sub["name"] for b in blocks for sub in b["body"] if sub["type"] == "scale"] == ["b1.se", "b3.se"]
    bad = {"input_size": 8, "in_ch": 4, "layers": [{"type": "add", "name": "a"}]}
    with pytest.raises(SpecError, match="only ends a block"):
        Network.from_dict(bad)
    with pytest.raises(DataError, match="unknown field"):
        Network.from_dict({**bad, "layers": [{"type": "mul", "name": "m", "body": []}]})
