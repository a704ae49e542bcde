"""The .tflite export checked by independent runtimes: LiteRT runs the files, against the NumPy executor and
ONNX Runtime (float32), and int8 files' top-1 against float32's."""

from __future__ import annotations

import numpy as np
import pytest
from _cli import fails
from _litert import images, layer_networks, run_litert, small_networks
from _networks import tiny

import costmodel
from costmodel.cli import main
from costmodel.errors import InputError, SpecError, WeightsError
from costmodel.reference import export_tflite, forward, init_weights, to_tflite
from costmodel.reference.tflite_graph import activation_ranges, lower, quantize
from costmodel.spec.layers import Conv2d, GlobalAvgPool, Linear, Pool2d
from costmodel.spec.network import Network

pytest.importorskip("ai_edge_litert")
pytest.importorskip("flatbuffers")


def _rel_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize(
    "config",
    [
        dict(alpha=0.25, resolution=128),
        dict(alpha=0.5, resolution=96, flavour="keras"),
        dict(alpha=0.25, resolution=97, flavour="keras", shallow=True),  # Keras' (0, 1) padding at odd sizes
        dict(alpha=0.25, resolution=64, flavour="tfslim"),  # no gamma, 1001 classes
        dict(alpha=0.25, resolution=64, flavour="timm"),  # PyTorch's padding=1: PAD then VALID at stride 2
        dict(alpha=0.25, resolution=64, separable=False, num_classes=10),
    ],
)
def test_float32_file_matches_the_executor_and_onnx_runtime(config):
    ort = pytest.importorskip("onnxruntime")
    from costmodel.reference.onnx_export import to_onnx

    net = costmodel.mobilenet_v1(**config)
    weights = init_weights(net, seed=11)
    x = images(net, 2, seed=1)
    data, q = to_tflite(net, weights)
    assert q is None
    got = run_litert(data, x, "default").reshape(2, -1)
    want = forward(net, weights, x)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(to_onnx(net, weights).SerializeToString(), options)
    (onnx_logits,) = session.run(["logits"], {"images": x})
    # Three float32 implementations summing in different orders (all fold batch norm): measured <= 1e-6 apart.
    assert _rel_error(got, want) <= 1e-4
    assert _rel_error(got, onnx_logits) <= 1e-4
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))


@pytest.mark.parametrize("name", [*small_networks(), *layer_networks()])
def test_float32_file_matches_the_executor_on_every_operator(name):
    """Residual ADD (MobileNetV2, MnasNet), CONCATENATION (SqueezeNet, GoogLeNet), PAD, max and average pools,
    adaptive pooling, FC with ReLU, on LiteRT's default and reference kernels."""
    net = {**small_networks(), **layer_networks()}[name]
    weights = init_weights(net, seed=3)
    x = images(net, 3, seed=4, spread=1.2)
    data, _ = to_tflite(net, weights)
    want = forward(net, weights, x).reshape(3, -1)
    for resolver in ("default", "ref"):
        assert _rel_error(run_litert(data, x, resolver).reshape(3, -1), want) <= 1e-4  # measured <= 1e-5


@pytest.mark.parametrize("name", list(small_networks()))
def test_float32_file_matches_onnx_runtime_on_zoo_networks(name):
    """MobileNetV2, MnasNet, SqueezeNet 1.1, GoogLeNet (and MobileNetV1): LiteRT against ONNX Runtime, both
    running their own kernels on files written from the same weights."""
    ort = pytest.importorskip("onnxruntime")
    from costmodel.reference.onnx_export import to_onnx

    net = small_networks()[name]
    weights = init_weights(net, seed=5)
    x = images(net, 2, seed=6)
    data, _ = to_tflite(net, weights)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(to_onnx(net, weights).SerializeToString(), options)
    (want,) = session.run(["logits"], {"images": x})
    assert _rel_error(run_litert(data, x, "default").reshape(2, -1), want) <= 1e-4  # measured <= 1e-5


@pytest.mark.parametrize(
    "name,make",
    [
        ("tiny", lambda: tiny(40)),  # h-swish, SiLU, SE with sigmoid and h-sigmoid gates, FC after FC
        ("mobilenet_v3_small", lambda: costmodel.network("mobilenet_v3_small", resolution=64, num_classes=10)),
        ("efficientnet_b0", lambda: costmodel.network("efficientnet_b0", resolution=48, num_classes=10)),
    ],
)
def test_float32_activations_and_squeeze_excite(name, make):
    """HARD_SWISH, LOGISTIC, MUL (SiLU; SE's broadcast scaling), ADD 3 with ReLU6 then MUL 1/6 (h-sigmoid):
    LiteRT's default and reference kernels against the executor and ONNX Runtime. int8 refuses them by name."""
    ort = pytest.importorskip("onnxruntime")
    from costmodel.reference.onnx_export import to_onnx

    net = make()
    weights = init_weights(net, seed=7)
    x = images(net, 2, seed=3)
    data, _ = to_tflite(net, weights)
    want = forward(net, weights, x)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(to_onnx(net, weights).SerializeToString(), options)
    (onnx_logits,) = session.run(["logits"], {"images": x})
    for resolver in ("default", "ref"):
        got = run_litert(data, x, resolver).reshape(2, -1)
        assert _rel_error(got, want) <= 1e-4  # measured <= 1.3e-6
        assert _rel_error(got, onnx_logits) <= 1e-4
    with pytest.raises(SpecError, match="an int8 (hardswish|logistic)"):
        to_tflite(net, weights, dtype="int8", representative=x)


def _prototype_head(net: Network, weights: dict, samples: np.ndarray) -> dict:
    """Weights whose classifier recognises each sample image as its own class: the FC kernel's columns are the
    samples' centred, normalised features (a nearest-prototype classifier, what a linear layer trained on these
    images approximates). Seeded weights alone give nearly tied logits, where int8 noise decides the top-1."""
    from costmodel.reference.tflite_graph import _trace

    fc = net.nodes[-2] if net.nodes[-1].name == "softmax" else net.nodes[-1]
    features: dict[str, np.ndarray] = {}
    nodes = net.nodes[: net.nodes.index(fc)]
    _trace(nodes, weights, samples, lambda name, y: features.__setitem__("last", y))
    f = features["last"].reshape(len(samples), -1).astype(np.float64)
    centre = f.mean(axis=0)
    w = (f - centre) / np.linalg.norm(f - centre, axis=1, keepdims=True)
    out = dict(weights)
    key = f"{fc.name}/kernel"
    out[key] = w.T.reshape(weights[key].shape).astype(np.float32)  # Keras' classifier: a 1x1 convolution
    out[f"{fc.name}/bias"] = (-(w @ centre)).astype(np.float32)
    return out


def _sample_images(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth synthetic images (8x8 blocks of colour with a little noise), in -1..1."""
    rng = np.random.default_rng(seed)
    cells = -(-size // 8)
    low = rng.uniform(-1, 1, (n, cells, cells, 3))
    img = np.repeat(np.repeat(low, 8, axis=1), 8, axis=2)[:, :size, :size]
    return np.clip(img + rng.normal(0, 0.1, img.shape), -1, 1).astype(np.float32)


@pytest.mark.parametrize("flavour", ["paper", "keras"])
def test_int8_file_top1_agrees_with_float32_on_sample_images(flavour):
    """The sample images and noisy copies of them: the int8 file (calibrated on the samples) and the float32
    network pick the same class for every one."""
    net = costmodel.mobilenet_v1(0.25, 96, num_classes=12, flavour=flavour)
    samples = _sample_images(12, 96, seed=0)
    weights = _prototype_head(net, init_weights(net, seed=2), samples)
    noisy = np.clip(samples + np.random.default_rng(1).normal(0, 0.05, samples.shape), -1, 1).astype(np.float32)
    x = np.concatenate([samples, noisy])
    want = forward(net, weights, x).argmax(1)
    assert (want[:12] == np.arange(12)).all()  # the head recognises its samples (so the test can fail)
    data, q = to_tflite(net, weights, dtype="int8", representative=samples)
    got = run_litert(data, q.quantize_input(x), "default")
    np.testing.assert_array_equal(got.argmax(1), want)


def test_int8_ranges_or_images_give_the_same_file():
    net = costmodel.mobilenet_v1(0.25, 32, num_classes=5)
    weights = init_weights(net)
    rep = images(net, 4, seed=0)
    a, _ = to_tflite(net, weights, dtype="int8", representative=rep)
    b, _ = to_tflite(net, weights, dtype="int8", ranges=activation_ranges(net, weights, rep))
    assert a == b


def test_int8_file_follows_the_quantisation_spec():
    """Read back by LiteRT: int8 weights per channel with zero points 0 (depthwise on axis 3), int32 biases with
    scale input x weight scale, int8 activations, pools keeping their input's quantisation."""
    from ai_edge_litert.interpreter import Interpreter

    net = costmodel.mobilenet_v1(0.25, 32, num_classes=5)
    weights = init_weights(net)
    data, q = to_tflite(net, weights, dtype="int8", representative=images(net, 4, seed=0))
    interpreter = Interpreter(model_content=data)
    details = {d["name"]: d for d in interpreter.get_tensor_details()}
    dw = details["conv_dw_1/weights"]
    assert dw["dtype"] == np.int8 and tuple(dw["shape"]) == (1, 3, 3, 8)
    assert dw["quantization_parameters"]["quantized_dimension"] == 3
    assert len(dw["quantization_parameters"]["scales"]) == 8
    assert not dw["quantization_parameters"]["zero_points"].any()
    w = interpreter.get_tensor(dw["index"])
    assert w.min() >= -127 and np.abs(w).max(axis=(0, 1, 2)).tolist() == [127] * 8  # symmetric, full range
    bias = details["conv_dw_1/bias"]
    assert bias["dtype"] == np.int32
    in_scale = details["conv1"]["quantization_parameters"]["scales"][0]
    np.testing.assert_allclose(
        bias["quantization_parameters"]["scales"], in_scale * dw["quantization_parameters"]["scales"], rtol=1e-6
    )
    assert details["pool"]["quantization"] == details["conv_pw_13"]["quantization"]
    assert all(d["dtype"] in (np.int8, np.int32) for d in details.values())


@pytest.mark.parametrize(
    "layers,match",
    [
        ([Conv2d("c", 4, 8, 3, groups=2), GlobalAvgPool("g")], "grouped"),
        ([Pool2d("p", 3, 2, "avg", 1)], "PyTorch's zero padding"),
    ],
)
def test_unsupported_layers_are_named(layers, match):
    in_ch = layers[0].in_ch if isinstance(layers[0], Conv2d) else 4
    net = Network(layers, 8, in_ch=in_ch)
    with pytest.raises(SpecError, match=match):
        to_tflite(net, init_weights(net))


def test_int8_concatenation_needs_its_own_output_quantisation():
    """A branch ending in a pool keeps its input's quantisation, so it cannot take the concatenation's."""
    from costmodel.spec.layers import Concat

    net = Network([Concat("cat", ((Conv2d("a", 4, 4, 1),), (Pool2d("p", 3, 1, "max", 1),)))], 6, in_ch=4)
    weights = init_weights(net)
    to_tflite(net, weights)  # float32 is fine
    with pytest.raises(SpecError, match="cat: int8 concatenation needs each branch"):
        to_tflite(net, weights, dtype="int8", representative=images(net, 2, seed=0))


def test_bad_arguments():
    net = Network([GlobalAvgPool("g"), Linear("fc", 3, 2)], 4)
    weights = init_weights(net)
    with pytest.raises(InputError, match="dtype must be one of"):
        to_tflite(net, weights, dtype="int4")
    with pytest.raises(InputError, match="either representative images or activation ranges"):
        to_tflite(net, weights, dtype="int8")
    with pytest.raises(InputError, match="for dtype='int8' only"):
        to_tflite(net, weights, representative=images(net, 1, 0))
    with pytest.raises(InputError, match="no activation range for tensor 'fc'"):
        quantize(lower(net, weights), {"input": (-1.0, 1.0), "g": (0.0, 1.0)})
    del weights["fc/kernel"]
    with pytest.raises(WeightsError, match="fc/kernel"):
        to_tflite(net, weights)


def test_export_writes_atomically(tmp_path):
    net = costmodel.mobilenet_v1(0.25, 32, num_classes=3)
    weights = init_weights(net)
    path = export_tflite(net, weights, tmp_path / "m.tflite", dtype="int8", representative=images(net, 2, 0))
    assert path.read_bytes()[4:8] == b"TFL3"
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def test_cli_export_tflite(tmp_path, capsys):
    out = tmp_path / "m.tflite"
    argv = ["export-tflite", "--alpha", "0.25", "--resolution", "32", "--num-classes", "5", "--dtype", "int8",
            "--random-images", "3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "int8" in capsys.readouterr().out
    net = costmodel.mobilenet_v1(0.25, 32, num_classes=5)
    weights = init_weights(net, seed=0)
    x = images(net, 3, seed=0)  # the CLI's calibration images: --seed 0
    want, _ = to_tflite(net, weights, dtype="int8", representative=x)
    assert out.read_bytes() == want
    # The ranges saved with one export make the same file again.
    saved, again = tmp_path / "ranges.json", tmp_path / "again.tflite"
    assert main([*argv, "--save-ranges", str(saved)]) == 0
    argv2 = [*argv[:-4], "--ranges", str(saved), "--out", str(again)]
    assert main(argv2) == 0 and again.read_bytes() == want
    capsys.readouterr()
    bad = ["export-tflite", "--network", "mobilenet_v3_small", "--dtype", "int8", "--out", str(tmp_path / "g.tflite")]
    fails(bad, capsys, "int8 hardswish")
    assert not (tmp_path / "g.tflite").exists()
    argv = ["export-tflite", "--alpha", "0.25", "--random-images", "2", "--out", str(tmp_path / "f.tflite")]
    fails(argv, capsys, "--dtype int8")


def test_too_large_for_a_flatbuffer(monkeypatch, tmp_path):
    from costmodel.errors import CostModelError
    from costmodel.reference import tflite_export

    monkeypatch.setattr(tflite_export, "_MAX_FLATBUFFER", 1000)  # as if the constants passed 2 GiB
    net = costmodel.mobilenet_v1(0.25, 32, num_classes=5)
    with pytest.raises(CostModelError, match="2 GiB limit"):
        export_tflite(net, init_weights(net), tmp_path / "m.tflite")
    assert list(tmp_path.iterdir()) == []


def test_float32_softmax_on_request():
    from costmodel.reference.kernels import softmax

    net = costmodel.mobilenet_v1(0.25, 64, flavour="keras")  # a 1x1 convolution classifier, reshaped, then SOFTMAX
    weights = init_weights(net, seed=1)
    x = images(net, 2, seed=0)
    data, _ = to_tflite(net, weights, softmax=True)
    probabilities = run_litert(data, x, "default")
    np.testing.assert_allclose(probabilities, softmax(forward(net, weights, x)), atol=1e-6)  # measured 7e-9
    with pytest.raises(InputError, match="dtype='float32' only"):
        to_tflite(net, weights, dtype="int8", representative=x, softmax=True)
    bare = Network([GlobalAvgPool("g")], 4)
    with pytest.raises(SpecError, match="not a softmax"):
        to_tflite(bare, init_weights(bare), softmax=True)


def test_graph_blocks_are_refused_by_name_not_lowered_wrongly():
    """The graph types have an explicit refusal (tflite_graph.lower_layer), naming the block, until lowered."""
    from costmodel.errors import SpecError
    from costmodel.reference import init_weights, lower
    from costmodel.spec.layers import ChannelSlice, Graph, Sum

    graph = Graph("g", (ChannelSlice("g.half", 0, 4), Sum("g.s")), ((), ("input", "g.half")))
    net = costmodel.Network([costmodel.Conv2d("c", 3, 4, 3), graph, costmodel.GlobalAvgPool("p")], 8)
    with pytest.raises(SpecError, match="g: Graph is not exported to TFLite yet"):
        lower(net, init_weights(net))
