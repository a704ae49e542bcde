"""Memory accounting, checked by hand on small networks (plain and multi-branch) and on MobileNetV1."""

from __future__ import annotations

import pytest

from costmodel import Concat, Conv2d, GlobalAvgPool, Linear, Network, Pool2d, Residual, count, mobilenet_v1
from costmodel.counting.memory import DTYPE_BYTES, dtype_bytes, layer_memory, memory
from costmodel.errors import SpecError
from costmodel.spec.blocks import squeeze_excite


def tiny(wide: int | None = None) -> Network:
    """8x8x3 -> conv s2 -> [1x1 conv | 3x3 max pool -> 1x1 conv (bias)] -> global pool -> FC."""
    branch_a = (Conv2d("b1", 4, 2, 1),)
    if wide:  # a wide intermediate inside the first branch
        branch_a = (Conv2d("b1w", 4, wide, 1), Conv2d("b1", wide, 2, 1))
    return Network(
        [
            Conv2d("c1", 3, 4, 3, stride=2),
            Concat(
                "mix",
                (branch_a, (Pool2d("b2p", 3, 1, mode="max", padding=1), Conv2d("b2c", 4, 6, 1, bias=True))),
            ),
            GlobalAvgPool("gap"),
            Linear("fc", 8, 5),
        ],
        input_size=8,
        name="tiny",
    )


def test_tiny_by_hand():
    m = memory(tiny())
    rows = {r.name: r for r in m.layers}
    # c1: in 8*8*3 = 192, out 4*4*4 = 64; weights 3*3*3*4 = 108 + 4 folded batch-norm biases
    assert (rows["c1"].input_elements, rows["c1"].output_elements, rows["c1"].weight_elements) == (
        192,
        64,
        112,
    )
    # block: in 64, out 4*4*(2+6) = 128; weights b1 4*2 + 2, b2c 4*6 + 6 (bias and BN fold into one bias)
    assert (rows["mix"].input_elements, rows["mix"].output_elements, rows["mix"].weight_elements) == (
        64,
        128,
        40,
    )
    # live while b2p runs: block in 64 + block out 128 + b2p's own output 64 (its input is the block's input)
    assert rows["mix"].live_elements == 256
    # traffic: b1 64 + 32, b2p 64 + 64, b2c 64 + 96
    assert rows["mix"].traffic_elements == 384
    assert [p.name for p in rows["mix"].parts] == ["b1", "b2p", "b2c"]
    assert m.weight_elements == 112 + 40 + (8 * 5 + 5)
    assert (m.peak_live_elements, m.peak_layer) == (256, "c1")  # c1: 192 + 64 = 256, first on ties
    assert m.traffic_elements == 256 + 384 + (128 + 8) + (8 + 5)


def test_wide_intermediate_inside_a_branch_sets_the_peak():
    m = memory(tiny(wide=100))
    # b1w runs with: block input 64, block output 128, its own output 4*4*100 = 1600
    # b1 runs with: block input 64, block output 128, its own input 1600 (its output is the block's slice)
    assert (m.peak_live_elements, m.peak_layer) == (64 + 128 + 1600, "mix")


@pytest.mark.parametrize("dtype", list(DTYPE_BYTES))
def test_bytes_are_elements_times_dtype_size(dtype):
    m = memory(tiny())
    size = {"float32": 4, "float16": 2, "int8": 1}[dtype]
    assert m.bytes(dtype) == {
        "weight_bytes": 197 * size,
        "peak_live_bytes": 256 * size,
        "traffic_bytes": 789 * size,
    }
    assert m.layers[0].bytes(dtype) == (192 * size, 64 * size, 112 * size)


def test_mobilenet_weights_are_paper_params_plus_folded_biases():
    net = mobilenet_v1()
    bn_channels = sum(n.out_ch for n in net if isinstance(n.layer, Conv2d))
    assert memory(net).weight_elements == count(net).params + bn_channels + 1000  # + FC bias
    assert memory(net).weight_elements == sum(layer_memory(n).weight_elements for n in net)


def test_mobilenet_peak_by_hand():
    m = memory(mobilenet_v1())
    assert (m.peak_live_elements, m.peak_layer) == (112 * 112 * 32 + 112 * 112 * 64, "conv_pw_1")


def test_unknown_dtype():
    with pytest.raises(SpecError, match="unknown dtype 'bfloat16'"):
        dtype_bytes("bfloat16")


def test_residual_block_by_hand():
    """4x4x8 -> [1x1 expand to 16, 3x3 depthwise, 1x1 project to 8] + input."""
    body = (Conv2d("e", 8, 16, 1), Conv2d("d", 16, 16, 3, groups=16), Conv2d("p", 16, 8, 1, activation=None))
    net = Network([Residual("res", body)], input_size=4, in_ch=8)
    row = memory(net).layers[0]
    assert (row.input_elements, row.output_elements) == (128, 128)
    # e: input 128 (the block's) + its output 256; d: block input 128 kept for the sum + 256 in + 256 out;
    # p: block input 128 + its input 256 + its output 128; res.add: block input + p's output, summed in place
    assert row.live_elements == max(128 + 256, 128 + 256 + 256, 128 + 256 + 128, 128 + 128) == 640
    assert row.traffic_elements == (128 + 256) + (256 + 256) + (256 + 128) + (128 + 128 + 128)
    assert row.weight_elements == (8 * 16 + 16) + (9 * 16 + 16) + (16 * 8 + 8)  # batch norm folded


def test_scale_block_by_hand():
    """4x4x8 * [global pool, 1x1 to 2 (bias), 1x1 back to 8 (bias, sigmoid)]: squeeze-and-excite."""
    se = squeeze_excite("se", 8, 2, gate="sigmoid")
    net = Network([se], input_size=4, in_ch=8)
    row = memory(net).layers[0]
    assert (row.input_elements, row.output_elements) == (128, 128)
    # pool: block input 128 (kept for the product) + 8 out; reduce: 128 + 8 + 2; expand: 128 + 2 + 8;
    # se.mul: reads the input (128) and the 8 factors, writes a new 4x4x8 map (128)
    assert row.live_elements == max(128 + 8, 128 + 8 + 2, 128 + 2 + 8, 128 + 8 + 128) == 264
    assert row.traffic_elements == (128 + 8) + (8 + 2) + (2 + 8) + (128 + 8 + 128)
    assert row.weight_elements == (8 * 2 + 2) + (2 * 8 + 8)  # weights and biases, no batch norm
    assert [part.name for part in row.parts] == ["se.pool", "se.reduce", "se.expand", "se.mul"]
