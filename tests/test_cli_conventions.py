"""``costmodel conventions``, and ``costmodel count`` with --network, --spec and --memory."""

from __future__ import annotations

import json

import pytest

from costmodel.cli import main
from costmodel.paper.published import read_csv


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _tool_rows() -> list[dict[str, str]]:
    return read_csv("tool_counts.csv")


def test_conventions_json_side_by_side(capsys):
    code, out, _ = run(capsys, "conventions", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    by_name = {r["convention"]: r for r in doc["conventions"]}
    assert list(by_name) == ["paper", "fvcore", "thop", "ptflops", "torchinfo", "torch", "keras", "tfslim"]
    assert (by_name["keras"]["flavour"], by_name["tfslim"]["flavour"]) == ("keras", "tfslim")
    assert by_name["tfslim"]["params"] == 4_243_945  # the TF-slim checkpoint of 1.0-224 (issue 13)
    for row in _tool_rows():
        r = by_name[row["tool"]]
        value = int(row["value"])
        if row["quantity"] == "mult_adds":
            assert r["mult_adds"] == value
        elif row["quantity"] == "flops":
            assert r["tool_reports"] == f"{value:,} FLOPs"
            assert (r["tool_count"], r["tool_unit"]) == (value, "flops")
        elif row["quantity"] == "params":
            assert r["params"] == value
        else:
            assert r["trainable_params"] == value
    assert all(r["differs_by"] for r in by_name.values())  # one line each saying why


def test_conventions_table_has_one_line_per_convention(capsys):
    code, out, _ = run(capsys, "conventions", "--alpha", "0.5", "--resolution", "160")
    assert code == 0
    lines = out.splitlines()
    assert "MobileNetV1 0.5-160" in lines[0]
    names = ["paper", "fvcore", "thop", "ptflops", "torchinfo", "torch", "keras", "tfslim"]
    assert [line.split()[0] for line in lines[3:]] == names


def test_count_network_and_spec_agree(capsys, tmp_path):
    code, out, _ = run(capsys, "count", "--network", "googlenet", "--convention", "thop", "--format", "json")
    assert code == 0
    by_name = json.loads(out)
    from costmodel import network

    path = tmp_path / "g.json"
    path.write_text(json.dumps(network("googlenet").to_dict()))
    code, out, _ = run(capsys, "count", "--spec", str(path), "--convention", "thop", "--format", "json")
    assert code == 0
    by_spec = json.loads(out)
    assert (by_spec["mult_adds"], by_spec["params"]) == (by_name["mult_adds"], by_name["params"])
    assert sum(r["mult_adds"] for r in by_spec["layers"]) == by_spec["mult_adds"]  # block rows expanded, no double
    assert "inception3a.branch2.1" in {r["name"] for r in by_spec["layers"]}


def test_count_memory_view(capsys):
    code, out, _ = run(capsys, "count", "--alpha", "0.25", "--resolution", "128", "--memory", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    first = doc["layers"][0]  # conv1: 128x128x3 in, 64x64x8 out
    assert (first["input_elements"], first["output_elements"]) == (128 * 128 * 3, 64 * 64 * 8)
    assert first["input_bytes_float16"] == 2 * 128 * 128 * 3 and first["weight_bytes_int8"] == 3 * 3 * 3 * 8 + 8
    assert doc["bytes"]["float32"]["peak_live_bytes"] == 4 * doc["peak_live_elements"]
    code, out, _ = run(capsys, "count", "--network", "squeezenet1_1", "--memory")
    assert code == 0 and "int8: weights 1,235,496 B" in out  # torchvision's parameters, one byte each


@pytest.mark.parametrize(
    "argv,message",
    [
        (["count", "--network", "resnet"], "unknown network 'resnet'"),
        (["count", "--network", "vgg16", "--shallow"], "--shallow cannot be combined with --network vgg16"),
        (["count", "--spec", "/nonexistent.json"], "network document '/nonexistent.json' does not exist"),
        (["count", "--spec", "x.json", "--network", "vgg16"], "not allowed with argument"),
        (["conventions", "--network", "alexnet", "--resolution", "40"], "shrinks to nothing"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_bad_spec_document_names_layer_and_field(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_size": 32, "layers": [{"type": "conv2d", "name": "c", "in_ch": 3,
                                                               "out_ch": 8, "kernel": "3"}]}))  # fmt: skip
    code, _, err = run(capsys, "count", "--spec", str(path))
    assert code == 2 and "layers[0] 'c': field 'kernel' must be an integer, got '3'" in err
