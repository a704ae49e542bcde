"""Calibration: the fit recovers a known synthetic device; the non-negative least squares is optimal; the
whole calibration runs end to end on the reference executor (tiny micro-benchmarks, tiny networks)."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import count, mobilenet_v1
from costmodel.errors import ProfileError
from costmodel.latency.calibrate import (
    FIT_CONFIGS_BY_RUNTIME,
    MAX_EFFICIENCY,
    TERMS,
    Measurement,
    _nnls,
    calibrate,
    fit_profile,
    measure_bandwidth,
    measure_networks,
    measure_peak_flops,
    mult_adds_baseline,
)
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile, load_profile, save_profile
from costmodel.latency.validate import HELD_OUT, HELD_OUT_ALL
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Softmax

# A synthetic device: what the fit must find again.
TRUE_PEAK, TRUE_BANDWIDTH, TRUE_OVERHEAD = 2e11, 1.5e10, 1.2e-5
TRUE_EFFICIENCY = {
    "Conv 3x3": 0.2,
    "Conv DW 3x3": 0.1,
    "Conv DW 3x3 s2": 0.07,  # a strided depthwise layer runs other kernels: a kind of its own
    "Conv 1x1": 0.6,
    "FC": 1.5,
    "Avg Pool": 0.3,
    "Softmax": 0.05,
}
TRUE_KIND_OVERHEAD = {  # extra fixed seconds per layer of a type, on top of TRUE_OVERHEAD
    "Conv 3x3": 9e-6,
    "Conv DW 3x3": 6e-6,
    "Conv DW 3x3 s2": 5e-6,
    "Conv 1x1": 3e-6,
    "FC": 2e-6,
    "Avg Pool": 1e-6,
    "Softmax": 0.0,
}
PASS_OVERHEAD = 2e-6  # what a whole pass costs beyond its layers, per layer


def _oracle_kind(layer):
    if isinstance(layer, Conv2d):
        if layer.groups == layer.in_ch == layer.out_ch > 1:
            return f"Conv DW {layer.kernel}x{layer.kernel}" + (f" s{layer.stride}" if layer.stride > 1 else "")
        return f"Conv {layer.kernel}x{layer.kernel}"
    return {Linear: "FC", GlobalAvgPool: "Avg Pool", Softmax: "Softmax"}[type(layer)]


def _oracle_seconds(node):
    """Seconds of one layer on the synthetic device, from shapes alone (not from costmodel.latency.model)."""
    layer = node.layer
    if isinstance(layer, Conv2d):
        weights = layer.kernel**2 * (layer.in_ch // layer.groups) * layer.out_ch
        mult_adds, weights = weights * node.out_size**2, weights + layer.out_ch  # + the folded BN bias
    elif isinstance(layer, Linear):
        mult_adds, weights = (
            layer.in_features * layer.out_features,
            (layer.in_features + 1) * layer.out_features,
        )
    else:
        mult_adds, weights = 0, 0
    bytes_moved = 4 * (weights + node.in_ch * node.in_size**2 + node.out_ch * node.out_size**2)
    roofline = max(2 * mult_adds / TRUE_PEAK, bytes_moved / TRUE_BANDWIDTH)
    kind = _oracle_kind(layer)
    return roofline / TRUE_EFFICIENCY[kind] + TRUE_OVERHEAD + (TRUE_KIND_OVERHEAD[kind] if KIND_OVERHEADS else 0)


KIND_OVERHEADS = True  # switched off by test_shared_overhead_fit


def synthetic_time_layers(network, weights, images, repeats=5):
    return {node.name: _oracle_seconds(node) for node in network.nodes}


SMALL = [(0.25, 97), (0.4, 65), (0.6, 81), (0.3, 129)]  # tiny fitting set for tests (not held out either)
CLASSES = [1000, 500, 200, 100]  # varied so that the softmax's roofline varies too: its fit is identifiable


def _measured():
    """Synthetic measurements; each whole pass costs PASS_OVERHEAD per layer beyond its layers."""
    networks = [mobilenet_v1(a, r, num_classes=c) for (a, r), c in zip(SMALL, CLASSES, strict=True)]
    out = []
    for m in measure_networks(networks, repeats=1, rounds=1, time_layers=synthetic_time_layers):
        out.append(Measurement(m.network, m.layer_s, m.forward_s + PASS_OVERHEAD * len(m.network.nodes)))
    return out


def test_fit_recovers_a_known_device():
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, _measured())
    # Noise-free data that the model can represent exactly: recovered to solver precision.
    assert profile.efficiency.keys() == TRUE_EFFICIENCY.keys()
    for kind, value in TRUE_EFFICIENCY.items():
        assert profile.efficiency[kind] == pytest.approx(value, rel=1e-6), kind
        expected = TRUE_OVERHEAD + TRUE_KIND_OVERHEAD[kind]
        assert profile.overhead_by_kind_s[kind] == pytest.approx(expected, rel=1e-6, abs=1e-12), kind
    assert profile.overhead_s == pytest.approx(PASS_OVERHEAD, rel=1e-6)
    # ... and then predicts a network it never saw exactly (its layers; the pass adds PASS_OVERHEAD each).
    held_out = mobilenet_v1(1.0, 224)
    expected = sum(_oracle_seconds(n) + PASS_OVERHEAD for n in held_out.nodes)
    assert predict(held_out, profile).seconds == pytest.approx(expected, rel=1e-6)


def test_without_per_kind_efficiency_one_efficiency_serves_every_kind():
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, _measured(), terms=[t for t in TERMS if t != "efficiency"])
    assert len(set(profile.efficiency.values())) == 1
    assert profile.meta["terms"] == [t for t in TERMS if t != "efficiency"]


def test_without_per_kind_overheads_the_fit_has_none():
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, _measured(), terms=["efficiency", "network"])
    assert profile.overhead_by_kind_s == {} and profile.overhead_per_group_s == {}


def test_unknown_term():
    with pytest.raises(ProfileError, match="unknown model term 'magic'"):
        fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, _measured(), terms=["magic"])


def test_mult_adds_baseline_is_exact_on_proportional_data():
    """Passes that take exactly k x Mult-Adds + c give back k and c (an independent linear relation)."""
    nets = [mobilenet_v1(a, r) for a, r in SMALL]
    k, c = 3e-11, 2e-4
    ms = [Measurement(n, {"conv1": 1.0}, k * count(n).mult_adds + c) for n in nets]
    baseline = mult_adds_baseline(ms)
    assert baseline["seconds_per_mult_add"] == pytest.approx(k, rel=1e-9)
    assert baseline["constant_s"] == pytest.approx(c, rel=1e-9)


def test_rounds_keep_the_fastest_round():
    calls = {"n": 0}
    slow_down = [1.0, 3.0, 1.5, 2.0, 1.2, 1.1]  # round-robin: round 1 -> nets 0, 1; round 2 -> nets 0, 1; ...

    def noisy(network, weights, images, repeats=5):
        factor = slow_down[calls["n"]]
        calls["n"] += 1
        return {n.name: factor * _oracle_seconds(n) for n in network.nodes}

    nets = [mobilenet_v1(0.25, 64), mobilenet_v1(0.5, 64)]
    m0, m1 = measure_networks(nets, repeats=1, rounds=3, time_layers=noisy)
    assert calls["n"] == 6
    for m, best in ((m0, min(slow_down[0::2])), (m1, min(slow_down[1::2]))):
        for node in m.network.nodes:
            assert m.layer_s[node.name] == pytest.approx(best * _oracle_seconds(node), rel=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_nnls_is_optimal(seed):
    """Karush-Kuhn-Tucker conditions of min |Ax - b|^2, x >= 0: an independent certificate of optimality."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((30, 5))
    b = rng.standard_normal(30)
    x = _nnls(a, b)
    gradient = a.T @ (a @ x - b)
    assert np.all(x >= 0)
    active = x > 0
    # Tolerances: lstsq on a 30x5 problem is accurate to ~1e-12 relative; 1e-9 absolute leaves a margin.
    np.testing.assert_allclose(gradient[active], 0.0, atol=1e-9)
    assert np.all(gradient[~active] >= -1e-9)


def test_efficiency_bound_is_respected():
    # FC's true efficiency is 1.5; with a bound of 1 the fit must stop at the bound, not beyond.
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, _measured(), max_efficiency=1.0)
    assert profile.efficiency["FC"] == pytest.approx(1.0, rel=1e-12)
    assert max(profile.efficiency.values()) <= 1.0


def test_nnls_exact_when_the_truth_is_nonnegative():
    rng = np.random.default_rng(1)
    a = rng.random((20, 4))
    truth = np.array([0.5, 0.0, 2.0, 1.0])
    np.testing.assert_allclose(_nnls(a, a @ truth), truth, atol=1e-10)  # exact data, well conditioned


def test_fit_configs_are_not_held_out():
    assert len(HELD_OUT) == 16
    for configs in FIT_CONFIGS_BY_RUNTIME.values():
        assert not set(configs) & set(HELD_OUT_ALL)


def test_onnxruntime_fit_configs_cover_both_channel_cases_of_every_layer_position():
    """Channel counts that are multiples of 4 and counts that are not, at every depth (the held-out set has both)."""
    widths = (32, 64, 128, 256, 512, 1024)
    for width in widths:
        residues = {int(width * alpha) % 4 == 0 for alpha, _ in FIT_CONFIGS_BY_RUNTIME["onnxruntime"]}
        assert residues == {True, False}, width


def test_micro_benchmarks_report_positive_rates():
    assert measure_peak_flops(n=64, repeats=2, min_seconds=0) > 0
    assert measure_bandwidth(n_bytes=2**16, repeats=2, min_seconds=0) > 0


@pytest.mark.parametrize(("kwargs", "match"), [({"repeats": 0}, "repeats"), ({"rounds": True}, "rounds")])
def test_bad_calibration_options(kwargs, match):
    with pytest.raises(ProfileError, match=match):
        calibrate(SMALL[:1], time_layers=synthetic_time_layers, **kwargs)


def test_fit_needs_measurements():
    with pytest.raises(ProfileError, match="at least one"):
        fit_profile(1e11, 1e10, [])


TINY = {"repeats": 1, "rounds": 1, "matmul_n": 64, "copy_bytes": 2**20, "min_seconds": 0.0}


def test_calibrate_synthetic_end_to_end(tmp_path):
    lines = []
    profile = calibrate(SMALL, time_layers=synthetic_time_layers, progress=lines.append, **TINY)
    assert profile.meta["executor"] == "synthetic"
    assert profile.meta["fit_configs"] == [list(c) for c in SMALL]
    assert any("fitting" in line or "round" in line for line in lines) and lines[-1].startswith("done")
    path = save_profile(profile, tmp_path / "p.json")
    assert load_profile(path) == profile


def test_calibrate_and_predict_on_the_reference_executor(tmp_path):
    pytest.importorskip("costmodel.reference")
    profile = calibrate([(0.25, 65), (0.35, 49)], **TINY)
    assert profile.meta["executor"] == "numpy"
    assert {"runtime", "runtime_version", "threads", "cpu_model", "dtype", "calibrated_utc"} <= set(profile.meta)
    assert {"Conv 3x3", "Conv DW 3x3", "Conv 1x1", "FC"} <= set(profile.efficiency)
    assert all(0 < e <= MAX_EFFICIENCY for e in profile.efficiency.values())
    assert profile.overhead_s >= 0
    pred = predict(mobilenet_v1(0.25, 64), profile)
    assert pred.seconds > 0
    total = sum(lat.seconds for lat in pred.layers) + profile.overhead_network_s
    assert pred.seconds == pytest.approx(total, rel=1e-12)
    path = save_profile(profile, tmp_path / "p.json")
    assert load_profile(path) == profile


def test_fastest_pass_layers_fit_inside_its_wall_time():
    pytest.importorskip("costmodel.reference")
    nets = [mobilenet_v1(0.25, 64), mobilenet_v1(0.3, 57)]
    for m in measure_networks(nets, repeats=3, rounds=2, statistic="min"):
        # The per-layer clocks run inside the same pass's wall clock: their sum cannot exceed it.
        assert 0 < sum(m.layer_s.values()) <= m.forward_s
        assert list(m.layer_s) == [n.name for n in m.network.nodes]
    (m,) = measure_networks(nets[:1], repeats=3, rounds=1, statistic="median")
    assert set(m.layer_s) == {n.name for n in nets[0].nodes}


def test_bad_statistic():
    with pytest.raises(ProfileError, match="statistic"):
        measure_networks([mobilenet_v1(0.25, 64)], statistic="mean", time_layers=synthetic_time_layers)


def test_a_block_add_the_runtime_fused_costs_nothing_of_its_own():
    """ORT folds a residual add into the convolution before it: the add is never timed on its own. The fit then
    gives the add the fewest seconds it can (the efficiency bound, no overhead); the convolutions carry the time."""
    from costmodel import network

    truth = DeviceProfile(TRUE_PEAK, TRUE_BANDWIDTH, default_efficiency=0.5)
    measured = []
    for resolution in (96, 128, 160, 192):
        net = network("mobilenet_v2", resolution=resolution)
        layer_s = {lat.name: lat.seconds for lat in predict(net, truth).leaves() if lat.kind != "Add"}
        measured.append(Measurement(net, layer_s, sum(layer_s.values())))
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, measured)
    assert profile.efficiency["Add"] == pytest.approx(MAX_EFFICIENCY) and "Add" not in profile.overhead_by_kind_s
    assert profile.efficiency["Conv 1x1"] == pytest.approx(0.5, rel=1e-6)


def test_an_unfused_activation_is_fitted_as_its_own_pass():
    """ORT 1.32 runs SiLU as nodes of its own (QuickGelu) after the convolution. Synthetic passes whose SiLU costs
    2 x output bytes / (0.25 x bandwidth) + 1 us give that efficiency and overhead back (shapes alone)."""
    from costmodel import network

    truth = DeviceProfile(TRUE_PEAK, TRUE_BANDWIDTH, default_efficiency=0.5)
    measured = []
    for resolution in (96, 128, 160, 192):
        net = network("efficientnet_b0", resolution=resolution)
        layer_s, act_s = {}, {}
        for node in net.nodes:
            for leaf in node.leaves():
                if getattr(leaf.layer, "activation", None) == "silu":
                    act_s[leaf.name] = 2 * 4 * leaf.out_ch * leaf.out_size**2 / TRUE_BANDWIDTH / 0.25 + 1e-6
        for lat in predict(net, truth).leaves():
            layer_s[lat.name] = lat.seconds + act_s.get(lat.name, 0.0)
        measured.append(Measurement(net, layer_s, sum(layer_s.values()), activation_s=act_s))
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, measured)
    assert profile.activations["silu"]["efficiency"] == pytest.approx(0.25, rel=1e-6)
    assert profile.activations["silu"]["overhead_s"] == pytest.approx(1e-6, rel=1e-6)
    assert profile.efficiency["Conv 1x1"] == pytest.approx(0.5, rel=1e-6)
    # ... and predicts a held-out resolution exactly: layers plus their activation passes.
    net = network("efficientnet_b0", resolution=224)
    expected = predict(net, truth).seconds + sum(
        2 * 4 * leaf.out_ch * leaf.out_size**2 / TRUE_BANDWIDTH / 0.25 + 1e-6
        for node in net.nodes
        for leaf in node.leaves()
        if getattr(leaf.layer, "activation", None) == "silu"
    )
    assert predict(net, profile).seconds == pytest.approx(expected, rel=1e-6)


def test_a_block_timed_only_as_a_whole_gives_its_add_the_rest():
    """The NumPy executor times a residual block as one step. Its add is fitted as the block's time minus its
    leaves, predicted from the kinds fitted on layers timed one by one."""
    from costmodel import network

    truth = DeviceProfile(
        TRUE_PEAK, TRUE_BANDWIDTH, default_efficiency=0.5, efficiency={"Add": 0.2}, overhead_by_kind_s={"Add": 3e-6}
    )
    measured = []
    for resolution in (96, 128, 160, 192):
        net = network("mobilenet_v2", resolution=resolution)
        layer_s = {}
        for lat in predict(net, truth).layers:  # a residual block: one number for the whole block
            if lat.parts and lat.kind == "Add":
                layer_s[lat.name] = lat.seconds
            else:
                layer_s.update({leaf.name: leaf.seconds for leaf in lat.leaves()})
        measured.append(Measurement(net, layer_s, sum(layer_s.values())))
    assert any(lat.parts for lat in predict(measured[0].network, truth).layers)
    profile = fit_profile(TRUE_PEAK, TRUE_BANDWIDTH, measured, name="whole blocks")
    assert profile.name == "whole blocks"  # (a loop over the blocks once renamed the profile after the last one)
    assert profile.efficiency["Add"] == pytest.approx(0.2, rel=1e-6)
    assert profile.overhead_by_kind_s["Add"] == pytest.approx(3e-6, rel=1e-6)
