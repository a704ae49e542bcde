"""Resource limits: refuse before allocating (memory estimate, image pixels, weight-file headers), one line each."""

from __future__ import annotations

import io
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

from costmodel import mobilenet_v1
from costmodel.cli import main
from costmodel.errors import CostModelError, InputError, WeightsError
from costmodel.reference import forward, init_weights, load_weights, prepare, save_weights
from costmodel.reference.images import read_image
from costmodel.reference.limits import (
    DEFAULT_MEMORY_LIMIT,
    check_memory,
    executor_bytes,
    export_bytes,
    memory_limit,
    parse_bytes,
)


def _fails(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- the memory estimate -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alpha", "resolution", "batch"), [(0.25, 128, 8), (0.5, 97, 2), (1.0, 160, 1)])
def test_executor_estimate_bounds_what_numpy_allocates(alpha, resolution, batch):
    """The estimate from the memory model is an upper bound on the traced peak of weights + prepare + a forward
    pass, and not a wild one (measured 1.3-1.6x)."""
    net = mobilenet_v1(alpha, resolution)
    x = np.zeros((batch, resolution, resolution, 3), np.float32)
    tracemalloc.start()
    try:
        weights = init_weights(net)
        forward(net, prepare(net, weights, threads=1), x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = executor_bytes(net, batch)
    assert peak <= estimate <= 2.5 * peak, (peak, estimate)


def test_export_estimate_counts_every_weight_copy():
    net = mobilenet_v1(0.5, 128)
    from costmodel.counting.memory import memory

    assert export_bytes(net) == 24 * memory(net).weight_elements


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4096", 4096),
        ("4G", 4 * 10**9),
        ("4Gi", 4 * 2**30),
        ("1.5M", 1_500_000),
        ("2e9", 2 * 10**9),
        ("512 MiB", 2**29),
    ],
)
def test_sizes_parse(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "-1G", "0", "nan", "inf", "1e400", "4X", "1" + "0" * 30])
def test_bad_sizes_are_input_errors(text):
    with pytest.raises(InputError):
        parse_bytes(text)


def test_limit_from_option_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("COSTMODEL_MEMORY_LIMIT", raising=False)
    assert memory_limit() == DEFAULT_MEMORY_LIMIT
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "16G")
    assert memory_limit() == 16 * 10**9
    assert memory_limit("1Gi") == 2**30
    with pytest.raises(InputError, match="over the memory limit"):
        check_memory(2 * 10**9, "this", limit=10**9)


@pytest.mark.parametrize(
    "argv",
    [
        ["profile", "--batch", "100000"],
        ["run", "--alpha", "20", "--resolution", "2000"],
        ["export-onnx", "--alpha", "30", "--out", "{tmp}/m.onnx"],
        ["run", "--alpha", "0.25", "--resolution", "32", "--memory-limit", "1M"],
    ],
)
def test_commands_refuse_before_allocating(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("COSTMODEL_MEMORY_LIMIT", raising=False)
    tracemalloc.start()
    try:
        err = _fails(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "over the memory limit" in err and "--memory-limit" in err
    assert peak < 50 * 2**20  # refused from the spec, not after allocating weights or images
    assert list(tmp_path.iterdir()) == []


def test_environment_variable_raises_the_limit(capsys, monkeypatch):
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "1M")
    _fails(capsys, "run", "--alpha", "0.25", "--resolution", "32", "--repeats", "1")
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "1G")
    assert main(["run", "--alpha", "0.25", "--resolution", "32", "--repeats", "1"]) == 0


# --- weight files: sizes from headers, before any data --------------------------------------------------------


def _npy(array_header_shape: tuple[int, ...], payload: bytes = b"") -> bytes:
    """An .npy member whose header declares ``shape`` (float32), followed by ``payload``."""
    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": array_header_shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + payload


def test_npz_claiming_gigabytes_is_refused_unread(tmp_path):
    path = tmp_path / "claims.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conv1/kernel.npy", _npy((2_000_000_000,)))  # 8 GB declared, no data at all
    with pytest.raises(WeightsError, match="declares 7.5 GiB of arrays, over the memory limit of 4.0 GiB"):
        load_weights(mobilenet_v1(), path)


def test_npz_member_shorter_than_its_header_says_is_refused(tmp_path):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conv1/kernel.npy", _npy((1000,)))  # 4,000 bytes declared by the header, none stored
    with pytest.raises(WeightsError, match="declares 128 bytes for 4,000 bytes of array data"):
        load_weights(mobilenet_v1(), path)


def test_npz_that_inflates_past_the_limit_is_refused_unread(tmp_path, monkeypatch):
    """A 40 MB array of zeros deflates to about 40 kB; under a 10 MB limit it is refused from its header."""
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, big=np.zeros(10_000_000, np.float32))
    assert path.stat().st_size < 100_000
    monkeypatch.setenv("COSTMODEL_MEMORY_LIMIT", "10M")
    tracemalloc.start()
    try:
        with pytest.raises(WeightsError, match="declares 38.1 MiB of arrays, over the memory limit"):
            load_weights(mobilenet_v1(), path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20


def test_npz_member_declaring_more_than_its_array_is_refused(tmp_path):
    path = tmp_path / "padded.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.npy", _npy((2,), b"\0" * 8 + b"\0" * 100_000))
    with pytest.raises(WeightsError, match="declares 100,136 bytes for 8 bytes of array data"):
        load_weights(mobilenet_v1(), path)


def test_good_npz_still_loads(tmp_path):
    net = mobilenet_v1(0.25, 64)
    w = init_weights(net, seed=1)
    save_weights(net, w, tmp_path / "w.npz")
    got = load_weights(net, tmp_path / "w.npz")
    assert all(np.array_equal(got[k], w[k]) for k in w)


def test_hdf5_dataset_where_a_group_should_be(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["model_weights"] = np.zeros(3, np.float32)  # a dataset, not a group of layers
        f["conv1"] = np.zeros((2, 2), np.int64)  # a layer that is a dataset of integers
    with pytest.raises(WeightsError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the layout's flavour (keras) differs from the network's: not the point
        load_weights(mobilenet_v1(), path)
    assert "Traceback" not in str(info.value)


def test_huge_finite_weights_are_an_error_not_nan_probabilities(tmp_path, capsys):
    net = mobilenet_v1(0.25, 64)
    w = {k: (v * np.float32(1e30) if k.endswith("kernel") else v) for k, v in init_weights(net).items()}
    assert all(np.isfinite(v).all() for v in w.values())
    save_weights(net, w, tmp_path / "huge.npz")
    err = _fails(capsys, "run", "--alpha", "0.25", "--resolution", "64", "--weights", str(tmp_path / "huge.npz"))
    assert "logits are NaN or infinite" in err and "too large for float32" in err


# --- images ----------------------------------------------------------------------------------------------------


def test_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path):
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.new("1", (10_000, 5_000)).save(path)  # 50 million pixels in a few kB
    assert path.stat().st_size < 100_000
    with pytest.raises(InputError, match="10000 x 5000 = 50,000,000 pixels; the limit is 40,000,000"):
        read_image(path)


def test_decompression_bomb_is_one_line(tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(path)  # 400 million pixels: Pillow's own bomb check trips first
    err = _fails(capsys, "run", "--alpha", "0.25", "--resolution", "32", "--image", str(path))
    assert "bomb.png" in err and "pixels" in err


def test_pixel_limit_is_settable(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "small.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setenv("COSTMODEL_MAX_IMAGE_PIXELS", "5000")
    with pytest.raises(InputError, match="the limit is 5,000"):
        read_image(path)
    monkeypatch.setenv("COSTMODEL_MAX_IMAGE_PIXELS", "10000")
    assert read_image(path).shape == (100, 100, 3)


def test_folder_given_as_image_says_so(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_image(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    assert issubclass(InputError, CostModelError)
