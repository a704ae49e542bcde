"""The ONNX fixtures recorded from PyTorch's real exporters (issue 19): what they hold, and PyTorch's own counts.

``tests/fixtures/onnx/`` was written by ``benchmarks/record_onnx_fixtures.py`` in a scratch environment with
torch, torchvision and timm (its docstring says how the files were exported and stripped); no framework is
imported here. ``records.json`` holds what PyTorch counted on the same modules (``FlopCounterMode``, FLOPs) and
their parameter counts, and PyTorch's logits for the weighted fixtures, which ONNX Runtime must reproduce.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import costmodel
from costmodel import count

onnx = pytest.importorskip("onnx")

HERE = Path(__file__).parent / "fixtures" / "onnx"
RECORDS = json.loads((HERE / "records.json").read_text())
FLOAT_TYPES = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
EXPORTS = [(name, e) for name, entry in RECORDS["networks"].items() for e in entry["exports"]]

# The recorded module -> the zoo network that describes it (issue 19: "where the zoo has the network")
ZOO = {
    "alexnet": lambda: costmodel.network("alexnet"),
    "vgg16": lambda: costmodel.network("vgg16"),
    "googlenet": lambda: costmodel.network("googlenet"),
    "squeezenet1_1": lambda: costmodel.network("squeezenet1_1"),
    "mobilenet_v2": lambda: costmodel.network("mobilenet_v2"),
    "mobilenet_v3_large": lambda: costmodel.network("mobilenet_v3_large"),
    "mnasnet1_0": lambda: costmodel.network("mnasnet1_0"),
    "efficientnet_b0": lambda: costmodel.network("efficientnet_b0"),
    "timm_mobilenetv1_100": lambda: costmodel.mobilenet_v1(flavour="timm"),
}


def _numel(tensor) -> int:
    return int(np.prod(tensor.dims, dtype=np.int64))


def _has_data(tensor) -> bool:
    return bool(tensor.raw_data or tensor.float_data or tensor.double_data or tensor.int32_data or tensor.int64_data)


def test_every_network_of_the_issue_is_recorded():
    want = {"alexnet", "vgg16", "googlenet", "resnet18", "resnet50", "densenet121", "squeezenet1_1",
            "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_large", "mnasnet1_0", "efficientnet_b0",
            "regnet_x_400mf", "convnext_tiny", "timm_mobilenetv1_100", "timm_mobilenetv3_large_100"}  # fmt: skip
    assert set(RECORDS["networks"]) == want
    failed = {(f["network"], f["exporter"]) for f in RECORDS["failures"]}
    for name, entry in RECORDS["networks"].items():
        kinds = {(e["exporter"], e["opset"]) for e in entry["exports"]}
        assert {("torchscript", 13), ("torchscript", 17)} <= kinds, name
        assert any(e == "dynamo" for e, _ in kinds) or (name, "dynamo") in failed, name


@pytest.mark.parametrize("name,export", EXPORTS, ids=[e["file"] for _, e in EXPORTS])
def test_stripped_fixture_keeps_every_shape_and_no_weight(name, export):
    model = onnx.load(str(HERE / export["file"]))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["costmodel.stripped"] == "initializers: dims and dtype kept, data removed"
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert opset == export["opset"]
    inits = model.graph.initializer
    assert sum(_numel(t) for t in inits) == export["initializer_elements"]
    assert sum(_numel(t) for t in inits if t.data_type in FLOAT_TYPES) == export["float_initializer_elements"]
    stripped = [t for t in inits if t.data_type in FLOAT_TYPES and _numel(t) >= 2]
    assert len(stripped) == export["stripped_initializers"] and not any(_has_data(t) for t in stripped)
    assert all(_has_data(t) or _numel(t) == 0 for t in inits if t not in stripped)  # shapes, axes, scalars kept
    # shapes need no weights: ONNX's own shape inference reaches the logits
    inferred = onnx.shape_inference.infer_shapes(model)
    dims = [d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 1000]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_counts_equal_pytorchs_on_the_recorded_module(name):
    """FlopCounterMode's FLOPs (2 per multiply-accumulate of convolutions and matrix products) and
    sum(p.numel()) on the real module equal the zoo network's counts under the ``torch`` convention."""
    entry = RECORDS["networks"][name]
    cost = count(ZOO[name](), "torch")
    assert cost.flops == entry["torch_flop_counter_flops"] == 2 * cost.mult_adds
    assert cost.params == entry["params"]
    assert sum(entry["torch_flop_counter_by_op"].values()) == entry["torch_flop_counter_flops"]


@pytest.mark.parametrize("name", sorted(RECORDS["weighted"]))
def test_weighted_fixture_runs_as_pytorch_did(name):
    """ONNX Runtime on the saved file reproduces PyTorch's logits on the recorded seeded input."""
    ort = pytest.importorskip("onnxruntime")
    entry = RECORDS["weighted"][name]
    (export,) = entry["exports"]
    path = HERE / export["file"]
    onnx.checker.check_model(str(path))  # weighted fixtures are whole models
    x = np.random.default_rng(21).standard_normal((1, 3, 224, 224)).astype(np.float32)
    assert entry["input"].startswith("np.random.default_rng(21).standard_normal((1, 3, 224, 224))")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0].ravel()
    expected = np.asarray(entry["torch_logits"], dtype=np.float64)
    # float32 kernels of two runtimes (and batch norm folded by the exporter): 1e-4 of the largest logit
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
