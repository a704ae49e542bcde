"""The reference commands: run, profile, export-onnx; their bad inputs exit 2 with one line on stderr."""

from __future__ import annotations

import json

import numpy as np
import pytest

import costmodel
from costmodel.cli import main
from costmodel.reference import forward, init_weights, save_weights
from costmodel.reference.images import load_image

SMALL = ["--alpha", "0.25", "--resolution", "64"]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _fails(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_run_prints_top5_matching_the_forward_pass(capsys, tmp_path):
    png = tmp_path / "img.png"
    pixels = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    from PIL import Image

    Image.fromarray(pixels).save(png)
    code, out, _ = _run(capsys, "run", *SMALL, "--image", str(png), "--seed", "3")
    assert code == 0
    net = costmodel.mobilenet_v1(0.25, 64)
    logits = forward(net, init_weights(net, seed=3), load_image(png, 64))[0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    expected = np.argsort(-p)[:5]
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[1]) for r in rows] == list(expected)
    np.testing.assert_allclose([float(r[2]) for r in rows], p[expected], atol=5e-5)  # printed to 4 decimals
    assert "latency:" in out and " ms " in out


def test_run_with_weights_file_and_random_image(capsys, tmp_path):
    net = costmodel.mobilenet_v1(0.25, 64, activation="relu6")
    path = save_weights(net, init_weights(net, seed=8), tmp_path / "w.npz")
    argv = ["run", *SMALL, "--activation", "relu6", "--weights", str(path), "--top", "3", "--threads", "2"]
    code, out, _ = _run(capsys, *argv)
    assert code == 0 and "random image" in out and "w.npz" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 3


def test_profile_shares_add_up(capsys):
    code, out, _ = _run(capsys, "profile", *SMALL, "--repeats", "2", "--format", "json")
    assert code == 0
    data = json.loads(out)
    kinds = {row["kind"]: row for row in data["by_kind"]}
    assert set(kinds) == {"Conv 3x3", "Conv DW 3x3", "Conv 1x1", "Avg Pool", "FC", "Softmax"}
    for col in ("params_pct", "mult_adds_pct", "time_pct"):
        assert sum(r[col] for r in data["layers"]) == pytest.approx(100.0, rel=1e-9)  # float sum of shares
    cost = costmodel.count(costmodel.mobilenet_v1(0.25, 64))
    assert sum(r["mult_adds"] for r in data["by_kind"]) == cost.mult_adds
    assert kinds["Conv 1x1"]["layers"] == 13
    code, out, _ = _run(capsys, "profile", *SMALL, "--repeats", "1")
    assert "1x1 convolutions:" in out and "95 %" in out


def test_export_onnx_writes_a_model(capsys, tmp_path):
    pytest.importorskip("onnx")
    out_file = tmp_path / "m.onnx"
    code, out, _ = _run(capsys, "export-onnx", *SMALL, "--out", str(out_file))
    assert code == 0 and out_file.is_file() and "wrote" in out
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", *SMALL, "--weights", "/nonexistent/w.npz"], "does not exist"),
        (["run", *SMALL, "--image", "/nonexistent/x.png"], "does not exist"),
        (["run", *SMALL, "--top", "0"], "--top: expected a positive integer, got 0"),
        (["profile", *SMALL, "--batch", "x"], "--batch: expected a positive integer, got 'x'"),
        (["run", "--alpha", "-1"], "alpha"),
        (["export-onnx", *SMALL, "--out", "/nonexistent/dir/m.onnx"], "does not exist"),
        (["run", *SMALL, "--flavour", "pytorch"], "invalid choice"),
    ],
)
def test_bad_input_exits_2(capsys, argv, message):
    assert message in _fails(capsys, *argv)


def test_bad_files_exit_2_and_nothing_is_written(capsys, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "neither an .npz, an HDF5" in _fails(capsys, "run", *SMALL, "--weights", str(text))
    assert "cannot read image" in _fails(capsys, "run", *SMALL, "--image", str(text))
    net = costmodel.mobilenet_v1(0.5, 64)  # weights of another width
    other = save_weights(net, init_weights(net), tmp_path / "other.npz")
    err = _fails(capsys, "export-onnx", *SMALL, "--weights", str(other), "--out", str(tmp_path / "m.onnx"))
    assert "holds alpha 0.5 weights, not alpha 0.25" in err  # a given alpha that contradicts the file
    data = other.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:100])
    assert "truncated" in _fails(capsys, "run", *SMALL, "--weights", str(tmp_path / "cut.npz"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.npz", "notes.txt", "other.npz"]


@pytest.mark.parametrize("command", ["run", "profile", "export-onnx"])
def test_num_classes_that_contradicts_the_weights_is_an_error(capsys, tmp_path, command):
    """As a contradicting alpha or resolution is: --num-classes 10 with a 1000-class file is not ignored."""
    net = costmodel.mobilenet_v1(0.25, 64)
    weights = save_weights(net, init_weights(net), tmp_path / "w.npz")
    out = ["--out", str(tmp_path / "m.onnx")] if command == "export-onnx" else ["--repeats", "1"]
    err = _fails(capsys, command, *SMALL, "--weights", str(weights), "--num-classes", "10", *out)
    assert "holds a 1000-class classifier, not one of 10 classes" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]
    code, _, _ = _run(capsys, command, *SMALL, "--weights", str(weights), "--num-classes", "1000", *out)
    assert code == 0
