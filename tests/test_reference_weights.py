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


# --- what a file records must be of the right type; sizes are bounded by the memory limit ------------------


def _npz_with_meta(path, meta_text, weights=None):
    """An .npz of NET's weights whose __costmodel__ entry is ``meta_text`` (written as save_weights does)."""
    arrays = dict(weights if weights is not None else init_weights(NET))
    np.savez(path, **arrays, __costmodel__=np.array(meta_text))
    return path


BAD_NPZ_META = [
    ("[1, 2]", "must be a JSON object"),
    ("42", "must be a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nests 100000 levels deep"),
    ('{"alpha": "0.25"}', "recorded alpha must be a finite number > 0, got '0.25'"),
    ('{"resolution": 0}', "recorded resolution must be an integer in 1..2,147,483,647, got 0"),
    ('{"resolution": 64.5}', "recorded resolution must be an integer"),
    ('{"flavour": ["keras"]}', "recorded flavour must be a name"),
]


@pytest.mark.parametrize(("meta", "message"), BAD_NPZ_META, ids=["list", "number", "deep", "alpha-str", "res-0",
                                                                 "res-float", "flavour-list"])  # fmt: skip
def test_npz_metadata_of_the_wrong_type_is_a_weights_error(tmp_path, capsys, meta, message):
    from _cli import fails

    from costmodel.reference import convert_weights, load_network

    path = _npz_with_meta(tmp_path / "w.npz", meta)
    with pytest.raises(WeightsError, match=re.escape(message)):
        load_network(path)
    with pytest.raises(WeightsError, match=re.escape(message)):
        load_weights(NET, path)
    with pytest.raises(WeightsError, match=re.escape(message)):
        convert_weights(path, tmp_path / "out.h5", "keras")
    fails(["run", "--weights", str(path), "--repeats", "1"], capsys, message[:30])


def test_a_recorded_resolution_is_used_as_recorded(tmp_path):
    """Not a truthiness test: a recorded resolution is the network's (0 is refused above, never 224)."""
    from costmodel.reference import load_network

    net, _ = load_network(_npz_with_meta(tmp_path / "w.npz", '{"resolution": 65}'))
    assert net.input_size == 65


def test_a_0d_or_3d_classifier_kernel_is_named(tmp_path, capsys):
    from _cli import fails

    from costmodel.reference import convert_weights, load_network

    for shape in [(), (256, 10, 1)]:
        w = dict(init_weights(NET))
        w["fc/kernel"] = np.zeros(shape, np.float32)
        path = _npz_with_meta(tmp_path / "w.npz", "{}", w)
        with pytest.raises(WeightsError, match=re.escape(f"fc/kernel has shape {shape}")):
            load_network(path)
        with pytest.raises(WeightsError, match=re.escape(f"fc/kernel has shape {shape}")):
            convert_weights(path, tmp_path / "o.npz", "npz")
        fails(["run", "--weights", str(path)], capsys, "fc/kernel has shape")


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("vars/name", 7, "vars/name must be text, got int64"),
        ("vars/name", [b"a", b"b"], "vars/name must be text, got ndarray"),
        ("costmodel_resolution", b"0", "recorded resolution must be an integer in 1..2,147,483,647, got 0"),
        ("costmodel_alpha", b"wide", "recorded costmodel_alpha must be a float written as text, got 'wide'"),
        ("costmodel_alpha", 0.5, "costmodel_alpha must be text, got float64"),
    ],
)
def test_hdf5_attributes_of_the_wrong_type_are_named(tmp_path, capsys, where, value, message):
    from _cli import fails

    from costmodel.reference import load_network

    h5py = pytest.importorskip("h5py")
    path = tmp_path / "w.weights.h5"
    save_weights(NET, init_weights(NET), path, format="keras3")
    with h5py.File(path, "a") as f:
        if where == "vars/name":
            f["vars"].attrs["name"] = value
        else:
            f.attrs[where] = value
    with pytest.raises(WeightsError, match=re.escape(message)) as info:
        load_network(path)
    assert "w.weights.h5" in str(info.value)
    fails(["convert-weights", str(path), str(tmp_path / "o.npz"), "--to", "npz"], capsys, message)


def test_a_keras_model_config_with_a_name_that_is_not_text_is_ignored(tmp_path):
    """Keras' model_config is Keras' own: a name that is not text (or deep JSON) gives no α or resolution."""
    h5py = pytest.importorskip("h5py")
    for config in ['{"config": {"name": 5}}', '{"config": [1]}', "[" * 1000 + "]" * 1000]:
        path = tmp_path / "w.h5"
        save_weights(NET, init_weights(NET), path, format="keras")
        with h5py.File(path, "a") as f:
            f.attrs["model_config"] = config
            for k in ("costmodel_alpha", "costmodel_resolution"):
                del f.attrs[k]
        if config.startswith("[["):
            with pytest.raises(WeightsError, match="model_config nests 1000 levels deep"):
                load_keras_h5(path)
        else:
            assert set(load_keras_h5(path)) == set(expected_weights(NET))


def test_run_weights_with_alpha_nan_is_one_line(tmp_path, capsys):
    from _cli import fails

    path = tmp_path / "w.npz"
    save_weights(NET, init_weights(NET), path)
    fails(["run", "--weights", str(path), "--alpha", "nan"], capsys)


def test_memory_limit_bounds_a_weight_files_declared_arrays(tmp_path, capsys):
    """--memory-limit (and memory_limit=) applies to the arrays a file declares, as the limits table says."""
    from _cli import fails

    from costmodel.reference import convert_weights, load_network

    path = tmp_path / "w.npz"
    save_weights(NET, init_weights(NET), path)
    declared = sum(v.nbytes for v in init_weights(NET).values())  # about 0.9 MB
    limit = str(int(1.5 * declared))  # holds one copy, not the two reading holds, nor the four converting holds
    with pytest.raises(WeightsError, match="over the memory limit"):
        load_weights(NET, path, memory_limit=limit)
    with pytest.raises(WeightsError, match="over the memory limit"):
        load_network(path, memory_limit=int(limit))
    assert load_weights(NET, path, memory_limit=3 * declared).keys() == init_weights(NET).keys()
    with pytest.raises(WeightsError, match=re.escape("4 copies of them at once")):
        convert_weights(path, tmp_path / "o.safetensors", "timm", memory_limit=3 * declared)
    fails(["run", "--weights", str(path), "--memory-limit", limit], capsys, "declares", "over the memory limit")
    fails(["convert-weights", str(path), str(tmp_path / "o.h5"), "--to", "keras", "--memory-limit", limit], capsys,
          "declares", "over the memory limit")  # fmt: skip
    assert not (tmp_path / "o.h5").exists() and not (tmp_path / "o.safetensors").exists()


def test_a_sparse_safetensors_declaring_gigabytes_is_refused_before_reading(tmp_path, capsys):
    """A 3.5 GB tensor declared in a sparse file (no data on disk): converting it would hold 4 copies."""
    import json
    import struct

    from _cli import fails

    n = 875_000_000  # float32: 3.5 GB
    header = json.dumps({"classifier.weight": {"dtype": "F32", "shape": [1000, n // 1000], "data_offsets": [0, 4 * n]}})
    header += " " * (-len(header) % 8)
    path = tmp_path / "sparse.safetensors"
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header.encode())
        f.truncate(8 + len(header) + 4 * n)  # sparse: nothing written
    fails(["convert-weights", str(path), str(tmp_path / "o.npz"), "--to", "npz"], capsys, "declares 3.3 GiB",
          "4 copies of them at once: 13.0 GiB")  # fmt: skip
    fails(["run", "--weights", str(path)], capsys, "declares 3.3 GiB", "2 copies of them at once: 6.5 GiB")


@pytest.mark.parametrize("to", ["npz", "keras", "keras3", "timm"])
def test_a_conversion_holds_at_most_the_copies_its_limit_counts(tmp_path, to):
    """The copies the limit counts are an upper bound on the memory a conversion takes (traced by Python's
    tracemalloc, which sees NumPy's and Python's allocations)."""
    import tracemalloc

    from costmodel.reference import convert_weights
    from costmodel.reference.layouts import CONVERT_COPIES

    net = costmodel.mobilenet_v1(0.5, 64)
    w = init_weights(net)
    path = tmp_path / "w.npz"
    save_weights(net, w, path)
    declared = sum(v.nbytes for v in w.values())
    tracemalloc.start()
    try:
        convert_weights(path, tmp_path / f"o.{to}", to)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= CONVERT_COPIES * declared, (peak / declared, to)


def test_convert_to_keras_without_h5py_says_what_to_install(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "w.npz"
    save_weights(NET, init_weights(NET), path)
    target = tmp_path / "o.h5"
    code = (
        "import sys; sys.modules['h5py'] = None\n"
        "from costmodel.cli import main\n"
        f"main(['convert-weights', {str(path)!r}, {str(target)!r}, '--to', 'keras'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "needs h5py: pip install 'costmodel[h5]'" in done.stderr
    assert not target.exists()
