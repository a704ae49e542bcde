"""Weight files in each framework's layout, written here with h5py and safetensors only (never a framework),
from the layouts as each framework's source writes them (see data/README.md): the flavour is told by the
layout, and every flavour's forward pass matches the loop oracle with that flavour's padding and epsilon, at
even and odd resolutions. Round trips between layouts are exact; what a layout cannot hold is named."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest
from _reference_oracle import FLAVOURS as ORACLE_FLAVOURS
from _reference_oracle import oracle_forward
from safetensors.numpy import save_file

import costmodel
from costmodel.errors import WeightsError
from costmodel.reference import (
    FlavourWarning,
    convert_weights,
    forward,
    init_weights,
    load_network,
    load_weights,
    save_weights,
)

BN = ("gamma", "beta", "moving_mean", "moving_variance")
TIMM_BN = ("weight", "bias", "running_mean", "running_var")
TIMM_STAGES = (1, 2, 2, 6, 2)  # timm's mobilenetv1_100: blocks.<stage>.<i>


def _keras_layers(net, weights):
    """[(keras layer name, keras class, [(variable name, array)])] in model order, as keras.applications.MobileNet
    builds them: conv1, conv1_bn, conv_dw_i, conv_dw_i_bn, conv_pw_i, conv_pw_i_bn, ..., conv_preds."""
    out = []
    for node in net:
        name, layer = node.name, node.layer
        if name.startswith("conv_dw_"):
            out.append((name, "depthwise_conv2d", [("depthwise_kernel", weights[f"{name}/depthwise_kernel"])]))
        elif name.startswith("conv"):
            out.append((name, "conv2d", [("kernel", weights[f"{name}/kernel"])]))
        elif name == "fc":
            kernel = weights["fc/kernel"].reshape(1, 1, layer.in_ch, layer.out_ch)  # a 1x1 Conv2D in Keras
            out.append(("conv_preds", "conv2d", [("kernel", kernel), ("bias", weights["fc/bias"])]))
        if name.startswith("conv"):
            out.append((f"{name}_bn", "batch_normalization", [(v, weights[f"{name}_bn/{v}"]) for v in BN]))
    return out


def write_keras2(path, net, weights):
    """Keras 2 save_weights HDF5: a group per layer, weight_names 'conv_dw_1/depthwise_kernel:0'."""
    layers = _keras_layers(net, weights)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name, _, _ in layers]
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        for name, _, variables in layers:
            g = f.create_group(name)
            g.attrs["weight_names"] = [f"{name}/{v}:0".encode() for v, _ in variables]
            for v, value in variables:
                g.create_dataset(f"{name}/{v}:0", data=value)


def write_keras3_legacy(path, net, weights):
    """Keras 3's legacy HDF5 writer (model.save('x.h5')): model_weights/<layer>, names from Variable.path with no
    ':0', and the depthwise kernel called 'kernel'."""
    layers = _keras_layers(net, weights)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "3.15.1"
        f.attrs["model_config"] = json.dumps({"class_name": "Functional", "config": {"name": "mobilenet_0.25_65"}})
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = ["input_layer", *(name for name, _, _ in layers)]
        root.attrs["keras_version"] = "3.15.1"
        root.create_group("input_layer").attrs["weight_names"] = np.array([], dtype=np.float64)
        for name, _, variables in layers:
            g = root.create_group(name)
            names = [f"{name}/{'kernel' if v == 'depthwise_kernel' else v}" for v, _ in variables]
            g.attrs["weight_names"] = names
            for n, (_, value) in zip(names, variables, strict=True):
                g.create_dataset(n, data=value)
        root.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype=np.float64)


def write_keras3(path, net, weights, model_name, names=True):
    """Keras 3 .weights.h5: layers/<snake-case class>[_k]/vars/<i>, numbered per class in model order; newer
    Keras writes the layer name as the vars group's 'name' attribute (names=False: an older file)."""
    counts: dict[str, int] = {}
    with h5py.File(path, "w") as f:
        root = f.create_group("vars")
        if model_name:
            root.attrs["name"] = model_name
        f.create_group("layers/activation/vars").attrs["name"] = "predictions"  # a layer with no variables
        for name, cls, variables in _keras_layers(net, weights):
            k = counts.get(cls, 0)
            counts[cls] = k + 1
            g = f.create_group(f"layers/{cls if k == 0 else f'{cls}_{k}'}/vars")
            if names:
                g.attrs["name"] = name
            for i, (_, value) in enumerate(variables):
                g.create_dataset(str(i), data=value)


def write_timm(path, net, weights):
    """timm mobilenetv1_100 state_dict as safetensors: OIHW kernels, BN weight/bias/running_*, a
    num_batches_tracked counter per batch norm, classifier (classes, features)."""
    t = {"conv_stem.weight": weights["conv1/kernel"].transpose(3, 2, 0, 1)}
    bns = [("conv1_bn", "bn1")]
    block = 0
    for stage, size in enumerate(TIMM_STAGES):
        for i in range(size):
            block += 1
            prefix = f"blocks.{stage}.{i}"
            t[f"{prefix}.conv_dw.weight"] = weights[f"conv_dw_{block}/depthwise_kernel"].transpose(2, 3, 0, 1)
            t[f"{prefix}.conv_pw.weight"] = weights[f"conv_pw_{block}/kernel"].transpose(3, 2, 0, 1)
            bns += [(f"conv_dw_{block}_bn", f"{prefix}.bn1"), (f"conv_pw_{block}_bn", f"{prefix}.bn2")]
    for ours, theirs in bns:
        for v, tv in zip(BN, TIMM_BN, strict=True):
            t[f"{theirs}.{tv}"] = weights[f"{ours}/{v}"]
        t[f"{theirs}.num_batches_tracked"] = np.array(0, np.int64)
    t["classifier.weight"] = weights["fc/kernel"].T
    t["classifier.bias"] = weights["fc/bias"]
    save_file({k: np.ascontiguousarray(v) for k, v in t.items()}, str(path), metadata={"format": "pt"})


def _images(r, n=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, r, r, 3)).astype(np.float32)


def _check_against_oracle(net, weights, flavour):
    x = _images(net.input_size)
    convention, eps, gamma = ORACLE_FLAVOURS[flavour]
    want = oracle_forward(net, weights, x, convention, eps, gamma=gamma)
    # float32 network vs float64 oracle: as tests/test_reference_executor.py
    np.testing.assert_allclose(forward(net, weights, x), want, rtol=0, atol=1e-4 * np.abs(want).max())


KERAS_WRITERS = {
    "keras2": lambda p, n, w: write_keras2(p, n, w),
    "keras3-legacy": lambda p, n, w: write_keras3_legacy(p, n, w),
    "keras3": lambda p, n, w: write_keras3(p, n, w, f"mobilenet_0.25_{n.input_size}"),
    "keras3-no-names": lambda p, n, w: write_keras3(p, n, w, None, names=False),
}


@pytest.mark.parametrize("resolution", [64, 65])
@pytest.mark.parametrize("layout", KERAS_WRITERS)
def test_keras_files_load_as_the_keras_flavour_and_match_the_oracle(tmp_path, layout, resolution):
    net = costmodel.mobilenet_v1(0.25, resolution, num_classes=10, flavour="keras")
    weights = init_weights(net, seed=11)
    path = tmp_path / f"mobilenet_2_5_{resolution}_tf.h5"  # Keras' file name carries alpha and resolution
    KERAS_WRITERS[layout](path, net, weights)
    loaded_net, loaded = load_network(path)
    assert loaded_net.config["flavour"] == "keras" and loaded_net.config["activation"] == "relu6"
    assert (loaded_net.config["alpha"], loaded_net.input_size, loaded_net.out_ch) == (0.25, resolution, 10)
    assert loaded_net.nodes == net.nodes
    assert set(loaded) == set(weights) and all(np.array_equal(loaded[k], weights[k]) for k in weights)
    _check_against_oracle(loaded_net, loaded, "keras")


@pytest.mark.parametrize("resolution", [64, 65])
def test_timm_safetensors_load_as_the_timm_flavour_and_match_the_oracle(tmp_path, resolution):
    net = costmodel.mobilenet_v1(0.25, resolution, num_classes=10, flavour="timm")
    weights = init_weights(net, seed=12)
    path = tmp_path / "model.safetensors"
    write_timm(path, net, weights)
    loaded_net, loaded = load_network(path, resolution=resolution)
    assert (loaded_net.config["flavour"], loaded_net.config["activation"]) == ("timm", "relu6")
    assert loaded_net.nodes == net.nodes
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights) and set(loaded) == set(weights)
    _check_against_oracle(loaded_net, loaded, "timm")


@pytest.mark.parametrize("resolution", [64, 65])
@pytest.mark.parametrize("flavour", ["paper", "tfslim"])
def test_npz_records_its_flavour_and_matches_the_oracle(tmp_path, flavour, resolution):
    net = costmodel.mobilenet_v1(0.25, resolution, flavour=flavour)
    weights = init_weights(net, seed=13)
    path = save_weights(net, weights, tmp_path / "w.npz")
    loaded_net, loaded = load_network(path)
    assert loaded_net.nodes == net.nodes and loaded_net.config["flavour"] == flavour
    _check_against_oracle(loaded_net, loaded, flavour)


def test_keras_at_0_5_200_has_12x12_and_6x6_maps_and_the_oracle_agrees(tmp_path):
    net = costmodel.mobilenet_v1(0.5, 200, num_classes=8, flavour="keras")
    assert (net["conv_dw_6"].out_size, net["conv_dw_12"].out_size) == (12, 6)
    weights = init_weights(net, seed=14)
    path = tmp_path / "m.weights.h5"
    write_keras3(path, net, weights, "mobilenet_0.50_200")
    loaded_net, loaded = load_network(path)
    assert loaded_net.input_size == 200 and loaded_net["conv_dw_12"].out_size == 6
    x = _images(200, n=1)
    want = oracle_forward(loaded_net, loaded, x, "keras", 1e-3)
    np.testing.assert_allclose(forward(loaded_net, loaded, x), want, rtol=0, atol=1e-4 * np.abs(want).max())


# --- round trips and what a layout cannot hold ---------------------------------------------------------------


def _same_arrays(a, b):
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


@pytest.mark.parametrize("fmt", ["keras", "keras3", "safetensors"])
@pytest.mark.parametrize("flavour", ["paper", "keras", "timm"])
def test_npz_to_each_layout_and_back_is_exact(tmp_path, flavour, fmt):
    net = costmodel.mobilenet_v1(0.25, 65, flavour=flavour)
    weights = init_weights(net, seed=15)
    npz = save_weights(net, weights, tmp_path / "a.npz")
    other = save_weights(net, load_weights(net, npz), tmp_path / f"b.{fmt}", format=fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FlavourWarning)  # costmodel records the flavour it wrote for
        back_net, back = load_network(other)
    assert back_net.nodes == net.nodes
    _same_arrays(back, weights)


def test_keras_to_safetensors_to_keras_is_exact_and_says_what_differs(tmp_path):
    net = costmodel.mobilenet_v1(0.25, 65, flavour="keras")
    weights = init_weights(net, seed=16)
    keras = tmp_path / "mobilenet_2_5_65_tf.h5"
    write_keras2(keras, net, weights)
    timm_net, notes = convert_weights(keras, tmp_path / "m.safetensors", "timm")
    assert timm_net.config["flavour"] == "timm"
    assert any("padding: 'keras' -> 'torch'" in n and "bn_epsilon: 0.001 -> 1e-05" in n for n in notes)
    _, notes = convert_weights(tmp_path / "m.safetensors", tmp_path / "back.h5", "keras", resolution=65)
    back_net, back = load_network(tmp_path / "back.h5")
    assert back_net.nodes == net.nodes
    _same_arrays(back, weights)
    # the Keras file itself, as Keras wrote it: every dataset carried over
    with h5py.File(keras) as a, h5py.File(tmp_path / "back.h5") as b:
        for name in a.attrs["layer_names"]:
            for wn in a[name].attrs["weight_names"]:
                np.testing.assert_array_equal(a[name][wn][()], b[name][wn][()])


def test_a_batch_norm_without_gamma_is_named_when_written_and_refused_when_it_would_be_lost(tmp_path):
    tfslim = costmodel.mobilenet_v1(0.25, 64, flavour="tfslim")
    weights = init_weights(tfslim, seed=17)
    assert not any(k.endswith("/gamma") for k in weights)
    with pytest.warns(UserWarning, match="without gamma written with gamma = 1"):
        path = save_weights(tfslim, weights, tmp_path / "t.h5", format="keras")
    with h5py.File(path) as f:
        assert np.all(f["conv1_bn"]["conv1_bn/gamma:0"][()] == 1)
    # gamma = 1 drops back out exactly; any other gamma cannot be dropped
    _same_arrays(load_network(path)[1], weights)
    keras = costmodel.mobilenet_v1(0.25, 64, num_classes=1001, flavour="keras")
    path = save_weights(keras, init_weights(keras, seed=18), tmp_path / "k.h5", format="keras")
    with pytest.raises(WeightsError, match="conv1_bn/gamma: .* has no batch-norm gamma"), pytest.warns(FlavourWarning):
        load_weights(tfslim, path)


# --- overrides, inference from the file, bad files -----------------------------------------------------------


def test_a_contradicting_flavour_or_activation_warns_what_will_differ(tmp_path):
    net = costmodel.mobilenet_v1(0.25, 64, flavour="keras")
    path = tmp_path / "mobilenet_2_5_64_tf.h5"
    write_keras2(path, net, init_weights(net))
    with pytest.warns(FlavourWarning, match=r"padding: 'keras' -> 'torch'; bn_epsilon: 0.001 -> 1e-05"):
        timm_net, _ = load_network(path, flavour="timm")
    assert timm_net.config["flavour"] == "timm" and timm_net["conv_dw_2"].layer.padding == 1
    with pytest.warns(FlavourWarning, match="activation: 'relu6' -> 'relu'"):
        relu_net, _ = load_network(path, activation="relu")
    assert relu_net["conv1"].layer.activation == "relu" and relu_net["conv_dw_2"].layer.padding == (0, 1)


def test_given_alpha_or_resolution_that_contradict_the_file_are_errors(tmp_path):
    net = costmodel.mobilenet_v1(0.25, 64, flavour="keras")
    path = tmp_path / "mobilenet_2_5_64_tf.h5"
    write_keras2(path, net, init_weights(net))
    with pytest.raises(WeightsError, match="holds alpha 0.25 weights, not alpha 0.5"):
        load_network(path, alpha=0.5)
    with pytest.raises(WeightsError, match="made for resolution 64, not 160"):
        load_network(path, resolution=160)
    assert load_network(path, alpha=0.25, resolution=64)[0].input_size == 64
    with pytest.raises(WeightsError, match="holds a 1000-class classifier, not one of 10 classes"):
        load_network(path, num_classes=10)
    assert load_network(path, num_classes=1000)[0]["fc"].layer.out_ch == 1000  # Keras: a 1x1 convolution
    wrong_name = tmp_path / "mobilenet_5_0_64_tf.h5"
    path.rename(wrong_name)
    with pytest.raises(WeightsError, match="name says alpha 0.5, its shapes alpha 0.25"):
        load_network(wrong_name)


def test_bad_timm_and_keras3_files_name_what_is_wrong(tmp_path):
    net = costmodel.mobilenet_v1(0.25, 64, flavour="timm")
    w = init_weights(net)
    path = tmp_path / "x.safetensors"
    write_timm(path, net, w)
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    save_file({**tensors, "conv_head.weight": np.zeros((4, 4, 1, 1), np.float32)}, str(path))
    with pytest.raises(WeightsError, match="'conv_head.weight'.* not part of mobilenetv1_100"):
        load_network(path)
    save_file({**tensors, "classifier.bias": np.zeros(1000, np.int32)}, str(path))
    with pytest.raises(WeightsError, match="classifier.bias.*dtype"):
        load_network(path)
    keras = costmodel.mobilenet_v1(0.25, 64, flavour="keras")
    k3 = tmp_path / "k.weights.h5"
    write_keras3(k3, keras, init_weights(keras), None)
    with h5py.File(k3, "a") as f:
        f.create_group("layers/dense/vars").create_dataset("0", data=np.zeros((2, 2), np.float32))
        f["layers/dense/vars"].attrs["name"] = "conv_pw_1"
    with pytest.raises(WeightsError, match="both map to weight 'conv_pw_1/kernel'"):
        load_network(k3)


def test_cli_run_picks_the_files_flavour_and_convert_weights_writes_each_layout(tmp_path, capsys):
    from costmodel.cli import main

    net = costmodel.mobilenet_v1(0.25, 65, num_classes=10, flavour="timm")
    path = tmp_path / "m.safetensors"
    write_timm(path, net, init_weights(net))
    assert main(["run", "--weights", str(path), "--resolution", "65", "--repeats", "1"]) == 0
    out, err = capsys.readouterr()
    assert "MobileNetV1 0.25-65 [timm]" in out and err == ""
    target = tmp_path / "m.h5"
    assert main(["convert-weights", str(path), str(target), "--to", "keras"]) == 0
    out, _ = capsys.readouterr()
    assert "keras layout" in out and "padding: 'torch' -> 'keras'" in out
    assert main(["run", "--weights", str(target), "--flavour", "timm", "--repeats", "1"]) == 0
    out, err = capsys.readouterr()
    assert "[timm]" in out and "warning" in err and "padding: 'keras' -> 'torch'" in err


@pytest.mark.parametrize("variant", [dict(shallow=True), dict(separable=False), dict(shallow=True, separable=False)])
@pytest.mark.parametrize("fmt", ["npz", "keras", "keras3"])
def test_the_variant_is_read_from_the_layer_names(tmp_path, variant, fmt):
    net = costmodel.mobilenet_v1(0.5, 64, flavour="keras", **variant)
    weights = init_weights(net, seed=19)
    path = save_weights(net, weights, tmp_path / f"v.{fmt}", format=fmt)
    back_net, back = load_network(path)
    assert back_net.nodes == net.nodes
    _same_arrays(back, weights)


def test_a_converted_file_gives_the_same_logits_when_run_as_its_source_flavour(tmp_path):
    """Conversion moves arrays, not numerics: keras -> timm layout, then run as keras again, is bit-identical;
    run as timm (its padding, epsilon) the logits differ, as convert_weights said."""
    net = costmodel.mobilenet_v1(0.25, 65, num_classes=10, flavour="keras")
    weights = init_weights(net, seed=20)
    source = save_weights(net, weights, tmp_path / "k.h5", format="keras")
    _, notes = convert_weights(source, tmp_path / "t.safetensors", "timm")
    x = _images(65)
    with pytest.warns(FlavourWarning):
        as_keras, w = load_network(tmp_path / "t.safetensors", flavour="keras")
    np.testing.assert_array_equal(forward(as_keras, w, x), forward(net, weights, x))
    as_timm, w = load_network(tmp_path / "t.safetensors")
    assert as_timm.config["flavour"] == "timm"
    assert np.abs(forward(as_timm, w, x) - forward(net, weights, x)).max() > 1e-3
