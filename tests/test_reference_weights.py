"""Weights: seeded initialisation, validated .npz save/load, the Keras .h5 loader, and every bad file."""

from __future__ import annotations

import re

import numpy as np
import pytest

import costmodel
from costmodel.errors import WeightsError
from costmodel.reference import (
    FlavourWarning,
    expected_weights,
    forward,
    init_weights,
    load_keras_h5,
    load_weights,
    save_weights,
    validate_weights,
)

NET = costmodel.mobilenet_v1(0.25, 64, num_classes=10)


def test_expected_keys_follow_keras_groups_and_layouts():
    shapes = expected_weights(NET)
    # Independent of the executor: written out from Table 1 at alpha 0.25 (int(32 * 0.25) = 8, ...).
    assert shapes["conv1/kernel"] == (3, 3, 3, 8)
    assert shapes["conv1_bn/moving_variance"] == (8,)
    assert shapes["conv_dw_1/depthwise_kernel"] == (3, 3, 8, 1)
    assert shapes["conv_pw_1/kernel"] == (1, 1, 8, 16)
    assert shapes["conv_pw_13/kernel"] == (1, 1, 256, 256)
    assert shapes["fc/kernel"] == (256, 10) and shapes["fc/bias"] == (10,)
    # 1 + 13 + 13 convs with 1 kernel + 4 BN arrays each, plus the FC kernel and bias
    assert len(shapes) == 27 * 5 + 2
    full = expected_weights(costmodel.mobilenet_v1(0.25, 64, separable=False))
    assert full["conv_full_1/kernel"] == (3, 3, 8, 16) and "conv_full_1_bn/gamma" in full


def test_init_is_deterministic_and_seed_dependent():
    a, b, c = init_weights(NET, seed=1), init_weights(NET, seed=1), init_weights(NET, seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv1/kernel"], c["conv1/kernel"])
    validate_weights(NET, a)


def test_npz_round_trip(tmp_path):
    w = init_weights(NET, seed=4)
    path = save_weights(NET, w, tmp_path / "w.npz")
    loaded = load_weights(NET, path)
    assert set(loaded) == set(w) and all(np.array_equal(loaded[k], w[k]) for k in w)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left behind


def _broken(w, key, value):
    w = dict(w)
    if value is None:
        del w[key]
    else:
        w[key] = value
    return w


BAD = [
    ("conv_dw_3/depthwise_kernel", None, "missing weights: conv_dw_3/depthwise_kernel"),
    ("conv_dw_99/depthwise_kernel", np.zeros((3, 3, 8, 1), np.float32), "unexpected weights: conv_dw_99"),
    (
        "conv_pw_2/kernel",
        np.zeros((1, 1, 16, 31), np.float32),
        r"conv_pw_2/kernel: expected shape \(1, 1, 16, 32\)",
    ),
    (
        "conv1/kernel",
        np.zeros((3, 3, 3, 8), np.float64),
        "conv1/kernel: expected dtype float32, found float64",
    ),
    ("fc/bias", np.full(10, np.nan, np.float32), "fc/bias: expected finite values, found 10 NaN"),
    (
        "conv1_bn/moving_variance",
        -np.ones(8, np.float32),
        "conv1_bn/moving_variance: expected variances >= 0",
    ),
    ("conv1_bn/gamma", [1.0] * 8, "conv1_bn/gamma: expected a float32 ndarray"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD)
def test_bad_weights_are_named(key, value, message, tmp_path):
    w = _broken(init_weights(NET), key, value)
    with pytest.raises(WeightsError, match=message):
        validate_weights(NET, w)
    with pytest.raises(WeightsError, match=message):
        forward(NET, w, np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(WeightsError, match=message):
        save_weights(NET, w, tmp_path / "w.npz")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_bad_weights_in_a_file_name_the_file_and_the_key(tmp_path):
    w = _broken(init_weights(NET), "conv1/kernel", np.zeros((3, 3, 3, 9), np.float32))
    path = tmp_path / "w.npz"
    np.savez(path, **w)
    with pytest.raises(
        WeightsError, match=r"w\.npz.*conv1/kernel: expected shape \(3, 3, 3, 8\), found \(3, 3, 3, 9\)"
    ):
        load_weights(NET, path)


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(NET, tmp_path / "nope.npz")
    good = save_weights(NET, init_weights(NET), tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        load_weights(NET, tmp_path / "cut.npz")
    (tmp_path / "w.txt").write_text("conv1/kernel = 1\n")
    with pytest.raises(WeightsError, match="neither an .npz, an HDF5"):
        load_weights(NET, tmp_path / "w.txt")
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, **{**init_weights(NET), "conv1/kernel": np.array([object()], dtype=object)})
    with pytest.raises(WeightsError, match="obj.npz"):
        load_weights(NET, pickled)  # allow_pickle=False refuses the object array
    with pytest.raises(WeightsError, match="does not exist"):
        save_weights(NET, init_weights(NET), tmp_path / "no" / "dir" / "w.npz")


def _write_keras_h5(path, weights, nested):
    """A weight file laid out as Keras 2 writes MobileNet's (layer group / layer group / 'var:0')."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if nested else f
        groups: dict[str, dict[str, np.ndarray]] = {}
        for key, value in weights.items():
            group, var = key.split("/")
            if group == "fc":
                group = "conv_preds"
                if var == "kernel":
                    value = value.reshape(1, 1, *value.shape)  # Keras' classifier is a 1x1 conv
            groups.setdefault(group, {})[var] = value
        root.attrs["layer_names"] = [g.encode() for g in groups]
        for group, variables in groups.items():
            g = root.create_group(group)
            g.attrs["weight_names"] = [f"{group}/{v}:0".encode() for v in variables]
            for var, value in variables.items():
                g.create_dataset(f"{group}/{var}:0", data=value)


@pytest.mark.parametrize("nested", [False, True], ids=["weights-file", "whole-model-file"])
def test_keras_h5_loader(tmp_path, nested):
    w = init_weights(NET, seed=9)
    path = tmp_path / "mobilenet_0_25_64_tf.h5"
    _write_keras_h5(path, w, nested)
    with pytest.warns(FlavourWarning, match="holds keras weights, run as paper: padding"):
        loaded = load_weights(NET, path)  # the paper's network: Keras' padding, ReLU6 differ
    assert set(loaded) == set(w) and all(np.array_equal(loaded[k], w[k]) for k in w)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(forward(NET, loaded, x), forward(NET, w, x))


def test_keras_h5_with_wrong_shapes_and_truncation(tmp_path):
    w = _broken(init_weights(NET), "conv_pw_5_bn/beta", np.zeros(7, np.float32))
    path = tmp_path / "bad.h5"
    _write_keras_h5(path, w, nested=False)
    assert load_keras_h5(path)["conv_pw_5_bn/beta"].shape == (7,)
    with pytest.raises(WeightsError, match=r"conv_pw_5_bn/beta: expected shape \(64,\), found \(7,\)"):
        load_weights(costmodel.mobilenet_v1(0.25, 64, num_classes=10, flavour="keras"), path)
    good = tmp_path / "good.h5"
    _write_keras_h5(good, init_weights(NET), nested=False)
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(WeightsError, match="cut.h5"):
        load_weights(NET, tmp_path / "cut.h5")


# --- a weight file is read only from itself (HDF5 external storage, external links, virtual datasets) ---------


def _keras_file_with(tmp_path, how):
    """A valid Keras 2 file of NET whose ``conv1`` kernel is replaced by ``how``: its bytes in another file
    (external raw storage), an external link to a dataset of another HDF5 file, a virtual dataset mapping one,
    or a filter that HDF5 would load as a plugin. The other file holds exactly the kernel NET expects, so
    only the confinement rule can refuse it."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "w.h5"
    save_weights(NET, init_weights(NET), path, format="keras")
    kernel = init_weights(NET, seed=5)["conv1/kernel"]
    name = "conv1/conv1/kernel:0"
    with h5py.File(path, "a") as f:
        del f[name]
        if how == "external-storage":
            secret = tmp_path / "secret.bin"
            secret.write_bytes(kernel.tobytes())
            f.create_dataset(name, shape=kernel.shape, dtype="f4", external=[(str(secret), 0, kernel.nbytes)])
        elif how in ("external-link", "virtual"):
            other = tmp_path / "other.h5"
            with h5py.File(other, "w") as o:
                o["k"] = kernel
            if how == "external-link":
                f[name] = h5py.ExternalLink(str(other), "/k")
            else:
                layout = h5py.VirtualLayout(shape=kernel.shape, dtype="f4")
                layout[...] = h5py.VirtualSource(str(other), "k", shape=kernel.shape)
                f.create_virtual_dataset(name, layout)
        else:  # a filter no HDF5 build has: reading would search the plugin path for a library to load
            f.create_dataset(name, data=kernel, chunks=kernel.shape, compression=30999, allow_unknown_filter=True)
    return path


CONFINEMENT = [
    ("external-storage", "keeps its data in external file(s)"),
    ("external-link", "is an external link to"),
    ("virtual", "is a virtual dataset"),
    ("plugin-filter", "filter 30999"),
]


@pytest.mark.parametrize(("how", "message"), CONFINEMENT, ids=[c[0] for c in CONFINEMENT])
def test_every_reader_refuses_an_h5_that_reads_other_files(tmp_path, capsys, how, message):
    from _cli import fails

    from costmodel.reference import convert_weights, load_network

    path = _keras_file_with(tmp_path, how)
    named = "/conv1/conv1/kernel:0"
    for read in (lambda: load_weights(NET, path), lambda: load_network(path), lambda: load_keras_h5(path)):
        with pytest.raises(WeightsError, match=re.escape(message)) as info:
            read()
        assert named in str(info.value) and "w.h5" in str(info.value)
    target = tmp_path / "out.npz"
    with pytest.raises(WeightsError, match=re.escape(message)):
        convert_weights(path, target, "npz")
    assert not target.exists()
    fails(["convert-weights", str(path), str(target), "--to", "timm"], capsys, message, named)
    fails(["run", "--weights", str(path), "--repeats", "1"], capsys, message, named)
    assert not target.exists()


def test_soft_links_inside_the_file_are_read(tmp_path):
    """A soft link names a path in the same file (every link of which is checked): it is followed."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "w.h5"
    w = init_weights(NET, seed=2)
    save_weights(NET, w, path, format="keras")
    with h5py.File(path, "a") as f:
        f["conv1/spare"] = f["conv1/conv1/kernel:0"][()]
        del f["conv1/conv1/kernel:0"]
        f["conv1/conv1/kernel:0"] = h5py.SoftLink("/conv1/spare")  # listed in weight_names, read through the link
    loaded = load_keras_h5(path)
    assert np.array_equal(loaded["conv1/kernel"], w["conv1/kernel"])
