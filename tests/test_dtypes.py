"""Costs by data type (costmodel.counting.dtypes): bytes and BOPs by hand for a small network, weight and
activation bytes against the tensors of the .tflite files the export writes (read back by LiteRT), and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import fails
from _litert import images

import costmodel
from costmodel.cli import main
from costmodel.counting.dtypes import DATA_TYPES, data_type, dtype_cost
from costmodel.errors import SpecError
from costmodel.reference import init_weights, to_tflite
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Softmax
from costmodel.spec.network import Network

SMALL = Network(
    [
        Conv2d("c", 3, 8, 3, stride=2),  # 8x8x3 in -> 4x4x8; batch norm: 8 biases after folding
        Conv2d("d", 8, 8, 3, groups=8),  # depthwise, 4x4x8 -> 4x4x8
        GlobalAvgPool("pool"),  # -> 1x1x8
        Linear("fc", 8, 5),  # bias 5
        Softmax("softmax"),
    ],
    8,
)


@pytest.mark.parametrize("dtype,weight_bits,bias_bits,act_bits", [("float32", 32, 32, 32), ("float16", 16, 16, 16),
                                                                  ("int8", 8, 32, 8)])  # fmt: skip
def test_by_hand(dtype, weight_bits, bias_bits, act_bits):
    mult_adds = {"c": 3 * 3 * 3 * 8 * 4 * 4, "d": 3 * 3 * 8 * 4 * 4, "pool": 0, "fc": 8 * 5, "softmax": 0}
    kernels = {"c": 3 * 3 * 3 * 8, "d": 3 * 3 * 8, "pool": 0, "fc": 8 * 5, "softmax": 0}
    biases = {"c": 8, "d": 8, "pool": 0, "fc": 5, "softmax": 0}
    outputs = {"c": 4 * 4 * 8, "d": 4 * 4 * 8, "pool": 8, "fc": 5, "softmax": 5}
    c = dtype_cost(SMALL, dtype)
    for row in c.layers:
        assert row.mult_adds == mult_adds[row.name]
        assert row.bops == mult_adds[row.name] * weight_bits * act_bits  # qonnx: MACs x w bits x a bits
        assert row.weight_bytes == (kernels[row.name] * weight_bits + biases[row.name] * bias_bits) // 8
        assert row.output_bytes == outputs[row.name] * act_bits // 8
    assert c.bops == (3456 + 1152 + 40) * weight_bits * act_bits
    assert c.weight_bytes == ((216 + 72 + 40) * weight_bits + (8 + 8 + 5) * bias_bits) // 8
    # Peak live: the first convolution's input (8x8x3) and output (4x4x8) together.
    assert (c.peak_live_activation_bytes, c.peak_layer) == ((192 + 128) * act_bits // 8, "c")
    assert c.peak_memory_bytes == c.weight_bytes + c.peak_live_activation_bytes
    assert c.mult_adds == costmodel.count(SMALL).mult_adds


def _file_tensors(data: bytes) -> dict[str, int]:
    """Bytes of every tensor of a .tflite file, as LiteRT reads them (shape x element size)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    return {
        d["name"]: int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize for d in interpreter.get_tensor_details()
    }


@pytest.mark.parametrize(
    "net",
    [
        costmodel.mobilenet_v1(0.25, 64, num_classes=10),
        costmodel.mobilenet_v1(0.25, 33, num_classes=10, flavour="keras"),
        costmodel.network("mobilenet_v2", resolution=32, num_classes=10),
        SMALL,
        Network(
            [Conv2d("c", 3, 4, 3, batch_norm=False), GlobalAvgPool("g"), Linear("fc", 4, 3, bias=False)],
            6,
            name="no biases",
        ),  # fmt: skip
    ],
    ids=lambda n: n.name,
)
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_bytes_match_the_exported_file(net, dtype):
    pytest.importorskip("ai_edge_litert")
    weights = init_weights(net)
    kwargs = {"representative": images(net, 2, seed=0)} if dtype == "int8" else {}
    data, _ = to_tflite(net, weights, dtype=dtype, **kwargs)
    sizes = _file_tensors(data)
    c = dtype_cost(net, dtype)
    stored = {name: 0 for name in (row.name for row in c.layers)}
    for name, size in sizes.items():
        layer, _, what = name.rpartition("/")
        if what in ("weights", "bias"):
            stored[layer] += size
    assert sum(stored.values()) == c.weight_bytes
    for row in c.layers:
        assert stored[row.name] == row.weight_bytes, row.name
        if row.name in sizes:  # every layer's output is a tensor of the file, but the dropped softmax's
            assert sizes[row.name] == row.output_bytes, row.name
    assert sizes["input"] == c.layers[0].input_bytes


def test_unknown_dtype():
    with pytest.raises(SpecError, match="unknown dtype 'int4'"):
        dtype_cost(SMALL, "int4")
    with pytest.raises(SpecError, match="needs a Network"):
        dtype_cost("mobilenet", "int8")  # type: ignore[arg-type]
    assert data_type(DATA_TYPES["int8"]) is DATA_TYPES["int8"]


def test_cli_count_dtype(capsys):
    assert main(["count", "--alpha", "0.25", "--resolution", "128", "--dtype", "int8", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    want = dtype_cost(costmodel.mobilenet_v1(0.25, 128), "int8")
    assert doc["bops"] == want.bops == want.mult_adds * 64
    assert doc["weight_bytes"] == want.weight_bytes
    assert len(doc["layers"]) == len(want.layers)
    assert main(["count", "--network", "mobilenet_v2", "--dtype", "float16"]) == 0
    assert "BOPs" in capsys.readouterr().out
    fails(["count", "--dtype", "int8", "--memory"], capsys, "--dtype cannot be combined with --memory")
    fails(["count", "--dtype", "int8", "--convention", "thop"], capsys, "--convention")
    fails(["count", "--dtype", "int4"], capsys, "int4")
