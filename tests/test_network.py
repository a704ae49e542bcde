"""Network equality and hash by value: the same architecture is equal whoever built it, so it can key a cache."""

from __future__ import annotations

import pytest

import costmodel
from costmodel import Conv2d, Network, Residual
from costmodel.errors import SpecError


@pytest.mark.parametrize(
    "build",
    [
        lambda: costmodel.mobilenet_v1(0.75, 161),
        lambda: costmodel.mobilenet_v1(0.5, 128, shallow=True),
        lambda: costmodel.network("googlenet"),  # Concat blocks
        lambda: costmodel.network("mobilenet_v2", resolution=193),  # Residual blocks
    ],
)
def test_equal_networks_built_twice_and_through_json(build):
    a, b = build(), build()
    assert a is not b and a == b and hash(a) == hash(b)
    back = Network.from_dict(a.to_dict())  # new layer objects, the same values
    assert back == a and hash(back) == hash(a)
    assert {a: "cost"}[back] == "cost"


def test_labels_do_not_count_but_layers_input_and_channels_do():
    layers = [Conv2d("c", 3, 8, 3, stride=2), Conv2d("d", 8, 8, 3, groups=8)]
    base = Network(layers, input_size=33, name="a", config={"x": 1})
    assert base == Network(list(layers), input_size=33, name="b", config={"y": 2})  # name, config: labels
    assert base != Network(layers, input_size=35)  # another input size
    assert base != Network([Conv2d("c", 4, 8, 3, stride=2), layers[1]], input_size=33, in_ch=4)
    assert base != Network([layers[0], Conv2d("d", 8, 8, 5, groups=8)], input_size=33)  # another kernel
    assert base != Network([layers[0], Conv2d("e", 8, 8, 3, groups=8)], input_size=33)  # another weight key
    assert base != "network" and base != layers
    assert len({base, Network(layers, input_size=33), Network(layers, input_size=35)}) == 2


def test_residual_body_counts():
    body = (Conv2d("r.a", 8, 16, 1), Conv2d("r.b", 16, 8, 1))
    a = Network([Conv2d("c", 3, 8, 3), Residual("r", body)], input_size=9)
    b = Network([Conv2d("c", 3, 8, 3), Residual("r", (body[0], Conv2d("r.b", 16, 8, 1, activation=None)))], 9)
    assert a != b and a == Network([Conv2d("c", 3, 8, 3), Residual("r", body)], input_size=9)


def test_blocks_nested_past_the_limit_are_a_spec_error_not_a_recursion_error():
    """Placing, counting and running recurse into blocks: nesting is bounded (MAX_NESTING), checked without
    recursion, and the error names the outermost block."""
    from costmodel.spec.network import MAX_NESTING

    def nested(depth):
        layer = Conv2d("c", 8, 8, 1)
        for i in range(depth):
            layer = Residual(f"r{i}", (layer,))
        return layer

    with pytest.raises(SpecError, match=f"block 'r4999' nests blocks more than {MAX_NESTING} deep"):
        Network([Conv2d("s", 3, 8, 1), nested(5000)], input_size=8)
    net = Network([Conv2d("s", 3, 8, 1), nested(MAX_NESTING)], input_size=8)
    # one 1x1 conv inside all the blocks, and the stem: C_in C_out D_F^2 each, the additions count no Mult-Adds
    assert costmodel.count(net).mult_adds == 3 * 8 * 8**2 + 8 * 8 * 8**2


def test_a_config_that_contains_itself_is_a_spec_error():
    document = costmodel.mobilenet_v1(0.25, 32).to_dict()
    document["config"] = {"a": {}}
    document["config"]["a"]["self"] = document["config"]
    with pytest.raises(SpecError, match="config nests more than 64 levels deep"):
        Network.from_dict(document)
    config: dict = {}
    config["self"] = config
    with pytest.raises(SpecError, match="contains itself"):
        Network([Conv2d("c", 3, 8, 1)], input_size=8, config=config)
