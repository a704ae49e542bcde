"""The latency subcommands: output, JSON that adds up, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest

from costmodel import count, mobilenet_v1
from costmodel.cli import main
from costmodel.latency.profiles import DeviceProfile, load_profile, save_profile


@pytest.fixture
def profile_file(tmp_path):
    p = DeviceProfile(1e11, 1e10, efficiency={"Conv 1x1": 0.5, "Conv DW 3x3": 0.1}, overhead_s=1e-5, name="t")
    return str(save_profile(p, tmp_path / "profile.json"))


def test_latency_table(profile_file, capsys):
    assert main(["latency", "--alpha", "0.5", "--resolution", "160", "--profile", profile_file]) == 0
    out = capsys.readouterr().out
    assert "MobileNetV1 0.5-160" in out and "conv_pw_13" in out and "memory" in out
    assert "Total:" in out and f"{count(mobilenet_v1(0.5, 160)).mult_adds:,} Mult-Adds" in out


def test_latency_json_adds_up(profile_file, capsys):
    assert (
        main(
            [
                "latency",
                "--alpha",
                "0.75",
                "--resolution",
                "129",
                "--profile",
                profile_file,
                "--format",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["mult_adds"] == count(mobilenet_v1(0.75, 129)).mult_adds
    assert sum(r["predicted_ms"] for r in doc["layers"]) == pytest.approx(doc["predicted_seconds"] * 1e3, rel=1e-9)
    assert {r["bound"] for r in doc["layers"]} <= {"compute", "memory"}


def _fails(argv, capsys, *pieces):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line, no traceback
    for piece in pieces:
        assert piece in err


def test_bad_profile_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"peak_flops_per_s": -5, "bandwidth_bytes_per_s": 1e10}')
    _fails(["latency", "--profile", str(bad)], capsys, str(bad), "peak_flops_per_s", "-5")
    _fails(["validate-latency", "--profile", str(tmp_path / "missing.json")], capsys, "missing.json")


def test_bad_options_exit_2(profile_file, tmp_path, capsys):
    _fails(["latency", "--profile", profile_file, "--batch", "0"], capsys, "batch")
    _fails(["calibrate", "--threads", "-1"], capsys, "--threads")
    _fails(["calibrate", "--out", str(tmp_path / "no" / "p.json")], capsys, "does not exist")
    assert not (tmp_path / "no").exists()


def test_calibrate_quick_writes_a_profile(tmp_path, capsys):
    pytest.importorskip("costmodel.reference")
    out = tmp_path / "p.json"
    argv = [
        "calibrate",
        "--quick",
        "--repeats",
        "1",
        "--rounds",
        "1",
        "--statistic",
        "median",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "peak FLOP/s" in err and "done in" in err  # progress on stderr
    profile = load_profile(out)
    assert profile.meta["executor"] == "costmodel.reference"
    assert profile.meta["statistic"] == "median"
    assert main(["latency", "--profile", str(out), "--alpha", "0.25", "--resolution", "128"]) == 0
