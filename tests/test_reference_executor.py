"""The executor: whole-network forward vs a loop oracle (every flavour), executed Mult-Adds vs the cost engine,
trace, timing, padding from the spec, bad inputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from _networks import tiny, with_depthwise_kernel
from _reference_oracle import FLAVOURS as ORACLE_FLAVOURS
from _reference_oracle import oracle_forward
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel.errors import InputError, WeightsError
from costmodel.reference import execute, forward, init_weights, prepare, time_layers
from costmodel.spec.flavours import FLAVOURS


def _images(network, n=2, seed=0):
    r = network.input_size
    return np.random.default_rng(seed).uniform(-1, 1, (n, r, r, 3)).astype(np.float32)


SMALL = [  # small networks the loop oracle can run in well under a second each
    dict(alpha=0.25, resolution=33, num_classes=7),
    dict(alpha=0.25, resolution=32, num_classes=7, shallow=True),
    dict(alpha=0.125, resolution=35, num_classes=5, separable=False),
    dict(alpha=0.25, resolution=40, num_classes=6, activation="relu6"),
]


@pytest.mark.parametrize("flavour", list(ORACLE_FLAVOURS))
@pytest.mark.parametrize("config", SMALL, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_forward_matches_loop_oracle(config, flavour):
    """Every flavour at even and odd resolutions: the executor follows each layer's padding and epsilon; the
    oracle pads with its own code from its own description of the flavour."""
    net = costmodel.mobilenet_v1(**config, flavour=flavour)
    weights = init_weights(net, seed=3)
    x = _images(net)
    got = forward(net, weights, x)
    convention, eps, gamma = ORACLE_FLAVOURS[flavour]
    want = oracle_forward(net, weights, x, convention, eps, gamma=gamma)
    # 28 float32 layers vs a float64 oracle: errors grow layer by layer to ~1e-6 of the logits' scale;
    # 1e-4 of the largest logit still catches any wrong tap, pad or fold.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())


def test_traced_outputs_are_each_layers_true_output():
    # Untraced passes store some outputs shifted by a carried bias; the trace must add it back.
    net = costmodel.mobilenet_v1(0.25, 35, num_classes=6)
    weights = init_weights(net, seed=4)
    x = _images(net)
    want: dict[str, np.ndarray] = {}
    oracle_forward(net, weights, x, outputs=want)
    _, got = forward(net, weights, x, trace=True)
    for node in net:
        scale = np.abs(want[node.name]).max()
        # float32 vs float64, errors growing with depth: 1e-4 of each layer's scale (see the test above)
        np.testing.assert_allclose(got[node.name].reshape(want[node.name].shape), want[node.name],
                                   rtol=0, atol=1e-4 * scale, err_msg=node.name)  # fmt: skip


CONFIGS = [
    dict(alpha=1.0, resolution=224),
    dict(alpha=0.75, resolution=160),
    dict(alpha=0.5, resolution=128),
    dict(alpha=0.25, resolution=97),
    dict(alpha=0.5, resolution=128, shallow=True),
    dict(alpha=0.25, resolution=65, separable=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_executed_mult_adds_equal_engine_counts(config):
    net = costmodel.mobilenet_v1(**config)
    run = execute(net, init_weights(net), _images(net, n=2))
    engine = {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}
    assert run.mult_adds == engine
    assert sum(run.mult_adds.values()) == costmodel.count(net).mult_adds


def test_trace_shapes_come_from_the_network_nodes():
    net = costmodel.mobilenet_v1(0.25, 65)
    logits, outputs = forward(net, init_weights(net), _images(net, n=3), trace=True)
    assert list(outputs) == [node.name for node in net]
    for node in net.nodes[:-3]:  # the conv layers: NHWC maps
        assert outputs[node.name].shape == (3, node.out_size, node.out_size, node.out_ch)
    assert logits.shape == (3, 1000)
    np.testing.assert_array_equal(outputs["fc"], logits)
    np.testing.assert_allclose(outputs["softmax"].sum(axis=1), 1.0, rtol=1e-6)  # float32 sum of 1000 terms


def test_prepared_weights_give_the_same_logits_and_reuse_is_safe():
    net = costmodel.mobilenet_v1(0.25, 64)
    weights = init_weights(net)
    prepared = prepare(net, weights)
    a, b = _images(net, seed=1), _images(net, seed=2)
    first = forward(net, prepared, a)
    forward(net, prepared, b)  # reuses the same buffers
    np.testing.assert_array_equal(forward(net, prepared, a), first)
    np.testing.assert_array_equal(forward(net, weights, a), first)


def test_batch_rows_are_independent():
    net = costmodel.mobilenet_v1(0.25, 64)
    weights = init_weights(net)
    x = _images(net, n=3)
    batch = forward(net, weights, x)
    single = forward(net, weights, x[1:2])
    np.testing.assert_allclose(batch[1:2], single, rtol=1e-5, atol=1e-5)  # BLAS may block rows differently


def test_time_layers_covers_every_layer_in_order():
    net = costmodel.mobilenet_v1(0.25, 64)
    seconds = time_layers(net, init_weights(net), _images(net, n=1), repeats=2)
    assert list(seconds) == [node.name for node in net]
    assert all(isinstance(s, float) and s >= 0 for s in seconds.values())


# The paper's network with PyTorch's symmetric padding and nothing else changed (timm also changes epsilon).
TORCH_PADDED = replace(FLAVOURS["paper"], name="paper-torch-padding", padding="torch")


def test_same_and_symmetric_padding_differ_on_even_inputs_and_agree_on_odd_ones():
    # 64 -> 32 -> 16 -> 8 -> 4 -> 2: every stride-2 layer sees an even input, where TF SAME pads (0, 1) and
    # symmetric pads (1, 0): the windows start one row apart, so the outputs differ from conv1 on.
    even = costmodel.mobilenet_v1(0.25, 64)
    w = init_weights(even)
    x = _images(even)
    same = forward(even, w, x, trace=True)[1]
    sym = forward(costmodel.mobilenet_v1(0.25, 64, flavour=TORCH_PADDED), w, x, trace=True)[1]
    assert not np.allclose(same["conv1"], sym["conv1"], rtol=1e-3, atol=1e-3)
    assert not np.allclose(same["fc"], sym["fc"], rtol=1e-3, atol=1e-3)
    # 33 -> 17 -> 9 -> 5 -> 3 -> 2: every stride-2 layer sees an odd input, and stride-1 layers pad (1, 1)
    # under both conventions, so every layer agrees exactly.
    odd = costmodel.mobilenet_v1(0.25, 33)
    w = init_weights(odd)
    x = _images(odd)
    same = forward(odd, w, x, trace=True)[1]
    sym = forward(costmodel.mobilenet_v1(0.25, 33, flavour=TORCH_PADDED), w, x, trace=True)[1]
    for node in odd:
        np.testing.assert_array_equal(same[node.name], sym[node.name])


def test_keras_padding_gives_floor_sizes_at_odd_inputs_and_agrees_with_same_at_even_ones():
    """Keras pads (0, 1) then a valid window: on an even map that is exactly TF SAME's padding, so the whole
    pass agrees bit for bit; on 0.5-200 its maps are 12x12 and 6x6 where SAME's are 13x13 and 7x7."""
    keras_padded = replace(FLAVOURS["paper"], name="paper-keras-padding", padding="keras")
    even = costmodel.mobilenet_v1(0.25, 64)
    w = init_weights(even)
    x = _images(even)
    np.testing.assert_array_equal(
        forward(even, w, x), forward(costmodel.mobilenet_v1(0.25, 64, flavour=keras_padded), w, x)
    )
    net = costmodel.mobilenet_v1(0.5, 200, flavour="keras")
    assert (net["conv_dw_6"].out_size, net["conv_dw_12"].out_size) == (12, 6)
    paper = costmodel.mobilenet_v1(0.5, 200)
    assert (paper["conv_dw_6"].out_size, paper["conv_dw_12"].out_size) == (13, 7)


BAD_IMAGES = [
    (np.zeros((64, 64, 3), np.float32), "rank 4"),
    (np.zeros((1, 65, 65, 3), np.float32), "64x64"),
    (np.zeros((1, 64, 64, 1), np.float32), "3 channels"),
    (np.zeros((1, 64, 64, 3), np.uint8), "floating point"),
    (np.full((1, 64, 64, 3), np.nan, np.float32), "NaN"),
    (np.zeros((0, 64, 64, 3), np.float32), "at least one"),
    ([[0.0]], "NumPy array"),
]


@pytest.mark.parametrize(("images", "message"), BAD_IMAGES)
def test_bad_images_raise_input_error(images, message):
    net = costmodel.mobilenet_v1(0.25, 64)
    with pytest.raises(InputError, match=message):
        forward(net, init_weights(net), images)


def test_mismatched_prepared_weights_and_bad_repeats():
    net = costmodel.mobilenet_v1(0.25, 64)
    other = costmodel.mobilenet_v1(0.5, 64)
    with pytest.raises(WeightsError, match="0.5-64"):
        forward(net, prepare(other, init_weights(other)), _images(net))
    with pytest.raises(InputError, match="repeats"):
        time_layers(net, init_weights(net), _images(net), repeats=0)


def test_the_executor_has_no_padding_of_its_own():
    net = costmodel.mobilenet_v1(0.25, 64)
    with pytest.raises(TypeError, match="padding"):
        forward(net, init_weights(net), _images(net), padding="symmetric")


@pytest.mark.parametrize("config", [dict(alpha=0.5, resolution=96), dict(alpha=0.25, resolution=65, separable=False)])
def test_fused_and_traced_passes_agree_exactly(config):
    # Untraced, a conv writes bias + activation straight into the next depthwise layer's planes; traced, every
    # layer runs on its own. Same float operations in the same order: bit-identical logits.
    net = costmodel.mobilenet_v1(**config)
    prepared = prepare(net, init_weights(net))
    x = _images(net)
    np.testing.assert_array_equal(forward(net, prepared, x), forward(net, prepared, x, trace=True)[0])


@pytest.mark.parametrize(("flavour", "convention"), [("paper", "same"), (TORCH_PADDED, "symmetric")])
@pytest.mark.parametrize("k", [5, 7])
@pytest.mark.parametrize("config", [dict(alpha=0.25, resolution=33, num_classes=7), dict(alpha=0.5, resolution=40)])
def test_kxk_depthwise_matches_loop_oracle(k, config, flavour, convention):
    """5x5 and 7x7 depthwise layers down to 2x2 and 1x1 maps (a 7x7 window mostly over padding), every method."""
    net = with_depthwise_kernel(k, **config, flavour=flavour)
    weights = init_weights(net, seed=k)
    x = _images(net)
    want = oracle_forward(net, weights, x, convention)
    got = execute(net, weights, x)
    np.testing.assert_allclose(got.logits, want, rtol=0, atol=1e-4 * np.abs(want).max())
    assert got.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}


@pytest.mark.parametrize("resolution", [33, 40])
def test_block_network_matches_loop_oracle(resolution):
    """Residual adds, squeeze-and-excite (both gates), h-swish, SiLU, 5x5/7x7 depthwise, FC after FC."""
    net = tiny(resolution)
    weights = init_weights(net, seed=resolution)
    x = _images(net)
    want: dict[str, np.ndarray] = {}
    logits = oracle_forward(net, weights, x, "same", outputs=want)
    run = execute(net, weights, x, trace=True)
    np.testing.assert_allclose(run.logits, logits, rtol=0, atol=1e-4 * np.abs(logits).max())
    assert run.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}
    for node in net:  # a block's traced output is after its add
        np.testing.assert_allclose(run.outputs[node.name].reshape(want[node.name].shape), want[node.name],
                                   rtol=0, atol=1e-4 * np.abs(want[node.name]).max(), err_msg=node.name)  # fmt: skip
    np.testing.assert_array_equal(forward(net, weights, x), run.logits)  # fused = traced


ZOO = [("mobilenet_v3_small", 64), ("efficientnet_b0", 48), ("mnasnet1_0", 40), ("mobilenet_v3_large", 35),
       ("mobilenet_v2", 33)]  # fmt: skip


@pytest.mark.parametrize("name,resolution", ZOO)
def test_zoo_networks_match_loop_oracle(name, resolution):
    """Residual adds, squeeze-and-excite, h-swish, SiLU, 5x5 depthwise, FC after FC: the whole network against
    the oracle (integer padding, as torchvision), and every layer's executed Mult-Adds against the engine."""
    net = costmodel.network(name, resolution=resolution, num_classes=10)
    weights = init_weights(net, seed=2)
    x = _images(net)
    want: dict[str, np.ndarray] = {}
    logits = oracle_forward(net, weights, x, "symmetric", outputs=want)
    run = execute(net, weights, x, trace=True)
    np.testing.assert_allclose(run.logits, logits, rtol=0, atol=1e-4 * np.abs(logits).max())
    assert run.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}
    for node in net:  # blocks' outputs: after their add or multiply
        scale = np.abs(want[node.name]).max()
        np.testing.assert_allclose(run.outputs[node.name].reshape(want[node.name].shape), want[node.name],
                                   rtol=0, atol=1e-4 * scale, err_msg=node.name)  # fmt: skip


def test_fused_and_traced_passes_agree_with_blocks():
    net = costmodel.network("mobilenet_v3_small", resolution=48, num_classes=5)
    weights = prepare(net, init_weights(net, seed=1))
    x = _images(net)
    np.testing.assert_array_equal(forward(net, weights, x), execute(net, weights, x, trace=True).logits)
    np.testing.assert_array_equal(forward(net, weights, x), forward(net, weights, x))  # buffers reused safely


def test_leaf_seconds_time_blocks_layer_by_layer():
    """Every leaf of Network.leaves() is timed once, in order; a block's leaves run inside the block's own clock."""
    net = tiny(33)
    run = execute(net, init_weights(net), _images(net))
    assert list(run.leaf_seconds) == [leaf.name for leaf in net.leaves()]
    assert list(run.seconds) == [node.name for node in net]
    for node in net:
        inner = [run.leaf_seconds[leaf.name] for leaf in node.leaves()]
        assert sum(inner) <= run.seconds[node.name]  # nested intervals of one monotonic clock


@settings(max_examples=25, deadline=None)
@given(
    kernel=st.sampled_from([3, 5, 7]),
    stride=st.sampled_from([1, 2]),
    channels=st.sampled_from([(4, 4), (4, 6), (8, 8), (3, 5)]),
    expand=st.integers(3, 20),
    se=st.one_of(st.none(), st.integers(1, 6)),
    activation=st.sampled_from(["relu", "relu6", "hardswish", "silu"]),
    gate=st.sampled_from(["hardsigmoid", "sigmoid"]),
    size=st.integers(1, 11),
    padding=st.sampled_from(["same", None]),
)
def test_random_inverted_residuals_match_loop_oracle(kernel, stride, channels, expand, se, activation, gate, size,
                                                     padding):  # fmt: skip
    """Any MBConv block (residual or not, SE or not, every activation and gate, 3x3/5x5/7x7, TF or PyTorch
    padding) down to a 1x1 map: the executor against the oracle, and its Mult-Adds against the engine."""
    from costmodel.spec.blocks import inverted_residual
    from costmodel.spec.network import Network

    in_ch, out_ch = channels
    net = Network(inverted_residual("b", in_ch, out_ch, expand_ch=expand, kernel=kernel, stride=stride,
                                    activation=activation, se_ch=se, se_gate=gate, padding=padding),
                  size, in_ch=in_ch)  # fmt: skip
    weights = init_weights(net, seed=size)
    x = np.random.default_rng(size).uniform(-1, 1, (2, size, size, in_ch)).astype(np.float32)
    want = oracle_forward(net, weights, x, "same").reshape(2, -1)
    run = execute(net, weights, x)
    np.testing.assert_allclose(run.logits, want, rtol=0, atol=1e-5 * max(1.0, np.abs(want).max()))
    assert run.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}
