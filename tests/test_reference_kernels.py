"""Each fast kernel against a slow loop oracle (tests/_reference_oracle.py, with its own padding code)."""

from __future__ import annotations

import numpy as np
import pytest
from _reference_oracle import oracle_act, oracle_add, oracle_bn, oracle_conv, oracle_forward, oracle_pad, oracle_scale

from costmodel.errors import SpecError
from costmodel.reference import kernels as K
from costmodel.spec.layers import window_out_size

# float32 kernels vs float64 oracles on O(1) data with sums of at most a few hundred terms: 1e-5 relative
# is ~100 float32 ulps, far above rounding noise and far below any indexing or padding mistake.
RTOL, ATOL = 1e-5, 1e-5


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


#: The oracle's padding conventions and the spec padding that says the same, for a (kernel, stride).
CONVENTIONS = {
    "same": lambda k, s: "tf_same",
    "symmetric": lambda k, s: k // 2,
    "keras": lambda k, s: (0, 1) if s > 1 else "tf_same",
}


def _spec(convention, n, kernel, stride):
    """(spec padding, output size) of a layer padded as the oracle's ``convention``."""
    padding = CONVENTIONS[convention](kernel, stride)
    return padding, window_out_size(n, kernel, stride, padding)


def _padded(x, kernel, stride, convention):
    """Pad as the executor does: the kernels' pads() from the spec's padding and sizes."""
    n = x.shape[1]
    padding, out = _spec(convention, n, kernel, stride)
    (top, bottom) = K.pads(padding, n, out, kernel, stride)
    return np.pad(x, ((0, 0), (top, bottom), (top, bottom), (0, 0))), out


CASES = [  # (size, channels in, channels out, kernel, stride)
    (8, 3, 5, 3, 1),
    (8, 3, 5, 3, 2),
    (9, 4, 6, 3, 2),
    (7, 2, 3, 3, 2),
    (5, 3, 4, 1, 1),
    (10, 2, 2, 5, 2),
]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize(("size", "cin", "cout", "k", "stride"), CASES)
def test_conv2d_matches_loop_oracle(size, cin, cout, k, stride, convention):
    rng = np.random.default_rng(size * 100 + k * 10 + stride)
    x, kern, bias = _rand(rng, 2, size, size, cin), _rand(rng, k, k, cin, cout), _rand(rng, cout)
    xp, out = _padded(x, k, stride, convention)
    y, mult_adds = K.conv2d(xp, kern, bias, stride, out)
    want = oracle_conv(x, kern.astype(np.float64), stride, convention) + bias
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    assert mult_adds == 2 * out * out * k * k * cin * cout


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize(("size", "cin", "cout", "k", "stride"), CASES)
def test_depthwise_matches_loop_oracle(size, cin, cout, k, stride, convention):
    rng = np.random.default_rng(size * 100 + k * 10 + stride + 1)
    x, kern, bias = _rand(rng, 2, size, size, cin), _rand(rng, k, k, cin), _rand(rng, cin)
    xp, out = _padded(x, k, stride, convention)
    y, mult_adds = K.depthwise_conv2d(xp, kern, bias, stride, out)
    want = oracle_conv(x, kern[:, :, None, :].astype(np.float64), stride, convention, groups=cin) + bias
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    assert mult_adds == 2 * out * out * k * k * cin


def test_pointwise_matches_loop_oracle():
    rng = np.random.default_rng(7)
    x, kern, bias = _rand(rng, 3, 6, 6, 8), _rand(rng, 8, 16), _rand(rng, 16)
    y, mult_adds = K.pointwise_conv2d(x, kern, bias)
    want = oracle_conv(x, kern[None, None].astype(np.float64), 1, "same") + bias
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    assert mult_adds == 3 * 6 * 6 * 8 * 16


def test_folded_batch_norm_equals_conv_then_bn():
    rng = np.random.default_rng(3)
    x, kern, conv_bias = _rand(rng, 2, 6, 6, 4), _rand(rng, 3, 3, 4, 5), _rand(rng, 5)
    gamma, var = rng.uniform(0.5, 1.5, 5), rng.uniform(0.5, 1.5, 5)
    beta, mean = rng.normal(0, 1, 5), rng.normal(0, 1, 5)
    folded_k, folded_b = K.fold_batch_norm(kern, conv_bias, gamma, beta, mean, var, 1e-3)
    xp, out = _padded(x, 3, 1, "same")
    y, _ = K.conv2d(xp, folded_k, folded_b, 1, out)
    want = oracle_bn(oracle_conv(x, kern.astype(np.float64), 1, "same") + conv_bias, gamma, beta, mean, var, 1e-3)
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("activation", K.ACTIVATIONS)
def test_activations(activation):
    y = np.concatenate([np.linspace(-8, 8, 33), [-100.0, -3.0, 3.0, 100.0]]).astype(np.float32)
    got, want = K.activate(y.copy(), activation), oracle_act(y, activation)
    if activation in K.CLAMPS:
        np.testing.assert_array_equal(got, want)  # a clamp is exact
    else:  # float32 against the scalar formula in float64: a few units in the last place
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_unknown_activation_is_an_error():
    with pytest.raises(SpecError, match="gelu"):
        K.activate(np.zeros(3, np.float32), "gelu")


def test_pool_linear_softmax():
    rng = np.random.default_rng(5)
    x = _rand(rng, 2, 3, 3, 4)
    pooled = K.global_avg_pool(x)
    np.testing.assert_allclose(
        pooled[:, 0, 0, :], [[x[n, :, :, c].sum() / 9 for c in range(4)] for n in range(2)], rtol=RTOL
    )
    kern, bias = _rand(rng, 4, 6), _rand(rng, 6)
    y, mult_adds = K.linear(pooled, kern, bias)
    want = [
        [sum(float(pooled[n, 0, 0, i]) * float(kern[i, j]) for i in range(4)) + bias[j] for j in range(6)]
        for n in range(2)
    ]
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    assert mult_adds == 2 * 4 * 6
    p = K.softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]], np.float32))
    np.testing.assert_allclose(p, [[0.25, 0.75], [0.5, 0.5]], rtol=1e-6)  # float32 exp/divide rounding


@pytest.mark.parametrize(
    ("n", "k", "stride", "same", "symmetric", "keras"),
    [
        (224, 3, 2, (0, 1), (1, 0), (0, 1)),  # even input, stride 2: symmetric differs
        (225, 3, 2, (1, 1), (1, 1), (0, 0)),  # odd input: Keras' (0, 1) + valid gives 112 windows, SAME 113
        (14, 3, 1, (1, 1), (1, 1), (1, 1)),  # stride 1: they agree
        (7, 1, 1, (0, 0), (0, 0), (0, 0)),
    ],
)
def test_pads_against_oracle_padding(n, k, stride, same, symmetric, keras):
    for convention, want in (("same", same), ("symmetric", symmetric), ("keras", keras)):
        padding, out = _spec(convention, n, k, stride)
        assert K.pads(padding, n, out, k, stride) == want
    # The oracle pads with its own rule and must add as many rows as the kernels' SAME padding.
    x = np.ones((1, n, n, 1), np.float32)
    assert oracle_pad(x, k, stride, "same").shape[1] - n == sum(same)


def test_padding_that_cannot_give_the_windows_is_an_error():
    with pytest.raises(SpecError, match="cannot give 1 windows"):
        K.pads(3, 8, 1, 3, 1)  # 3 rows before an 8-row map leave 9 windows of 3


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("method", K.DEPTHWISE_METHODS)
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize(
    ("size", "channels", "stride", "k"),
    [(12, 4, 1, 3), (12, 6, 2, 3), (9, 5, 2, 3), (16, 3, 1, 3), (12, 4, 1, 5), (9, 5, 2, 5), (10, 3, 1, 7),
     (11, 4, 2, 7), (4, 3, 1, 7)],
)  # fmt: skip
def test_depthwise_planes_paths_match_loop_oracle(size, channels, stride, k, convention, method, threads):
    """The executor's path: the previous layer's ReLU6 output stored shifted by its bias (border included) in
    phase planes, the bias carried into the depthwise bias; taps or einsum; one or two threads; 3x3, 5x5 and
    7x7 kernels (a 7x7 kernel on a 4x4 map reads mostly padding)."""
    from concurrent.futures import ThreadPoolExecutor

    if convention == "keras" and k != 3:
        pytest.skip("Keras' (0, 1) padding exists for its 3x3 depthwise layers only")

    rng = np.random.default_rng(size + channels + stride)
    x, kern, bias = _rand(rng, 2, size, size, channels), _rand(rng, k, k, channels), _rand(rng, channels)
    prev_bias = _rand(rng, channels)
    padding, out = _spec(convention, size, k, stride)
    top, _ = K.pads(padding, size, out, k, stride)
    layout = K.plane_layout(method, stride, top, (out - 1) * stride + k)
    # stored = relu6(x + b) - b, and a true zero (the border) is stored as -b
    stored = layout.allocate(2, channels, fill=-prev_bias)
    planes = layout.scatter(x, stored, *K.clamp_bounds("relu6", prev_bias.astype(np.float64)))
    carried = bias + prev_bias * kern.sum(axis=(0, 1))  # what the shifted input costs each output
    weights = K.depthwise_weights(kern, method, out)
    lo, hi = K.clamp_bounds("relu")
    with ThreadPoolExecutor(threads) as pool:
        # one output row per band, so that the threads have bands to share
        y, mult_adds = K.depthwise_planes(
            planes, weights, carried, stride, k, out, lo=lo, hi=hi, band_elements=out * channels,
            pool=pool, workers=threads, method=method,
        )  # fmt: skip
    relu6_input = oracle_act(x.astype(np.float64) + prev_bias, "relu6")
    want = oracle_act(oracle_conv(relu6_input, kern[:, :, None, :], stride, convention, groups=channels) + bias, "relu")
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    assert mult_adds == 2 * out * out * k * k * channels


def test_depthwise_method_rule_and_bad_plane_count():
    assert K.depthwise_method(K.EINSUM_MIN_CHANNELS - 1, stride=2) == "taps"
    assert K.depthwise_method(K.EINSUM_MIN_CHANNELS, stride=2) == "flat"
    assert not K.flat_tiled(K.EINSUM_MIN_CHANNELS, stride=2)
    assert K.flat_tiled(K.FLAT_MAX_CHANNELS - 1, stride=1)
    assert K.depthwise_method(K.FLAT_MAX_CHANNELS - 1, stride=1) == "flat"
    assert K.depthwise_method(K.FLAT_MAX_CHANNELS, stride=1) == "einsum"
    layout = K.PlaneLayout(1, 1, 9)
    planes = layout.allocate(1, 2)
    with pytest.raises(SpecError, match="taps"):
        K.depthwise_planes(planes, np.zeros((9, 8), np.float32), None, 2, 3, 4, method="taps")


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize(
    ("size", "channels", "kernel", "stride", "tiled"),
    [(12, 4, 3, 1, True), (12, 4, 3, 1, False), (1, 3, 3, 1, True), (2, 5, 3, 1, False), (7, 2, 5, 1, True),
     (7, 2, 5, 1, False), (9, 3, 1, 1, True), (12, 4, 3, 2, False), (9, 3, 3, 2, False), (2, 2, 3, 2, False),
     (10, 2, 5, 2, False), (9, 3, 7, 1, True), (9, 3, 7, 1, False), (11, 4, 7, 2, False), (3, 2, 7, 1, True),
     (3, 2, 7, 2, False)],
)  # fmt: skip
@pytest.mark.parametrize("band_rows", [1, 64])
def test_depthwise_flat_matches_loop_oracle(size, channels, kernel, stride, tiled, convention, band_rows):
    """The path on an unpadded input: padding taps multiplied by zero weights, the carried bias of the input
    (a ReLU6 output stored shifted) taken back where a tap leaves the map; row-tiled weights or column
    groups; bands of one row (so every row class is split) and of whole maps; a batch of two (taps reading
    the other image)."""
    if convention == "keras" and kernel != 3:
        pytest.skip("Keras' (0, 1) padding exists for its 3x3 depthwise layers only")
    rng = np.random.default_rng(size + channels + kernel + stride)
    x, kern, bias = _rand(rng, 2, size, size, channels), _rand(rng, kernel, kernel, channels), _rand(rng, channels)
    prev_bias = _rand(rng, channels)
    padding, out = _spec(convention, size, kernel, stride)
    top, _ = K.pads(padding, size, out, kernel, stride)
    carried = bias + prev_bias * kern.sum(axis=(0, 1))  # what the shifted input costs each output
    plan = K.flat_plan(kern, size, out, top, carried, prev_bias, stride=stride, tiled=tiled)
    buf, interior = plan.allocate(2, channels)
    K.clamp(x, *K.clamp_bounds("relu6", prev_bias.astype(np.float64)), out=interior)  # stored relu6(x+b)-b
    lo, hi = K.clamp_bounds("relu")
    y, mult_adds = K.depthwise_flat(buf, plan, 2, lo=lo, hi=hi, band_elements=band_rows * out * channels)
    relu6_input = oracle_act(x.astype(np.float64) + prev_bias, "relu6")
    want = oracle_act(oracle_conv(relu6_input, kern[:, :, None, :], stride, convention, groups=channels) + bias, "relu")
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)
    assert mult_adds == 2 * out * out * kernel * kernel * channels


@pytest.mark.parametrize(("stride", "tiled"), [(1, True), (1, False), (2, False)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_depthwise_flat_without_a_carried_bias(stride, tiled, with_bias):
    """An input stored as it is (no carry): plain zero padding, with or without a bias."""
    rng = np.random.default_rng(stride)
    x, kern, bias = _rand(rng, 1, 8, 8, 3), _rand(rng, 3, 3, 3), _rand(rng, 3)
    out = window_out_size(8, 3, stride, "tf_same")
    top, _ = K.pads("tf_same", 8, out, 3, stride)
    plan = K.flat_plan(kern, 8, out, top, bias if with_bias else None, stride=stride, tiled=tiled)
    buf, interior = plan.allocate(1, 3)
    interior[...] = x
    y, _ = K.depthwise_flat(buf, plan, 1)
    want = oracle_conv(x, kern[:, :, None, :], stride, "same", groups=3) + (bias if with_bias else 0)
    np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)


def test_depthwise_flat_refuses_a_bad_plan_or_buffer():
    with pytest.raises(SpecError, match="padding 3"):
        K.flat_plan(np.zeros((3, 3, 2), np.float32), 8, 8, 3)
    with pytest.raises(SpecError, match="need stride 1"):
        K.flat_plan(np.zeros((3, 3, 2), np.float32), 8, 4, 0, stride=2, tiled=True)
    plan = K.flat_plan(np.zeros((3, 3, 2), np.float32), 8, 8, 1)
    with pytest.raises(SpecError, match="does not hold"):
        K.depthwise_flat(np.zeros(10, np.float32), plan, 1)


def test_add_and_scale_against_loop_oracles():
    rng = np.random.default_rng(11)
    x, skip, factors = _rand(rng, 2, 5, 5, 3), _rand(rng, 2, 5, 5, 3), _rand(rng, 2, 1, 1, 3)
    np.testing.assert_allclose(K.add(x, skip), oracle_add(x, skip), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(K.scale_channels(x, factors), oracle_scale(x, factors), rtol=RTOL, atol=ATOL)
    out = np.empty_like(x)
    assert K.add(x, skip, out=out) is out


def test_squeeze_excite_block_against_loop_oracle():
    """A Scale block alone (pool, 1x1 reduce + bias + SiLU, 1x1 expand + bias + sigmoid, product), executed by
    the reference against the oracle's loops; also with h-swish/h-sigmoid, MobileNetV3's pair."""
    from costmodel.reference import forward, init_weights
    from costmodel.spec.blocks import squeeze_excite
    from costmodel.spec.network import Network

    for act, gate in (("silu", "sigmoid"), ("relu", "hardsigmoid"), ("hardswish", "hardsigmoid")):
        net = Network([squeeze_excite("se", 6, 3, activation=act, gate=gate)], input_size=5, in_ch=6)
        weights = init_weights(net, seed=2)
        x = _rand(np.random.default_rng(3), 2, 5, 5, 6)
        got = forward(net, weights, x)
        want = oracle_forward(net, weights, x).reshape(2, -1)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
