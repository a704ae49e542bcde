"""The plain reference kernels against the loop oracle, and the tuned executor against the plain one."""

from __future__ import annotations

import numpy as np
import pytest
from _reference_oracle import FLAVOURS as ORACLE_FLAVOURS
from _reference_oracle import oracle_act, oracle_bn, oracle_conv, oracle_forward

import costmodel
from costmodel.errors import SpecError
from costmodel.reference import forward, init_weights
from costmodel.reference.plain import plain_forward, plain_kernel
from costmodel.reference.weights import BN_EPSILON
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Pool2d, Residual
from costmodel.spec.network import Network

# float32 kernels against float64 loop oracles on O(1) data (sums of at most a few thousand terms): 1e-4
# relative is far above float32 rounding and far below any indexing, padding or batch-norm mistake.
RTOL, ATOL = 1e-4, 1e-5


def _images(net: Network, n: int = 2, seed: int = 0) -> np.ndarray:
    r = net.input_size
    return np.random.default_rng(seed).standard_normal((n, r, r, net.in_ch)).astype(np.float32)


#: The oracle's padding conventions and the spec padding that says the same, for a (kernel, stride).
SPEC_PADDING = {
    "same": lambda k, s: "tf_same",
    "symmetric": lambda k, s: k // 2,
    "keras": lambda k, s: (0, 1) if s > 1 else "tf_same",  # Keras pads (0, 1) for its 3x3 layers only
}

CONV_CASES = [
    (8, 3, 5, 3, 1, False),
    (9, 4, 6, 3, 2, False),
    (7, 2, 3, 1, 1, False),
    (10, 4, 4, 3, 2, True),
    (11, 4, 4, 5, 1, True),
    (13, 6, 6, 5, 2, True),
    (15, 3, 3, 7, 2, True),
    (9, 2, 5, 7, 1, False),
]


@pytest.mark.parametrize(
    ("size", "cin", "cout", "kernel", "stride", "depthwise", "padding"),
    [(*case, padding) for case in CONV_CASES for padding in SPEC_PADDING if padding != "keras" or case[3] == 3],
)
def test_conv_kernel_matches_the_loop_oracle(size, cin, cout, kernel, stride, depthwise, padding):
    layer = Conv2d("c", cin, cout, kernel, stride, groups=cin if depthwise else 1, activation="relu6",
                   padding=SPEC_PADDING[padding](kernel, stride))  # fmt: skip
    net = Network([layer], input_size=size, in_ch=cin)
    w = init_weights(net, seed=3)
    x = _images(net)
    got = plain_kernel(layer, net.nodes[0], w, x)
    if depthwise:
        kern = w["c/depthwise_kernel"].transpose(0, 1, 3, 2).astype(np.float64)  # (K, K, 1, C)
        want = oracle_conv(x, kern, stride, padding, groups=cin)
    else:
        want = oracle_conv(x, w["c/kernel"].astype(np.float64), stride, padding)
    bn = [w[f"c_bn/{v}"] for v in ("gamma", "beta", "moving_mean", "moving_variance")]
    want = oracle_act(oracle_bn(want, *bn, BN_EPSILON), "relu6")
    assert got.shape == (2, net.nodes[0].out_size, net.nodes[0].out_size, cout)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("alpha", "resolution"), [(0.25, 64), (0.25, 67)])
@pytest.mark.parametrize("flavour", ["paper", "keras", "tfslim", "timm"])
def test_whole_network_matches_the_loop_oracle(alpha, resolution, flavour):
    """Every flavour's padding, epsilon and batch-norm variables, at even and odd sizes."""
    net = costmodel.mobilenet_v1(alpha, resolution, num_classes=7, flavour=flavour)
    w, x = init_weights(net, seed=1), _images(net, n=1)
    convention, eps, gamma = ORACLE_FLAVOURS[flavour]
    want = oracle_forward(net, w, x, convention, eps=eps, gamma=gamma)
    np.testing.assert_allclose(plain_forward(net, w, x), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("alpha", "resolution"), [(1.0, 224), (0.5, 161), (0.75, 128)])
def test_tuned_executor_matches_the_plain_reference(alpha, resolution):
    """The tuned paths (folded BN, flat/taps depthwise, carried biases) change nothing but the speed."""
    net = costmodel.mobilenet_v1(alpha, resolution, activation="relu6")
    w, x = init_weights(net, seed=2), _images(net)
    plain, tuned = plain_forward(net, w, x), forward(net, w, x)
    np.testing.assert_allclose(tuned, plain, rtol=RTOL, atol=ATOL * float(np.abs(plain).max()))


def test_residual_block_adds_its_input_to_its_body():
    body = (Conv2d("expand", 4, 8, 1), Conv2d("dw", 8, 8, 3, groups=8), Conv2d("project", 8, 4, 1, activation=None))
    net = Network([Conv2d("stem", 3, 4, 3, 2), Residual("block", body), GlobalAvgPool("pool"), Linear("fc", 4, 3)],
                  input_size=16)  # fmt: skip
    w, x = init_weights(net, seed=4), _images(net)
    stem = plain_kernel(net.nodes[0].layer, net.nodes[0], w, x)
    inner = stem
    for node in net["block"].branches[0]:
        inner = plain_kernel(node.layer, node, w, inner)
    want = (stem + inner).mean(axis=(1, 2)) @ w["fc/kernel"] + w["fc/bias"]
    np.testing.assert_allclose(plain_forward(net, w, x), want, rtol=RTOL, atol=ATOL)


def test_a_merge_runs_only_as_the_end_of_its_block():
    """Add and Mul have two inputs: their arithmetic is their block's rule, never a kernel of their own."""
    from costmodel.spec.layers import Add

    block = costmodel.network("mobilenet_v2", resolution=32)["block3"]
    with pytest.raises(SpecError, match="block3.add: Add runs only as the end of its block"):
        plain_kernel(Add("block3.add"), block.merge, {}, np.zeros((1, 8, 8, 24), np.float32))


@pytest.mark.parametrize("activation", ["relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid", None])
def test_activations_match_the_oracle(activation):
    from _reference_oracle import oracle_act

    from costmodel.reference.plain import ACTIVATION_FUNCTIONS

    z = np.linspace(-8, 8, 161).astype(np.float32)
    np.testing.assert_allclose(ACTIVATION_FUNCTIONS[activation](z), oracle_act(z.astype(np.float64), activation),
                               rtol=1e-6, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(("name", "resolution"), [("mobilenet_v3_small", 64), ("efficientnet_b0", 48)])
def test_zoo_networks_with_blocks_match_the_oracle_and_the_tuned_executor(name, resolution):
    """Residual and squeeze-and-excite (Scale) blocks, h-swish and SiLU: plain = loop oracle = tuned."""
    net = costmodel.network(name, resolution=resolution)
    w, x = init_weights(net, seed=5), _images(net, n=1)
    plain = plain_forward(net, w, x)
    np.testing.assert_allclose(plain, oracle_forward(net, w, x), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(forward(net, w, x), plain, rtol=RTOL, atol=ATOL)


POOL_CASES = [  # (size, kernel, stride, padding, mode, ceil_mode): torchvision's pools and their corners
    (8, 2, 2, 0, "max", False),
    (9, 3, 2, 0, "max", True),
    (10, 3, 2, 0, "max", True),
    (7, 3, 1, 1, "max", True),
    (9, 3, 2, 1, "avg", True),
    (8, 3, 2, 1, "avg", False),
    (11, 3, 2, 0, "avg", True),
    (9, 3, 2, "tf_same", "avg", False),  # TF's SAME: the padding does not count in an average
    (8, 3, 2, "tf_same", "max", False),
    (7, 2, 2, "tf_same", "avg", False),
    (9, 3, 2, (0, 1), "avg", False),  # Keras' ZeroPadding2D then a valid pool: the zeros count
]


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "mode", "ceil_mode"), POOL_CASES)
def test_pool_kernel_matches_the_loop_oracle(size, kernel, stride, padding, mode, ceil_mode):
    from _reference_oracle import oracle_pool

    layer = Pool2d("p", kernel, stride, mode=mode, padding=padding, ceil_mode=ceil_mode)
    net = Network([layer], input_size=size, in_ch=3)
    x = _images(net)
    node = net.nodes[0]
    want = oracle_pool(x.astype(np.float64), kernel, stride, padding, mode, ceil_mode, node.out_size)
    np.testing.assert_allclose(plain_kernel(layer, node, {}, x), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("size", "out"), [(7, 7), (13, 6), (6, 6), (9, 4), (5, 1), (3, 7)])
def test_adaptive_pool_kernel_matches_the_loop_oracle(size, out):
    from _reference_oracle import oracle_adaptive_avg

    from costmodel.spec.layers import AdaptiveAvgPool

    layer = AdaptiveAvgPool("a", out)
    net = Network([layer], input_size=size, in_ch=2)
    x = _images(net)
    want = oracle_adaptive_avg(x.astype(np.float64), out)
    np.testing.assert_allclose(plain_kernel(layer, net.nodes[0], {}, x), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("name", "resolution"), [("alexnet", 67), ("squeezenet1_1", 47), ("googlenet", 40)])
def test_pooling_and_concat_networks_match_the_oracle_and_the_tuned_executor(name, resolution):
    """Max pools (ceil mode), adaptive average pools and Fire / Inception concatenations: the plain path against
    the loop oracle, and the tuned executor (branches run as little networks, pools on the plain kernels)
    against the plain path, its executed Mult-Adds against the engine's."""
    from costmodel.reference import execute

    net = costmodel.network(name, resolution=resolution, num_classes=10)
    w, x = init_weights(net, seed=3), _images(net, n=1)
    plain = plain_forward(net, w, x)
    scale = float(np.abs(plain).max())
    want = oracle_forward(net, w, x, "same").reshape(plain.shape)  # SqueezeNet ends on a pooled 1x1 map
    np.testing.assert_allclose(plain, want, rtol=RTOL, atol=ATOL * scale)
    run = execute(net, w, x)
    np.testing.assert_allclose(run.logits, plain, rtol=RTOL, atol=ATOL * scale)
    assert run.mult_adds == {lc.name: lc.mult_adds for lc in costmodel.count(net).layers}
