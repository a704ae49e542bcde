"""Graphs: the Graph block and its node types through every stage (the conformance suite), and its errors.

For every layer type a graph adds (Graph, Sum, Cat, ChannelSlice, ChannelShuffle, BatchNormAct, Zero), a small
network containing it runs through every stage and checks:

- the count equals the Mult-Adds the tuned executor performs (layer by layer);
- memory equals the live bytes of a run that keeps each array until its last reader has run (an independent
  simulation with the plain kernels' real arrays, batch 1, float32);
- plain kernels == tuned path == ONNX Runtime on the exported graph;
- a JSON round trip gives an equal network;
- a profile that lists exactly the network's latency kinds (no fallback efficiency) predicts it.
"""

from __future__ import annotations

import numpy as np
import pytest

import costmodel
from costmodel.counting.memory import memory
from costmodel.errors import DataError, SpecError
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile
from costmodel.reference import execute, init_weights
from costmodel.reference.plain import plain_forward, plain_kernel
from costmodel.spec.layers import (
    MULTI_INPUT,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Pool2d,
    Sum,
    Zero,
)
from costmodel.spec.network import Network

GRAPH_TYPES = (Graph, Sum, Cat, ChannelSlice, ChannelShuffle, BatchNormAct, Zero)


def _conv(name, m, n, k=3, stride=1, act="relu", **kw):
    return Conv2d(name, m, n, k, stride, padding=k // 2, bn_epsilon=1e-5, activation=act, **kw)


def _net(graph: Graph, ch: int, size: int = 12, head_ch: int | None = None) -> Network:
    out = head_ch or ch
    return Network([_conv("stem", 3, ch), graph, GlobalAvgPool("pool"), Linear("fc", out, 7)], size, name="t")


def residual_projection() -> Network:
    """ResNet's downsampling block: relu(bn(conv(relu(bn(conv(x))))) + bn(conv1x1 s2(x)))."""
    g = Graph("b", (
        _conv("b.c1", 8, 16, 3, 2), _conv("b.c2", 16, 16, act=None),
        _conv("b.down", 8, 16, 1, 2, act=None), Sum("b.add", activation="relu"),
    ), ((), (), ("input",), ("b.c2", "b.down")))  # fmt: skip
    return _net(g, 8, head_ch=16)


def dense_block() -> Network:
    """DenseNet's growing concatenation, pre-activation layers (BN-ReLU-conv)."""
    g = Graph("d", (
        BatchNormAct("d.l1.norm", 8), _conv("d.l1.conv", 8, 4, act=None, batch_norm=False),
        Cat("d.l2.cat"), BatchNormAct("d.l2.norm", 12), _conv("d.l2.conv", 12, 4, act=None, batch_norm=False),
        Cat("d.cat"),
    ), ((), (), ("input", "d.l1.conv"), (), (), ("input", "d.l1.conv", "d.l2.conv")))  # fmt: skip
    return _net(g, 8, head_ch=16)


def shuffle_unit() -> Network:
    """ShuffleNetV2's stride-1 unit: split, one half through a branch, concatenate, shuffle."""
    g = Graph("s", (
        ChannelSlice("s.x1", 0, 6), ChannelSlice("s.x2", 6, 12),
        _conv("s.b.0", 6, 6, 1), _conv("s.b.dw", 6, 6, 3, groups=6, act=None), _conv("s.b.1", 6, 6, 1),
        Cat("s.cat"), ChannelShuffle("s.shuffle", 3),
    ), (("input",), ("input",), (), (), (), ("s.x1", "s.b.1"), ()))  # fmt: skip
    return _net(g, 12)


def nas_cell() -> Network:
    """A NAS-Bench-201 cell with every operation: node 3 sums three edges (not series-parallel)."""
    from costmodel.search.nasbench201 import cell

    g = cell("c", 8, ("nor_conv_3x3", "none", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"))
    return Network([_conv("stem", 3, 8), g, BatchNormAct("last", 8, activation="relu6"), GlobalAvgPool("pool"),
                    Linear("fc", 8, 7)], 12, name="t")  # fmt: skip


def bn_alone() -> Network:
    """A standalone batch norm without an activation, one without gamma, an activation alone, and a pool."""
    g = Graph("a", (
        BatchNormAct("a.bn", 8, activation=None), BatchNormAct("a.bn2", 8, activation="hardswish", bn_scale=False),
        BatchNormAct("a.relu", 8, batch_norm=False), Pool2d("a.pool", 3, 1, "avg", padding="tf_same"),
        _conv("a.conv", 8, 8), Zero("a.zero"), Sum("a.sum"),
    ), ((), (), (), (), (), ("a.bn",), ("a.conv", "a.zero", "a.pool")))  # fmt: skip
    return _net(g, 8)


CASES = {
    "residual_projection": residual_projection,
    "dense_block": dense_block,
    "shuffle_unit": shuffle_unit,
    "nas_cell": nas_cell,
    "bn_alone": bn_alone,
}


def _types(net: Network) -> set[type]:
    return {type(n.layer) for top in net.nodes for n in top.walk()}


def test_every_graph_type_is_in_the_conformance_suite():
    covered = set().union(*(_types(build()) for build in CASES.values()))
    assert set(GRAPH_TYPES) <= covered, set(GRAPH_TYPES) - covered


def _live_bytes(net: Network, weights, x: np.ndarray) -> int:
    """Peak live bytes of a plain run that frees each array after its last reader (graph nodes in their
    written order; a plain layer holds its input and output; batch 1, float32)."""
    peak = 0
    for node in net.nodes:
        if not isinstance(node.layer, Graph):
            y = plain_kernel(node.layer, node, weights, x)
            peak, x = max(peak, x.nbytes + y.nbytes), y
            continue
        (inner,) = node.branches
        remaining = {-1: 0}
        for sub in inner:
            for j in set(sub.sources):
                remaining[j] = remaining.get(j, 0) + 1
        alive: dict[int, np.ndarray] = {-1: x}
        for i, sub in enumerate(inner):
            ins = [alive[j] for j in sub.sources]
            y = plain_kernel(sub.layer, sub, weights, ins if isinstance(sub.layer, MULTI_INPUT) else ins[0])
            peak = max(peak, sum(a.nbytes for a in alive.values()) + y.nbytes)
            for j in set(sub.sources):
                remaining[j] -= 1
                if remaining[j] == 0:
                    del alive[j]
            alive[i] = y
            remaining.setdefault(i, 0)
            if remaining[i] == 0 and i != len(inner) - 1:
                del alive[i]  # read by nobody: dead on arrival
        x = alive[len(inner) - 1]
    return peak


@pytest.mark.parametrize("case", sorted(CASES))
def test_conformance(case):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from costmodel.reference.onnx_export import to_onnx

    net = CASES[case]()
    w = init_weights(net, seed=3)
    x = np.random.default_rng(4).standard_normal((2, net.input_size, net.input_size, 3)).astype(np.float32)

    # count == the Mult-Adds the tuned executor performs, layer by layer
    run = execute(net, w, x)
    assert run.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}

    # memory == live bytes of a run that frees arrays after their last reader
    assert memory(net).peak_live_elements * 4 == _live_bytes(net, w, x[:1])

    # plain == tuned == ONNX Runtime (float32 sums in other orders: rtol 1e-4, atol 1e-5 on logits of order 1)
    plain = plain_forward(net, w, x)
    np.testing.assert_allclose(run.logits, plain, rtol=1e-4, atol=1e-5)
    model = to_onnx(net, w)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["logits"], {"images": x})[0], plain, rtol=1e-4, atol=1e-5)
    assert np.abs(plain).max() > 1e-2  # the logits carry signal: the comparison can fail

    # a JSON round trip gives an equal network (and the same counts)
    back = Network.from_json(net.to_json())
    assert back == net and hash(back) == hash(net)
    assert costmodel.count(back, "torch").params == costmodel.count(net, "torch").params

    # a profile naming exactly the network's kinds (no default efficiency) predicts it
    kinds = {lat.kind for lat in predict(net, DeviceProfile(1e11, 1e10, default_efficiency=1.0)).leaves()}
    profile = DeviceProfile(1e11, 1e10, efficiency=dict.fromkeys(sorted(kinds), 0.5), name="exact")
    pred = predict(net, profile)
    assert pred.seconds > 0 and not pred.extrapolated


def test_memory_follows_the_stated_schedule():
    """Hand count on the residual block at 12x12: while b.c2 runs, the block's input (8x6x6... held for the
    shortcut) is live beside b.c2's own input and output."""
    net = residual_projection()
    row = {r.name: r for r in memory(net).layers}["b"]
    x, h = 8 * 12 * 12, 16 * 6 * 6  # the block's input, one 6x6x16 map
    # c1: x + h; c2: x (kept for the shortcut) + h + h; down: h (c2's output kept) + x + h; add: 3 maps
    assert row.live_elements == max(x + h, x + 2 * h, h + x + h, 3 * h) == x + 2 * h
    assert [p.name for p in row.parts] == ["b.c1", "b.c2", "b.down", "b.add"]


def test_a_channel_shuffle_pays_no_per_group_overhead():
    """The latency model's per-group overhead is a grouped convolution's (kernel_groups), not any field named
    groups: a channel shuffle in 3 groups costs what it costs in 1."""
    from dataclasses import replace

    net = shuffle_unit()
    other = Network([replace(layer, nodes=tuple(replace(n, groups=1) if isinstance(n, ChannelShuffle) else n
                                                  for n in layer.nodes)) if isinstance(layer, Graph) else layer
                     for layer in net.layers], net.input_size, name="t")  # fmt: skip
    profile = DeviceProfile(1e11, 1e10, default_efficiency=0.5, overhead_per_group_s={"Channel Shuffle": 1e-3})
    a = {lat.name: lat.seconds for lat in predict(net, profile).leaves()}
    b = {lat.name: lat.seconds for lat in predict(other, profile).leaves()}
    assert a["s.shuffle"] == b["s.shuffle"]


@pytest.mark.parametrize(
    "nodes,inputs,match",
    [
        ((Zero("a"), Sum("s")), ((), ("a", "b")), "reads 'b'"),
        ((Zero("a"), Zero("b")), ((), ("a", "input")), "takes one input"),
        ((Zero("a"), Zero("a")), (), "used twice"),
        ((Zero("input"),), (), "reserved"),
        ((Zero("a"), Zero("b")), ((),), "2 nodes but 1 input lists"),
        ((Zero("a"), Sum("s")), (("s",), ("a",)), "reads 's'"),  # a cycle cannot be written
    ],
)
def test_bad_graphs_are_named(nodes, inputs, match):
    with pytest.raises(SpecError, match=match):
        Graph("g", nodes, inputs)


def test_shape_errors_name_the_node():
    g = Graph("g", (ChannelSlice("g.half", 0, 4), Sum("g.s")), ((), ("input", "g.half")))
    with pytest.raises(SpecError, match="g.s: a sum needs inputs of one shape"):
        Network([g], 8, in_ch=8)
    with pytest.raises(SpecError, match="channels 0:9 of an input with 8"):
        Network([Graph("h", (ChannelSlice("h.x", 0, 9),))], 8, in_ch=8)
    with pytest.raises(SpecError, match="groups=3 must divide"):
        Network([Graph("h", (ChannelShuffle("h.x", 3),))], 8, in_ch=8)
    with pytest.raises(SpecError, match="only inside a Graph"):
        Network([Sum("s")], 8)
    with pytest.raises(SpecError, match="stop=2 must be greater"):
        ChannelSlice("x", 2, 2)
    with pytest.raises(SpecError, match="needs a batch norm or an activation"):
        BatchNormAct("x", 8, batch_norm=False, activation=None)


def test_json_graph_errors_name_the_field():
    doc = residual_projection().to_dict()
    doc["layers"][1]["inputs"][3] = "b.c2"
    with pytest.raises(DataError, match="field 'inputs' must be a list of lists"):
        Network.from_dict(doc)
    doc["layers"][1]["inputs"][3] = ["b.c2", "nope"]
    with pytest.raises(SpecError, match="reads 'nope'"):
        Network.from_dict(doc)
    doc = shuffle_unit().to_dict()
    doc["layers"][1]["nodes"][0]["start"] = 1.5
    with pytest.raises(DataError, match="field 'start' must be an integer"):
        Network.from_dict(doc)


def test_a_chain_graph_is_the_sequence():
    """A graph whose nodes read the previous node counts, remembers and runs as the same layers in sequence."""
    layers = [_conv("c1", 8, 8), _conv("c2", 8, 16, stride=2), BatchNormAct("n", 16)]
    seq = Network([_conv("stem", 3, 8), *layers, GlobalAvgPool("pool"), Linear("fc", 16, 7)], 12)
    dag = Network([_conv("stem", 3, 8), Graph("g", tuple(layers)), GlobalAvgPool("pool"), Linear("fc", 16, 7)], 12)
    for conv in ("paper", "torch", "thop", "ptflops", "fvcore", "torchinfo", "keras"):
        a, b = costmodel.count(seq, conv), costmodel.count(dag, conv)
        assert (a.mult_adds, a.params) == (b.mult_adds, b.params)
    assert memory(seq).peak_live_elements == memory(dag).peak_live_elements
    w = init_weights(seq, seed=1)
    x = np.random.default_rng(2).standard_normal((1, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(execute(seq, w, x).logits, execute(dag, w, x).logits, rtol=1e-5, atol=1e-6)


def test_an_unknown_executor_step_is_an_error_naming_the_layer():
    """No default branch: a step whose op the executor does not know fails with the layer's name (it once fell
    into the softmax)."""
    from dataclasses import replace

    from costmodel.reference.executor import prepare

    net = residual_projection()
    prepared = prepare(net, init_weights(net))
    prepared.steps = (*prepared.steps[:-1], replace(prepared.steps[-1], op="gelu"))
    with pytest.raises(SpecError, match="fc: the executor has no step 'gelu'"):
        execute(net, prepared, np.zeros((1, 12, 12, 3), np.float32))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121", "shufflenet_v2_x1_0"])
def test_zoo_graph_networks_run_alike_in_numpy_and_onnx_runtime(name):
    """The zoo's graph networks at 64x64: the tuned executor, the plain kernels and ONNX Runtime agree (float32
    sums in other orders over up to 121 layers: rtol 1e-3, atol 1e-4 on logits of order 1)."""
    ort = pytest.importorskip("onnxruntime")
    from costmodel.reference.onnx_export import to_onnx

    net = costmodel.network(name, resolution=64, num_classes=10)
    w = init_weights(net, seed=5)
    x = np.random.default_rng(6).standard_normal((1, 64, 64, 3)).astype(np.float32)
    plain = plain_forward(net, w, x)
    run = execute(net, w, x)
    np.testing.assert_allclose(run.logits, plain, rtol=1e-3, atol=1e-4)
    assert run.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}
    session = ort.InferenceSession(to_onnx(net, w).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["logits"], {"images": x})[0], plain, rtol=1e-3, atol=1e-4)
