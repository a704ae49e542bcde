"""ONNX Runtime as a measurement backend, on a RECORDED profile (tests/fixtures/ort_profile.json, written by
tests/fixtures/record_ort_profile.py on the project's machine): profiler parsing, node -> layer mapping with
fused and inserted nodes, the kernel-path rules learned from it, and the path-aware fit on held-out networks.

The expectations are independent of the code under test: ORT's naming of fused nodes, the path rules found by
the probe quoted in issue 12 (depthwise on NCHWc when C % 4 == 0; 1x1 when C_in < 16 or C_in % 4 == 0), the
weight shapes the runtime itself reports, and the recorded whole-pass times.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from costmodel import count, mobilenet_v1
from costmodel.errors import ProfileError
from costmodel.latency.calibrate import TERMS, fit_profile, learn_paths
from costmodel.latency.model import predict
from costmodel.latency.runtimes import (
    measurement_from_profile,
    node_layer,
    parse_profile,
)
from costmodel.latency.validate import compare

FIXTURE = Path(__file__).parent / "fixtures" / "ort_profile.json"
PEAK, BANDWIDTH = 8.7e10, 4.0e10  # this machine's NumPy micro-benchmarks, roughly: efficiencies absorb the rest
CACHE = json.loads(FIXTURE.read_text())["cache_bytes"]  # the recording machine's per-core cache, not this one's


@cache
def recorded():
    doc = json.loads(FIXTURE.read_text())
    out = []
    for rec in doc["networks"]:
        net = mobilenet_v1(rec["alpha"], rec["resolution"])
        out.append((rec, net, measurement_from_profile(net, rec["events"], rec["forward_s"])))
    return out


def _one(alpha, resolution):
    return next((rec, net, m) for rec, net, m in recorded() if (rec["alpha"], rec["resolution"]) == (alpha, resolution))


def test_the_fixture_says_where_it_came_from():
    doc = json.loads(FIXTURE.read_text())
    assert doc["recorded_by"] == "tests/fixtures/record_ort_profile.py"
    assert doc["onnxruntime"] and doc["cpu_model"] and doc["threads"] == 1


@pytest.mark.parametrize("index", range(16))
def test_every_node_of_every_run_lands_in_exactly_one_layer(index):
    rec, net, m = recorded()[index]
    runs = parse_profile(rec["events"])
    assert len(runs) == 2 and [n.name for n in runs[0]] == [n.name for n in runs[1]]
    # Time is conserved: the layers and their glue add up to the nodes' median times, nothing lost or doubled.
    medians = [float(np.median([runs[0][i].seconds, runs[1][i].seconds])) for i in range(len(runs[0]))]
    assert sum(m.layer_s.values()) + sum(m.glue_s.values()) == pytest.approx(sum(medians), rel=1e-12)
    # Every spec layer has its own node(s); no BatchNormalization or activation survives on its own: fused.
    assert set(m.layer_s) == {node.name for node in net.nodes}
    assert not {n.op_type for n in runs[0]} & {"BatchNormalization", "Relu", "Clip"}


def test_fused_and_inserted_nodes_by_hand():
    """α = 0.35 at 160: 11, 22, 44, 89, 179, 358 channels, both paths. ORT names a FusedConv after its Conv and
    an NCHWc conv after the last node it absorbed plus '_nchwc'; the reorders it inserts are glue."""
    rec, net, m = _one(0.35, 160)
    by_layer = {ln.layer: ln for ln in m.nodes}
    assert [n.name for n in by_layer["conv1"].nodes] == ["conv1/relu_nchwc"]
    assert [n.op_type for n in by_layer["conv1"].glue] == ["Transpose"]  # the export's NHWC -> NCHW
    assert [(n.name, n.op_type) for n in by_layer["conv_dw_1"].nodes] == [("conv_dw_1", "FusedConv")]
    assert [n.op_type for n in by_layer["conv_dw_1"].glue] == ["ReorderOutput"]  # NCHWc -> NCHW before it
    assert [n.op_type for n in by_layer["conv_dw_3"].glue] == ["ReorderInput"]  # 44 channels: back to NCHWc
    assert {n.name for n in by_layer["fc"].nodes} >= {"fc", "fc/flat"}
    # The paths the profile shows are the probe's: depthwise on NCHWc exactly when C % 4 == 0 (11, 22: no; 44: yes;
    # 89, 179, 358: no), 1x1 when C_in < 16 or C_in % 4 == 0.
    dw = [m.path_of[f"conv_dw_{i}"] for i in range(1, 14)]
    assert dw == ["Conv", "Conv", "nchwc", "nchwc"] + ["Conv"] * 9
    pw = {i: m.path_of[f"conv_pw_{i}"] for i in (1, 2, 3, 5, 13)}  # C_in 11, 22, 44, 89, 358
    assert pw == {1: "nchwc", 2: "Conv", 3: "nchwc", 5: "Conv", 13: "Conv"}


def test_node_layer_boundaries():
    names = ["conv_dw_1", "conv_dw_10", "block1", "block1.dw"]
    assert node_layer("conv_dw_10_bn", names) == "conv_dw_10"
    assert node_layer("conv_dw_1/relu6_nchwc", names) == "conv_dw_1"
    assert node_layer("conv_dw_100", names) is None  # a prefix is not enough: it must end at a boundary
    assert node_layer("block1.dw/relu", names) == "block1.dw"  # the longest name wins
    assert node_layer("ReorderOutput_token_3", names) is None


def test_parse_rejects_what_is_not_a_profile():
    with pytest.raises(ProfileError, match="list of trace events"):
        parse_profile({"traceEvents": []})


def test_learned_path_rules_are_the_runtimes():
    fit = [m for rec, _, m in recorded() if not rec["held_out"]]
    rules, blocks = learn_paths(fit)
    assert rules["Conv DW 3x3"] == {
        "path": "nchwc",
        "channels_multiple_of": 4,
        "channels_below": 0,
        "otherwise": "Conv",
    }
    # Below one block of input channels (16 here) the NCHWc kernel reads the unblocked input: a path of its own.
    assert rules["Conv 1x1"] == {
        "path": "nchwc",
        "channels_multiple_of": 4,
        "channels_below": 16,
        "below": "nchwc-from-plain",
        "otherwise": "Conv",
    }
    assert rules["Conv 3x3"] == {"path": "nchwc-from-plain"}  # the first conv: 3 input channels, always blocked
    assert set(blocks) == {"nchwc", "nchwc-from-plain"}


def test_learned_padding_reproduces_the_weight_shapes_the_runtime_reports():
    fit = [m for rec, _, m in recorded() if not rec["held_out"]]
    profile = fit_profile(PEAK, BANDWIDTH, fit, runtime="onnxruntime", cache_bytes=CACHE)
    checked = 0
    for _, net, m in recorded():
        weights = {ln.layer: ln.nodes[0].input_shapes[1] for ln in m.nodes if len(ln.nodes[0].input_shapes) > 1}
        for node in net.nodes:
            shape = weights.get(node.name)
            if shape is None or len(shape) != 4 or m.path_of[node.name] != "nchwc":
                continue
            groups = node.layer.groups
            out_p = profile.padded(node.out_ch, "nchwc")
            in_p = profile.padded(node.in_ch, "nchwc", "input")
            assert shape[0] == out_p, node.name
            assert shape[1] == (1 if groups > 1 else in_p), node.name
            checked += 1
    assert checked > 100


def test_path_aware_fit_predicts_the_held_out_networks():
    """Fitted on the recorded fitting networks, checked on the six recorded held-out ones (both paths)."""
    fit = [m for rec, _, m in recorded() if not rec["held_out"]]
    held = [m for rec, _, m in recorded() if rec["held_out"]]
    profile = fit_profile(PEAK, BANDWIDTH, fit, runtime="onnxruntime", cache_bytes=CACHE)
    result = compare(profile, held)
    # Tolerances: on the recorded data the model's errors are 1-8 %; 10 % median / 15 % max leave a margin for a
    # re-recorded fixture while still failing for a model that ignores the kernel path (next assertion).
    assert result.median_abs_error <= 0.10
    assert result.max_abs_error_pct <= 15.0
    blind = compare(
        fit_profile(
            PEAK, BANDWIDTH, fit, runtime="onnxruntime", terms=[t for t in TERMS if t != "paths"], cache_bytes=CACHE
        ),
        held,
    )
    assert blind.median_abs_error > 1.5 * result.median_abs_error
    baseline = result.baseline()
    assert baseline is not None and result.median_abs_error < baseline["median_abs_error"]
    # The profiler's own cost per node, measured against the unprofiled passes, is positive and a few us.
    assert 0 < profile.meta["profiler_cost_per_node_s"] < 20e-6


def test_a_profile_round_trips_and_predicts_the_same(tmp_path):
    from costmodel.latency.profiles import load_profile, save_profile

    fit = [m for rec, _, m in recorded() if not rec["held_out"]]
    profile = fit_profile(
        PEAK, BANDWIDTH, fit, runtime="onnxruntime", meta={"runtime": "onnxruntime"}, cache_bytes=CACHE
    )
    again = load_profile(save_profile(profile, tmp_path / "ort.json"))
    net = mobilenet_v1(0.6, 224)
    assert predict(net, again).seconds == predict(net, profile).seconds
    lat = predict(net, again).layers
    assert {x.path for x in lat if x.kind == "Conv DW 3x3"} == {"nchwc", "Conv"}  # 19, 38 vs 76 channels
    assert count(net).mult_adds == predict(net, again).mult_adds  # padding changes the time, not the count


def test_activation_nodes_are_told_from_a_fused_activation():
    from costmodel.latency.runtimes import LayerNodes, NodeTime, activation_seconds

    def node(name, op, us):
        return NodeTime(name, op, us * 1e-6, (), ())

    unfused = LayerNodes(
        "conv1", "nchwc", (node("conv1_bn_nchwc", "Conv", 38), node("conv1/silu/QuickGeluFusion/", "QuickGelu", 21)), ()
    )
    fused = LayerNodes("conv1", "nchwc", (node("conv1/relu_nchwc", "Conv", 40),), ())
    assert activation_seconds(unfused, "silu") == pytest.approx(21e-6)
    assert activation_seconds(fused, "relu") == 0.0  # the layer's own node carries the name: fused
    assert activation_seconds(unfused, None) == 0.0


def test_a_fused_gemm_belongs_to_its_layer_and_runs_on_the_gemm_path():
    """ORT fuses Gemm + Relu into a FusedGemm named 'fused <gemm>' (AlexNet's fc6 and fc7, but not fc8, which
    has no activation); all three have 4,096 outputs and run the same Gemm kernel, so one path."""
    from costmodel import network
    from costmodel.latency.runtimes import NodeTime, map_nodes

    def node(name, op, seconds):
        return NodeTime(name, op, seconds, (), ())

    run = [node("fc6/nhwc", "Transpose", 1e-6), node("fc6/flat", "Flatten", 1e-6), node("fused fc6", "FusedGemm", 4e-3),
           node("fused fc7", "FusedGemm", 2e-3), node("fc8", "Gemm", 4e-4)]  # fmt: skip
    by_layer = map_nodes(network("alexnet"), run)
    assert {layer: ln.path for layer, ln in by_layer.items()} == {"fc6": "Gemm", "fc7": "Gemm", "fc8": "Gemm"}
    assert [n.name for n in by_layer["fc6"].nodes] == ["fc6/nhwc", "fc6/flat", "fused fc6"]


def test_a_pass_shift_larger_than_the_profilers_own_cost_is_dropped():
    """A path's pass shift corrects the profiler's cost per node; one fitted larger than that whole cost is the
    path's layer count standing in for something else, and that path gets none (the rest are refitted)."""
    import math

    from costmodel.latency.calibrate import _path_shifts

    fit = [m for rec, _, m in recorded() if not rec["held_out"]]
    profile = fit_profile(PEAK, BANDWIDTH, fit, runtime="onnxruntime", cache_bytes=CACHE)
    placed = [(m, []) for m in fit]
    _, free = _path_shifts(placed, profile, profile, {}, math.inf)
    assert len(free) >= 2
    largest = max(free, key=lambda path: abs(free[path]))
    bound = 0.999 * abs(free[largest])
    _, bounded = _path_shifts(placed, profile, profile, {}, bound)
    assert largest not in bounded and bounded and all(abs(v) <= bound for v in bounded.values())
    assert _path_shifts(placed, profile, profile, {}, 0.0)[1] == {}
    shifts = profile.meta["pass_shift_per_layer_s"]
    assert all(abs(v) <= profile.meta["profiler_cost_per_node_s"] for v in shifts.values())
