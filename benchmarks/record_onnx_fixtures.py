"""Export torchvision's and timm's classification CNNs with PyTorch's two ONNX exporters, and record them as
framework-free test fixtures (``tests/fixtures/onnx/``) with what PyTorch itself counts on the same modules.

Not part of the test suite (the suite never imports a framework): run it by hand in a scratch environment,
outside the repository, e.g. on x86_64

    python3 -m venv /tmp/fw
    /tmp/fw/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/fw/bin/pip install timm onnx onnxscript onnxruntime
    /tmp/fw/bin/python benchmarks/record_onnx_fixtures.py --out tests/fixtures/onnx

(``--only NAME ...`` re-records some networks and merges them into an existing ``records.json``;
``--no-dynamo`` skips the dynamo exporter, the slow one: minutes per network on a loaded machine; ``--records
FILE`` writes the JSON elsewhere, so that disjoint ``--only`` lists can run side by side and their
``networks``/``weighted``/``failures`` be merged.) Recorded with torch 2.14.1, torchvision 0.29.1, timm 1.0.31,
onnx 1.23.2, onnxscript 0.7.2 and onnxruntime 1.32.0 (``records.json`` says so too); the dynamo exporter
exported all sixteen networks, at its default opset 20.

**Networks.** torchvision's AlexNet, VGG16, GoogLeNet (``aux_logits=False``: the auxiliary heads are not run
in eval mode and torchvision documents the count without them), ResNet-18, ResNet-50, DenseNet-121,
SqueezeNet 1.1, ShuffleNetV2 x1.0, MobileNetV2, MobileNetV3-Large, MNASNet 1.0, EfficientNet-B0,
RegNetX-400MF and ConvNeXt-Tiny, and timm's ``mobilenetv1_100`` and ``mobilenetv3_large_100``; all with
random weights (``weights=None`` / ``pretrained=False``, ``torch.manual_seed(0)``, then every tensor the
initialisation fills with one value redrawn around it: :func:`perturb_constant_tensors`, so that, as with trained
weights, no two initializers are equal and the exporters share none), in eval mode, on a 1x3x224x224 input.

**Exports.** Each network is exported three ways:

- ``<name>_ts13.onnx``, ``<name>_ts17.onnx``: the TorchScript exporter, ``torch.onnx.export(model, (x,), f,
  dynamo=False, opset_version=13 | 17, input_names=["input"], output_names=["logits"])``, its defaults
  otherwise (constant folding on: in eval mode it folds batch norm into the convolutions);
- ``<name>_dynamo.onnx``: the dynamo exporter, ``torch.onnx.export(model, (x,), dynamo=True)`` at its default
  opset (recorded), then ``ONNXProgram.save`` (its default optimisation on). A network it fails on is recorded
  with the error's first line under ``failures`` in ``records.json``.

**Stripping.** Counting needs shapes only, so the fixtures carry no weight data. Every *floating-point*
initializer (FLOAT, FLOAT16, BFLOAT16, DOUBLE) with two or more elements keeps its ``TensorProto`` with
``name``, ``dims`` and ``data_type``; its ``raw_data``, ``float_data``, ``double_data`` and ``int32_data``
fields are cleared (``ClearField``). Integer initializers (Reshape targets, axes, indices) and single-element
tensors (Clip bounds and other scalar constants) are kept whole: they decide what a node computes. Constant
nodes are left as exported. The model then gets two ``metadata_props`` entries: ``costmodel.stripped`` =
``initializers: dims and dtype kept, data removed`` and ``costmodel.stripped.rule`` = the rule above in one
line. ``onnx.checker`` refuses a stripped model ("TensorProto ... should contain one and only one value
field"): a TensorProto with dims must hold its data. So the script checks the export *before* stripping
(``onnx.checker.check_model``), strips, and checks again with every stripped tensor refilled by zeros
(``numpy_helper.from_array``) to show that the missing data is the only departure. An importer must read
shapes from ``dims`` and must not read data (``onnx.load`` itself loads a stripped file fine).

**Weighted fixtures.** Three small networks keep their weights, for executor parity (``*_weights.onnx``):
SqueezeNet 1.1 (TorchScript, opset 13), MobileNetV2 at width 0.35 (the dynamo exporter) and MobileNetV3-Small
at width 0.5 with 100 classes (TorchScript, opset 17). Their weights are made as the others' (batch norm's
statistics and affine parameters redrawn, so that folding them into the convolutions is not an identity).
Their input is ``np.random.default_rng(21).standard_normal((1, 3, 224, 224)).astype(np.float32)``, and
``records.json`` holds PyTorch's logits on it (``torch_logits``) and ONNX Runtime's relative error on the
saved file.

**Records** (``records.json``, one entry per network): PyTorch's ``FlopCounterMode`` total
(``torch_flop_counter_flops``: *FLOPs*, 2 per multiply-accumulate of convolutions and matrix products, bias,
batch norm, activations and pooling not counted; its per-operator totals in ``torch_flop_counter_by_op``),
the parameter count ``sum(p.numel() for p in model.parameters())`` and, per export: the file, its opset, the
number of elements in the graph's initializers (``initializer_elements``, all of them, and
``float_initializer_elements``, the floating-point ones: what the graph holds as weights after the exporter's
folding), the node count per op type, the file size, and ONNX Runtime's relative error against PyTorch on the
unstripped export (a check that the file computes the module). The versions of torch, torchvision, timm, onnx,
onnxscript and onnxruntime are recorded at the top.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import traceback
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

NETWORKS: dict[str, str] = {  # file stem -> how the module is built
    "alexnet": "torchvision.models.alexnet()",
    "vgg16": "torchvision.models.vgg16()",
    "googlenet": "torchvision.models.googlenet(aux_logits=False)",
    "resnet18": "torchvision.models.resnet18()",
    "resnet50": "torchvision.models.resnet50()",
    "densenet121": "torchvision.models.densenet121()",
    "squeezenet1_1": "torchvision.models.squeezenet1_1()",
    "shufflenet_v2_x1_0": "torchvision.models.shufflenet_v2_x1_0()",
    "mobilenet_v2": "torchvision.models.mobilenet_v2()",
    "mobilenet_v3_large": "torchvision.models.mobilenet_v3_large()",
    "mnasnet1_0": "torchvision.models.mnasnet1_0()",
    "efficientnet_b0": "torchvision.models.efficientnet_b0()",
    "regnet_x_400mf": "torchvision.models.regnet_x_400mf()",
    "convnext_tiny": "torchvision.models.convnext_tiny()",
    "timm_mobilenetv1_100": "timm.create_model('mobilenetv1_100')",
    "timm_mobilenetv3_large_100": "timm.create_model('mobilenetv3_large_100')",
}
# name -> (builder, exporter, opset or None for the dynamo exporter's default)
WEIGHTED: dict[str, tuple[str, str, int | None]] = {
    "squeezenet1_1": ("torchvision.models.squeezenet1_1()", "ts", 13),
    "mobilenet_v2_035": ("torchvision.models.mobilenet_v2(width_mult=0.35)", "dynamo", None),
    "mobilenet_v3_small_050": ("torchvision.models.mobilenet_v3_small(width_mult=0.5, num_classes=100)", "ts", 17),
}
TS_OPSETS = (13, 17)
RESOLUTION = 224
SEED = 21
FLOAT_TYPES = (1, 10, 11, 16)  # TensorProto.FLOAT, FLOAT16, DOUBLE, BFLOAT16
STRIPPED = "initializers: dims and dtype kept, data removed"
RULE = (
    "floating-point initializers of 2 or more elements: raw_data/float_data/double_data/int32_data cleared, "
    "name, dims and data_type kept; integer initializers and single-element tensors kept whole"
)


def build(expr: str):
    """The module an entry of NETWORKS/WEIGHTED names, with seeded random weights, in eval mode."""
    import timm  # noqa: F401  (used by eval)
    import torch
    import torchvision  # noqa: F401

    torch.manual_seed(0)
    expr = expr.replace("()", "(weights=None)").replace("(width", "(weights=None, width")
    expr = expr.replace("(aux_logits", "(weights=None, aux_logits").replace("')", "', pretrained=False)")
    return eval(expr).eval()  # noqa: S307  (the expressions are this file's own)


def perturb_constant_tensors(model) -> None:
    """Redraw every floating-point parameter or buffer whose elements all equal one value c (zero biases, batch
    norm's ones and zeros, ConvNeXt's 1e-6 layer scale): c + s * U(-1, 1), s = |c| / 2 (0.1 for c = 0), from
    ``torch.Generator().manual_seed(1)`` in ``named_parameters`` then ``named_buffers`` order. Without it the
    exporters share equal tensors between nodes (Identity nodes, one initializer for many zero biases), and
    folding an initial batch norm into a convolution would be an identity."""
    import torch

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _, t in [*model.named_parameters(), *model.named_buffers()]:
            if t.is_floating_point() and t.numel() > 1 and bool((t == t.flatten()[0]).all()):
                c = float(t.flatten()[0])
                s = abs(c) / 2 if c else 0.1
                t.copy_(c + s * (2 * torch.rand(t.shape, generator=g) - 1))


def image() -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal((1, 3, RESOLUTION, RESOLUTION)).astype(np.float32)


def flop_counter(model, x) -> tuple[int, dict[str, int]]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), by_op


def export(model, x, path: Path, exporter: str, opset: int | None):
    """Export to ``path`` (weights inline); the ONNX model proto."""
    import onnx
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "ts":
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                              input_names=["input"], output_names=["logits"])  # fmt: skip
        else:
            program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
            program.save(str(path))
    return onnx.load(str(path))


def initializer_elements(model) -> tuple[int, int]:
    """(all elements, floating-point elements) of the graph's initializers."""
    total = floats = 0
    for t in model.graph.initializer:
        n = int(np.prod(t.dims, dtype=np.int64))
        total += n
        floats += n if t.data_type in FLOAT_TYPES else 0
    return total, floats


def strip(model) -> int:
    """Clear the data of every floating-point initializer of 2+ elements (see the module docstring); returns how
    many were stripped."""
    n = 0
    for t in model.graph.initializer:
        if t.data_type in FLOAT_TYPES and int(np.prod(t.dims, dtype=np.int64)) >= 2:
            for f in ("raw_data", "float_data", "double_data", "int32_data"):
                t.ClearField(f)
            n += 1
    for key, value in (("costmodel.stripped", STRIPPED), ("costmodel.stripped.rule", RULE)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return n


def check_stripped(stripped) -> str:
    """onnx.checker on the stripped model with every stripped tensor refilled by zeros (the checker refuses a
    TensorProto with dims and no data); returns what the checker said of the stripped model itself."""
    import onnx
    from onnx import helper, numpy_helper

    try:
        onnx.checker.check_model(stripped)
        verdict = "accepted"
    except onnx.checker.ValidationError as exc:
        verdict = "refused: " + str(exc).splitlines()[0]
    refilled = onnx.ModelProto()
    refilled.CopyFrom(stripped)
    for t in refilled.graph.initializer:
        if not (t.raw_data or t.float_data or t.double_data or t.int32_data or t.int64_data):
            dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
            t.CopyFrom(numpy_helper.from_array(np.zeros(tuple(t.dims), dtype), t.name))
    onnx.checker.check_model(refilled)  # raises if anything but the data were wrong
    return verdict


def ort_rel_error(path: Path, x: np.ndarray, expected: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def describe(model, path: Path) -> dict:
    total, floats = initializer_elements(model)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return {"file": path.name, "opset": opset, "initializer_elements": total,
            "float_initializer_elements": floats, "initializers": len(model.graph.initializer),
            "nodes": len(model.graph.node), "op_types": dict(sorted(ops.items()))}  # fmt: skip


def record_network(name: str, expr: str, out: Path, dynamo: bool, tmp: Path) -> tuple[dict, list[dict]]:
    import onnx
    import torch

    model = build(expr)
    perturb_constant_tensors(model)
    x_np = image()
    x = torch.from_numpy(x_np)
    flops, by_op = flop_counter(model, x)
    with torch.no_grad():
        expected = model(x).numpy()
    entry = {"module": expr, "input_shape": [1, 3, RESOLUTION, RESOLUTION],
             "params": sum(p.numel() for p in model.parameters()),
             "torch_flop_counter_flops": flops, "torch_flop_counter_by_op": by_op, "exports": []}  # fmt: skip
    failures = []
    jobs = [("ts", o) for o in TS_OPSETS] + ([("dynamo", None)] if dynamo else [])
    for exporter, opset in jobs:
        tag = f"ts{opset}" if exporter == "ts" else "dynamo"
        full = tmp / f"{name}_{tag}_full.onnx"
        t0 = time.perf_counter()
        try:
            proto = export(model, x, full, exporter, opset)
        except Exception as exc:  # recorded, not fought: the dynamo exporter fails on some graphs
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            failures.append({"network": name, "exporter": exporter, "opset": opset,
                             "error": f"{type(exc).__name__}: {first}"})  # fmt: skip
            print(f"  {tag}: FAILED {type(exc).__name__}: {first}", flush=True)
            traceback.print_exc(limit=2, file=sys.stdout)
            continue
        seconds = time.perf_counter() - t0
        onnx.checker.check_model(proto)
        info = describe(proto, out / f"{name}_{tag}.onnx")
        info["exporter"] = "torchscript" if exporter == "ts" else "dynamo"
        info["export_seconds"] = round(seconds, 1)
        info["onnxruntime_rel_error"] = ort_rel_error(full, x_np, expected)
        info["stripped_initializers"] = strip(proto)
        info["checker_on_stripped"] = check_stripped(proto)
        onnx.save(proto, str(out / info["file"]))
        info["bytes"] = (out / info["file"]).stat().st_size
        full.unlink()
        entry["exports"].append(info)
        print(f"  {tag}: opset {info['opset']}, {info['nodes']} nodes, {info['float_initializer_elements']:,} "
              f"weights in the graph, ORT rel. error {info['onnxruntime_rel_error']:.1e}, {info['bytes']:,} bytes, "
              f"{seconds:.0f} s", flush=True)  # fmt: skip
    return entry, failures


def record_weighted(name: str, spec: tuple[str, str, int | None], out: Path) -> dict:
    import onnx
    import torch

    expr, exporter, opset = spec
    model = build(expr)
    perturb_constant_tensors(model)
    x_np = image()
    x = torch.from_numpy(x_np)
    with torch.no_grad():
        logits = model(x).numpy()
    flops, by_op = flop_counter(model, x)
    tag = f"ts{opset}" if exporter == "ts" else "dynamo"
    path = out / f"{name}_{tag}_weights.onnx"
    proto = export(model, x, path, exporter, opset)
    onnx.checker.check_model(proto)
    info = describe(proto, path)
    info["exporter"] = "torchscript" if exporter == "ts" else "dynamo"
    info["onnxruntime_rel_error"] = ort_rel_error(path, x_np, logits)
    info["bytes"] = path.stat().st_size
    print(f"  {name} {tag}: {info['bytes']:,} bytes, ORT rel. error {info['onnxruntime_rel_error']:.1e}", flush=True)
    return {"module": expr, "input_shape": [1, 3, RESOLUTION, RESOLUTION],
            "input": f"np.random.default_rng({SEED}).standard_normal((1, 3, {RESOLUTION}, {RESOLUTION}))"
                     ".astype(np.float32)",
            "weights": "torch.manual_seed(0), torchvision's initialisation, then every floating-point tensor "
                       "filled with one value c redrawn as c + s U(-1, 1), s = |c|/2 (0.1 for c = 0), from "
                       "torch.Generator().manual_seed(1) in named_parameters then named_buffers order",
            "params": sum(p.numel() for p in model.parameters()), "torch_flop_counter_flops": flops,
            "torch_flop_counter_by_op": by_op, "exports": [info],
            "torch_logits": [float(v) for v in logits.ravel()]}  # fmt: skip


def versions() -> dict[str, str]:
    return {k: version(k) for k in ("torch", "torchvision", "timm", "onnx", "onnxscript", "onnxruntime", "numpy")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/onnx"))
    parser.add_argument("--only", nargs="*", help="networks (file stems) to record; merged into records.json")
    parser.add_argument("--no-dynamo", action="store_true", help="skip the dynamo exporter")
    parser.add_argument("--no-weighted", action="store_true", help="skip the weighted fixtures")
    parser.add_argument("--records", type=Path, help="the JSON to write (default: OUT/records.json)")
    args = parser.parse_args(argv)
    import tempfile

    args.out.mkdir(parents=True, exist_ok=True)
    records_path = args.records or args.out / "records.json"
    doc = json.loads(records_path.read_text()) if records_path.exists() and args.only else {}
    doc.setdefault("networks", {})
    doc.setdefault("weighted", {})
    doc.setdefault("failures", [])
    doc["note"] = (
        "Recorded by benchmarks/record_onnx_fixtures.py (its docstring says how the files were exported and "
        "stripped). torch_flop_counter_flops is torch.utils.flop_counter.FlopCounterMode's raw total: FLOPs, 2 per "
        "multiply-accumulate of convolutions and matrix products (Mult-Adds = FLOPs / 2), nothing else counted. "
        "params = sum(p.numel() for p in model.parameters()). initializer_elements counts the graph's initializers "
        "(float_initializer_elements the floating-point ones, the graph's weights after the exporter's folding)."
    )
    doc["versions"] = versions()
    doc["stripped"] = {"key": "costmodel.stripped", "value": STRIPPED, "rule": RULE}
    with tempfile.TemporaryDirectory() as d:
        for name, expr in NETWORKS.items():
            if args.only and name not in args.only:
                continue
            print(name, flush=True)
            entry, failures = record_network(name, expr, args.out, not args.no_dynamo, Path(d))
            doc["networks"][name] = entry
            doc["failures"] = [f for f in doc["failures"] if f["network"] != name] + failures
            records_path.write_text(json.dumps(doc, indent=1) + "\n")  # after each network: nothing lost
        if not args.no_weighted:
            for name, spec in WEIGHTED.items():
                if args.only and name not in args.only:
                    continue
                doc["weighted"][name] = record_weighted(name, spec, args.out)
                records_path.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
