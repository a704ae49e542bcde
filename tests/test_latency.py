"""Roofline arithmetic on hand-checked layers, and identities of whole-network predictions.

Every expected number is computed in the test from the layer's shapes with the formulas written out
(Mult-Adds from D_K·D_K·(M/g)·N·D_F·D_F, bytes from the NHWC tensor sizes), not taken from the engine.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import count, mobilenet_v1
from costmodel.errors import ProfileError, SpecError
from costmodel.latency.model import predict, roofline_seconds
from costmodel.latency.profiles import DeviceProfile
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, weight_shape
from costmodel.spec.network import Network

PEAK = 1e11  # FLOP/s
BANDWIDTH = 1e10  # bytes/s: ridge point 10 FLOP/byte
F32 = 4  # bytes per float32 element

# (network, efficiency, overhead_s, batch, hand-computed flops, bytes, bound)
# Bytes: weights (+ one folded batch-norm bias per output channel) once, input and output per image.
CASES = [
    pytest.param(
        Network([Conv2d("pw", 32, 64, 1)], input_size=112, in_ch=32),
        0.5,
        1e-5,
        1,
        2 * (32 * 64 * 112 * 112),
        F32 * (32 * 112 * 112 + 64 * 112 * 112 + 32 * 64 + 64),
        "compute",  # 51.4 MFLOP / 4.83 MB = 10.6 FLOP/byte > 10
        id="conv1x1-32-64-at-112",
    ),
    pytest.param(
        Network([Conv2d("dw", 64, 64, 3, stride=2, groups=64)], input_size=112, in_ch=64),
        0.25,
        0.0,
        1,
        2 * (3 * 3 * 64 * 56 * 56),
        F32 * (64 * 112 * 112 + 64 * 56 * 56 + 3 * 3 * 64 + 64),
        "memory",  # 3.6 MFLOP / 4.0 MB = 0.9 FLOP/byte
        id="dw3x3-s2-64-at-112",
    ),
    pytest.param(
        Network([Conv2d("c", 3, 32, 3, stride=2)], input_size=224, in_ch=3),
        1.0,
        2e-6,
        1,
        2 * (3 * 3 * 3 * 32 * 112 * 112),
        F32 * (3 * 224 * 224 + 32 * 112 * 112 + 3 * 3 * 3 * 32 + 32),
        "memory",  # 21.7 MFLOP / 2.2 MB = 9.8 FLOP/byte < 10
        id="conv3x3-first-layer",
    ),
    pytest.param(
        Network([Linear("fc", 1024, 1000)], input_size=1, in_ch=1024),
        2.0,  # above 1: weights that stay in cache beat the streaming bandwidth
        0.0,
        8,
        2 * (8 * 1024 * 1000),
        F32 * (1024 * 1000 + 1000 + 8 * (1024 + 1000)),
        "memory",  # weights read once for the batch of 8: 16.4 MFLOP / 4.2 MB
        id="fc-batch8",
    ),
    pytest.param(
        Network([GlobalAvgPool("pool")], input_size=7, in_ch=1024),
        1.0,
        3e-6,
        1,
        0,  # the paper's convention: pooling does no multiply-accumulate
        F32 * (7 * 7 * 1024 + 1024),
        "memory",
        id="global-avg-pool",
    ),
]


@pytest.mark.parametrize(("network", "efficiency", "overhead_s", "batch", "flops", "bytes_moved", "bound"), CASES)
def test_roofline_by_hand(network, efficiency, overhead_s, batch, flops, bytes_moved, bound):
    kind = count(network).layers[0].kind
    profile = DeviceProfile(PEAK, BANDWIDTH, efficiency={kind: efficiency}, overhead_s=overhead_s)
    (lat,) = predict(network, profile, batch=batch).layers
    assert (lat.flops, lat.bytes_moved, lat.bound) == (flops, bytes_moved, bound)
    assert lat.mult_adds * 2 == lat.flops
    # Floating-point arithmetic of a handful of operations: agreement to 1e-12 relative.
    expected_s = max(flops / PEAK, bytes_moved / BANDWIDTH) / efficiency + overhead_s
    assert lat.seconds == pytest.approx(expected_s, rel=1e-12)
    assert lat.compute_s == pytest.approx(flops / PEAK, rel=1e-12)
    assert lat.memory_s == pytest.approx(bytes_moved / BANDWIDTH, rel=1e-12)
    assert lat.intensity_flops_per_byte == pytest.approx(flops / bytes_moved, rel=1e-12)


def test_conv1x1_worked_example():
    """The 1x1 conv 32 -> 64 at 112x112, all the way to a number a reader can redo on paper."""
    network = Network([Conv2d("pw", 32, 64, 1)], input_size=112, in_ch=32)
    profile = DeviceProfile(1e11, 1e10, efficiency={"Conv 1x1": 0.5}, overhead_s=1e-5)
    (lat,) = predict(network, profile).layers
    # 25,690,112 Mult-Adds = 51,380,224 FLOPs -> 513.80224 us at 100 GFLOP/s;
    # 4,825,344 bytes -> 482.5344 us at 10 GB/s; compute-bound; / 0.5 + 10 us = 1,037.60448 us.
    assert lat.mult_adds == 25_690_112
    assert lat.bytes_moved == 4_825_344
    assert lat.seconds == pytest.approx(1037.60448e-6, rel=1e-12)  # float rounding only


def test_overhead_by_kind_adds_to_the_shared_overhead():
    network = Network([Conv2d("pw", 32, 64, 1), Linear("fc", 64 * 8 * 8, 10)], input_size=8, in_ch=32)
    profile = DeviceProfile(
        PEAK,
        BANDWIDTH,
        efficiency={"Conv 1x1": 1.0, "FC": 1.0},
        overhead_s=1e-5,
        overhead_by_kind_s={"Conv 1x1": 4e-6},
    )
    conv, fc = predict(network, profile).layers
    assert conv.overhead_s == pytest.approx(1.4e-5, rel=1e-12)
    assert conv.seconds == pytest.approx(conv.roofline_s + 1.4e-5, rel=1e-12)
    assert fc.overhead_s == 1e-5  # FC has no extra


def test_float16_halves_the_bytes():
    network = Network([Conv2d("dw", 64, 64, 3, groups=64)], input_size=56, in_ch=64)
    f32 = predict(network, DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0)).layers[0]
    f16 = predict(network, DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0, dtype="float16")).layers[0]
    assert f32.bytes_moved == 2 * f16.bytes_moved
    assert f32.flops == f16.flops


def test_bound_tie_is_compute():
    # Peak = the layer's FLOPs per second and bandwidth = its bytes per second: both times are exactly 1 s.
    network = Network([Conv2d("pw", 32, 64, 1)], input_size=8, in_ch=32)
    flops, bytes_moved = 2 * 32 * 64 * 8 * 8, F32 * (32 * 64 + 32 * 64 + 64 * 64 + 64)
    (lat,) = predict(network, DeviceProfile(flops, bytes_moved, default_efficiency=1.0)).layers
    assert lat.compute_s == lat.memory_s == 1.0
    assert lat.bound == "compute"


def test_unlisted_kind_uses_default_efficiency():
    network = Network([Conv2d("pw", 8, 8, 1)], input_size=4, in_ch=8)
    lat = predict(network, DeviceProfile(PEAK, BANDWIDTH, default_efficiency=0.25)).layers[0]
    assert lat.efficiency == 0.25
    assert lat.seconds == pytest.approx(lat.roofline_s / 0.25, rel=1e-12)


def test_roofline_seconds():
    assert roofline_seconds(3 * 10**9, 6 * 10**8, DeviceProfile(1e9, 2e8)) == (3.0, 3.0)


@pytest.mark.parametrize(("alpha", "resolution"), [(1.0, 224), (0.5, 160), (0.25, 129), (0.75, 97)])
def test_network_totals_match_the_engine_and_memory_accounting(alpha, resolution):
    net = mobilenet_v1(alpha, resolution)
    pred = predict(net, DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0, overhead_s=1e-6))
    assert sum(lat.flops for lat in pred.layers) == count(net).flops
    # Bytes: every layer reads its input and writes its output once; weights once. By hand from the nodes:
    elements = 0
    for node in net.nodes:
        elements += node.in_ch * node.in_size**2 + node.out_ch * node.out_size**2
    weighted = [n for n in net.nodes if weight_shape(n.layer) is not None]
    weights = sum(math.prod(weight_shape(n.layer)) for n in weighted)
    biases = sum(n.out_ch for n in weighted)  # folded BN / FC bias
    assert sum(lat.bytes_moved for lat in pred.layers) == F32 * (elements + weights + biases)
    assert pred.seconds == pytest.approx(sum(pred.by_kind().values()), rel=1e-12)
    assert len(pred.layers) == len(net.nodes)


def test_depthwise_memory_bound_pointwise_compute_bound_at_224():
    """The paper's point, on a profile with a ridge of 10 FLOP/byte: depthwise layers are memory-bound."""
    pred = predict(mobilenet_v1(), DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0))
    kinds = {lat.kind: set() for lat in pred.layers}
    for lat in pred.layers:
        kinds[lat.kind].add(lat.bound)
    assert kinds["Conv DW 3x3"] == {"memory"}
    assert "compute" in kinds["Conv 1x1"]


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.sampled_from([0.25, 0.5, 0.75, 1.0]),
    resolution=st.integers(32, 256),
    factor=st.floats(1.5, 8.0),
    batch=st.integers(1, 4),
)
def test_faster_device_is_never_slower(alpha, resolution, factor, batch):
    net = mobilenet_v1(alpha, resolution)
    slow = predict(net, DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0), batch=batch)
    fast = predict(net, DeviceProfile(PEAK * factor, BANDWIDTH * factor, default_efficiency=1.0), batch=batch)
    # Scaling both rates by the same factor divides every roofline time by it exactly (no overhead here).
    assert fast.seconds == pytest.approx(slow.seconds / factor, rel=1e-9)
    assert [a.bound for a in slow.layers] == [b.bound for b in fast.layers]


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_bad_batch(batch):
    with pytest.raises(SpecError, match="batch"):
        predict(mobilenet_v1(0.25, 64), DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0), batch=batch)


def test_not_a_network():
    with pytest.raises(SpecError, match="Network"):
        predict("mobilenet", DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0))


def test_prediction_table_adds_up():
    pred = predict(mobilenet_v1(0.5, 160), DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0, overhead_s=2e-6))
    df = pred.table()
    assert list(df["name"]) == [n.name for n in pred.network.nodes]
    assert df["predicted_ms"].sum() == pytest.approx(pred.seconds * 1e3, rel=1e-9)
    assert df["predicted_pct"].sum() == pytest.approx(100.0, rel=1e-9)
    assert int(df["mult_adds"].sum()) == count(pred.network).mult_adds


# --- blocks, kinds the profile does not cover (issue 11) ---------------------------------------------------

ADD_EFFICIENCY, ADD_OVERHEAD = 0.5, 3e-6


def _oracle_leaf_seconds(node, efficiency=1.0):
    """A leaf's roofline time from shapes alone (not from costmodel.latency.model or costmodel.counting)."""
    layer = node.layer
    out_elems, in_elems = node.out_ch * node.out_size**2, node.in_ch * node.in_size**2
    if isinstance(layer, Conv2d):
        weights = layer.kernel**2 * (layer.in_ch // layer.groups) * layer.out_ch
        mult_adds, weights = weights * node.out_size**2, weights + layer.out_ch  # + the folded BN / bias
    elif isinstance(layer, Linear):
        mult_adds, weights = layer.in_features * layer.out_features, (layer.in_features + 1) * layer.out_features
    else:
        mult_adds, weights = 0, 0
    return max(2 * mult_adds / PEAK, 4 * (weights + in_elems + out_elems) / BANDWIDTH) / efficiency


def test_residual_blocks_are_their_leaves_plus_a_memory_bound_add():
    from costmodel import network as zoo

    net = zoo("mobilenet_v2")
    profile = DeviceProfile(
        PEAK,
        BANDWIDTH,
        default_efficiency=1.0,
        efficiency={"Add": ADD_EFFICIENCY},
        overhead_by_kind_s={"Add": ADD_OVERHEAD},
    )
    pred = predict(net, profile)
    expected, adds = 0.0, 0
    for node in net.nodes:
        for leaf in node.leaves():
            if leaf is not node.merge:  # the block's Add is its elementwise operation, below
                expected += _oracle_leaf_seconds(leaf)
        if node.branches:  # a residual: read two maps, write one
            adds += 1
            expected += 3 * 4 * node.out_ch * node.out_size**2 / BANDWIDTH / ADD_EFFICIENCY + ADD_OVERHEAD
    assert adds == 10  # MobileNetV2's ten inverted residuals with a skip connection
    assert pred.seconds == pytest.approx(expected, rel=1e-9)
    rows = [lat for lat in pred.leaves() if lat.kind == "Add"]
    assert len(rows) == adds and all(lat.bound == "memory" for lat in rows)
    table = pred.table()
    assert set(table["block"]) > {""} and table["predicted_ms"].sum() == pytest.approx(pred.seconds * 1e3, rel=1e-9)


def test_a_skip_connection_never_makes_a_network_faster():
    """The same layers with and without the residual add: the add costs time, it does not save any."""
    from costmodel.spec.layers import Residual

    body = (Conv2d("expand", 16, 96, 1), Conv2d("dw", 96, 96, 3, groups=96), Conv2d("project", 96, 16, 1))
    plain = Network(body, input_size=56, in_ch=16)
    skip = Network((Residual("block", body),), input_size=56, in_ch=16)
    profile = DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0)
    assert predict(skip, profile).seconds > predict(plain, profile).seconds


def test_concat_blocks_predict_every_branch_layer():
    from costmodel import network as zoo

    net = zoo("googlenet")
    pred = predict(net, DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0))
    leaves = [leaf.name for node in net.nodes for leaf in node.leaves()]
    predicted = [lat.name for lat in pred.leaves() if lat.kind != "Concat"]
    assert predicted == leaves
    assert sum(lat.kind == "Concat" for lat in pred.leaves()) == sum(bool(n.branches) for n in net.nodes)


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_depthwise_kernel_sizes_are_distinct_kinds(kernel):
    net = Network([Conv2d("dw", 32, 32, kernel, groups=32)], input_size=28, in_ch=32)
    covered = DeviceProfile(PEAK, BANDWIDTH, efficiency={"Conv DW 3x3": 0.2})
    if kernel == 3:
        assert predict(net, covered).layers[0].kind == "Conv DW 3x3"
        return
    with pytest.raises(ProfileError, match=f"'Conv DW {kernel}x{kernel}'.*calibrate.*default_efficiency"):
        predict(net, covered)
    fallback = DeviceProfile(PEAK, BANDWIDTH, efficiency={"Conv DW 3x3": 0.2}, default_efficiency=0.2)
    pred = predict(net, fallback)
    assert pred.extrapolated and pred.layers[0].extrapolated and pred.layers[0].kind == f"Conv DW {kernel}x{kernel}"
    assert "True" in pred.table()["extrapolated"].astype(str).tolist()


def test_every_zoo_network_has_kinds_a_profile_may_name():
    """A layer kind that no profile could list (its name unregistered) would make every profile fail to load it."""
    from costmodel import network as zoo
    from costmodel.latency.kinds import is_latency_kind
    from costmodel.spec.zoo import NETWORKS

    for name in NETWORKS:
        pred = predict(zoo(name), DeviceProfile(PEAK, BANDWIDTH, default_efficiency=1.0))
        assert all(is_latency_kind(lat.kind) for lat in pred.leaves()), name


def test_predict_refuses_a_profile_that_is_not_one():
    with pytest.raises(ProfileError, match="DeviceProfile"):
        predict(mobilenet_v1(), None)


def test_a_strided_depthwise_kind_falls_back_to_the_unstrided_one():
    """A profile calibrated before strided depthwise layers had a kind of their own still covers them, with the
    unstrided kind's terms and without calling it an extrapolation; one that lists the strided kind uses it."""
    from costmodel.latency.kinds import general_kind, latency_kind

    net = mobilenet_v1(0.5, 160)
    strided = next(n for n in net.nodes if getattr(n.layer, "depthwise", False) and n.layer.stride == 2)
    assert latency_kind(strided.layer) == "Conv DW 3x3 s2" and general_kind("Conv DW 3x3 s2") == "Conv DW 3x3"
    base = {"Conv 3x3": 0.2, "Conv DW 3x3": 0.1, "Conv 1x1": 0.6, "FC": 0.8, "Avg Pool": 0.3, "Softmax": 0.05}
    old = predict(net, DeviceProfile(PEAK, BANDWIDTH, efficiency=base))
    row = next(lat for lat in old.layers if lat.name == strided.name)
    assert row.efficiency == 0.1 and not old.extrapolated
    split = predict(net, DeviceProfile(PEAK, BANDWIDTH, efficiency={**base, "Conv DW 3x3 s2": 0.05}))
    assert next(lat for lat in split.layers if lat.name == strided.name).efficiency == 0.05
    assert split.seconds > old.seconds


def test_adaptive_pooling_to_one_cell_is_a_global_pool_and_to_more_a_kind_of_its_own():
    """Adaptive pooling to 1x1 runs as a global pool; VGG16's and AlexNet's to 7x7 and 6x6 run another kernel
    (the export's two matrix products), so they must not share the global pool's terms."""
    from costmodel import network as zoo
    from costmodel.latency.kinds import latency_kind
    from costmodel.spec.layers import AdaptiveAvgPool, GlobalAvgPool

    def pools(name):
        return [latency_kind(n.layer) for n in zoo(name).nodes if isinstance(n.layer, AdaptiveAvgPool)]

    assert latency_kind(AdaptiveAvgPool("p", 1)) == latency_kind(GlobalAvgPool("g")) == "Avg Pool"
    assert pools("vgg16") == pools("alexnet") == ["Adaptive Avg Pool"]
