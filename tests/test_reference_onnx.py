"""ONNX export checked by an independent runtime: ONNX Runtime's logits vs the NumPy forward."""

from __future__ import annotations

import numpy as np
import pytest
from _networks import tiny, with_depthwise_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel
from costmodel.errors import WeightsError
from costmodel.reference import forward, init_weights

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from costmodel.reference.onnx_export import save_onnx, to_onnx  # noqa: E402


def _session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the test suite runs beside other work on 2 cores
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _rel_error(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("resolution", [224, 160, 128])
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.25])
def test_onnx_runtime_agrees_with_numpy(alpha, resolution):
    net = costmodel.mobilenet_v1(alpha, resolution)
    weights = init_weights(net, seed=int(alpha * 100) + resolution)
    x = np.random.default_rng(resolution).uniform(-1, 1, (2, resolution, resolution, 3)).astype(np.float32)
    logits, probabilities = _session(to_onnx(net, weights)).run(["logits", "probabilities"], {"images": x})
    want = forward(net, weights, x)
    # Two float32 implementations summing in different orders (ORT also folds BN its own way): ~1e-6 apart.
    assert _rel_error(logits, want) <= 1e-4
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)  # float32 sum of 1000 terms


@pytest.mark.parametrize(
    "config",
    [
        dict(alpha=0.25, resolution=97, shallow=True, activation="relu6"),
        dict(alpha=0.25, resolution=64, separable=False, num_classes=10),
    ],
)
@pytest.mark.parametrize("flavour", ["paper", "keras", "tfslim", "timm"])
def test_onnx_variants_and_flavours(config, flavour):
    """Each flavour's padding (Keras' (0, 1) at odd sizes included), epsilon, missing gamma and classifier."""
    net = costmodel.mobilenet_v1(**config, flavour=flavour)
    weights = init_weights(net, seed=5)
    x = np.random.default_rng(1).uniform(-1, 1, (1, net.input_size, net.input_size, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-4


def test_onnx_flavours_differ_on_even_input():
    paper, timm = costmodel.mobilenet_v1(0.25, 64, activation="relu6"), costmodel.mobilenet_v1(0.25, 64, flavour="timm")
    weights = init_weights(paper)
    x = np.random.default_rng(2).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    same = _session(to_onnx(paper, weights)).run(["logits"], {"images": x})[0]
    sym = _session(to_onnx(timm, weights)).run(["logits"], {"images": x})[0]
    assert _rel_error(same, sym) > 1e-2


def test_save_onnx_is_atomic_and_loadable(tmp_path):
    net = costmodel.mobilenet_v1(0.25, 32, num_classes=3)
    path = save_onnx(to_onnx(net, init_weights(net)), tmp_path / "m.onnx")
    assert onnx.load(str(path)).graph.output[0].name == "logits"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_export_refuses_bad_weights():
    net = costmodel.mobilenet_v1(0.25, 32)
    weights = init_weights(net)
    del weights["conv1/kernel"]
    with pytest.raises(WeightsError, match="conv1/kernel"):
        to_onnx(net, weights)


@pytest.mark.parametrize("name,resolution", [("mobilenet_v3_small", 64), ("efficientnet_b0", 48), ("mnasnet1_0", 40)])
def test_onnx_runtime_agrees_on_zoo_networks(name, resolution):
    """Residual Add, SE GlobalAveragePool + Mul, HardSwish, HardSigmoid (alpha 1/6), SiLU as x * Sigmoid(x),
    5x5 depthwise, FC after FC: ONNX Runtime's own kernels against the NumPy reference."""
    net = costmodel.network(name, resolution=resolution, num_classes=10)
    weights = init_weights(net, seed=7)
    x = np.random.default_rng(3).uniform(-1, 1, (2, resolution, resolution, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-4  # measured 8e-7 to 1e-6


@pytest.mark.parametrize("flavour", ["paper", "timm"])
@pytest.mark.parametrize("k", [5, 7])
def test_onnx_runtime_agrees_on_kxk_depthwise(k, flavour):
    net = with_depthwise_kernel(k, alpha=0.25, resolution=64, flavour=flavour)
    weights = init_weights(net, seed=k)
    x = np.random.default_rng(k).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-4


def test_onnx_runtime_agrees_on_blocks():
    """Add, GlobalAveragePool + Mul (SE), HardSwish, HardSigmoid (alpha 1/6), SiLU as x * Sigmoid(x), Gemm after
    Gemm: ONNX Runtime's own kernels against the NumPy reference."""
    net = tiny(40)
    weights = init_weights(net, seed=9)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 40, 40, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-4


@settings(max_examples=15, deadline=None)
@given(
    kernel=st.sampled_from([3, 5, 7]),
    stride=st.sampled_from([1, 2]),
    channels=st.sampled_from([(4, 4), (4, 6), (8, 8)]),
    se=st.one_of(st.none(), st.integers(1, 6)),
    activation=st.sampled_from(["relu", "relu6", "hardswish", "silu"]),
    gate=st.sampled_from(["hardsigmoid", "sigmoid"]),
    size=st.integers(1, 12),
)
def test_onnx_runtime_agrees_on_random_inverted_residuals(kernel, stride, channels, se, activation, gate, size):
    from costmodel.spec.blocks import inverted_residual
    from costmodel.spec.layers import GlobalAvgPool, Linear
    from costmodel.spec.network import Network

    in_ch, out_ch = channels
    block = inverted_residual("b", in_ch, out_ch, expand_ch=3 * in_ch, kernel=kernel, stride=stride,
                              activation=activation, se_ch=se, se_gate=gate)  # fmt: skip
    classifier = (GlobalAvgPool("pool"), Linear("fc", out_ch, 5))  # the export's outputs are (N, classes)
    net = Network((*block, *classifier), size, in_ch=in_ch)
    weights = init_weights(net, seed=size)
    x = np.random.default_rng(size).uniform(-1, 1, (2, size, size, in_ch)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-4


@pytest.mark.parametrize(
    ("name", "resolution"), [("googlenet", 64), ("squeezenet1_0", 67), ("squeezenet1_1", 47), ("alexnet", 128)]
)
def test_onnx_runtime_agrees_on_pooling_and_concat_networks(name, resolution):
    """MaxPool in ceil mode, adaptive average pooling (AlexNet at 128: 3x3 to 6x6), Inception and Fire
    concatenations, a network that ends on a pooled 1x1 map (SqueezeNet): ONNX Runtime against the NumPy
    reference."""
    net = costmodel.network(name, resolution=resolution, num_classes=10)
    weights = init_weights(net, seed=5)
    x = np.random.default_rng(5).uniform(-1, 1, (2, resolution, resolution, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-4


@pytest.mark.parametrize(("padding", "ceil_mode"), [(1, False), (1, True), ("tf_same", False), ((0, 1), False)])
def test_onnx_runtime_agrees_on_average_pooling(padding, ceil_mode):
    """AvgPool2d counting its padding (PyTorch's default; ceil mode's clipped last window included), TF's SAME
    average not counting it, an explicit Keras-style pair."""
    from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Pool2d
    from costmodel.spec.network import Network

    net = Network([Conv2d("c", 3, 8, 3, padding=1), Pool2d("p", 3, 2, mode="avg", padding=padding, ceil_mode=ceil_mode),
                   GlobalAvgPool("g"), Linear("fc", 8, 4)], input_size=10)  # fmt: skip
    weights = init_weights(net, seed=2)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 10, 10, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-5


@pytest.mark.parametrize(("size", "out"), [(1, 7), (5, 7), (4, 6), (8, 4)])
def test_onnx_runtime_agrees_on_adaptive_pooling(size, out):
    """Adaptive pooling, exported as two averaging matrix products, whose windows overlap or repeat where they
    do not divide evenly: ONNX Runtime against the NumPy reference, whose adaptive kernel is checked against a
    loop oracle."""
    from costmodel.spec.layers import AdaptiveAvgPool, Conv2d, Linear
    from costmodel.spec.network import Network

    net = Network([Conv2d("c", 3, 4, 3, padding=1), AdaptiveAvgPool("pool", out), Linear("fc", 4 * out * out, 5)],
                  input_size=size)  # fmt: skip
    weights = init_weights(net, seed=size)
    x = np.random.default_rng(size).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    (logits,) = _session(to_onnx(net, weights)).run(["logits"], {"images": x})
    assert _rel_error(logits, forward(net, weights, x)) <= 1e-5


@pytest.mark.parametrize(("n", "o"), [(1, 7), (3, 7), (5, 7), (4, 6), (7, 3), (10, 4)])
def test_averaging_matrix_matches_the_loop_oracle(n, o):
    from _reference_oracle import oracle_adaptive_avg

    from costmodel.reference.onnx_export import averaging_matrix

    x = np.random.default_rng(n * o).uniform(-1, 1, (1, n, n, 2))
    a = averaging_matrix(n, o).astype(np.float64)
    got = np.einsum("in,bnmc,jm->bijc", a, x, a)
    np.testing.assert_allclose(got, oracle_adaptive_avg(x, o), rtol=1e-6, atol=1e-7)
