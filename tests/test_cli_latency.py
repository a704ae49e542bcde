"""The latency subcommands: output, JSON that adds up, and one-line errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import fails as _fails

from costmodel import count, mobilenet_v1
from costmodel.cli import main
from costmodel.latency.profiles import DeviceProfile, load_profile, save_profile


@pytest.fixture
def profile_file(tmp_path):
    efficiency = {"Conv 1x1": 0.5, "Conv DW 3x3": 0.1, "Conv 3x3": 0.3, "Avg Pool": 1.0, "FC": 1.0, "Softmax": 1.0}
    p = DeviceProfile(1e11, 1e10, efficiency=efficiency, overhead_s=1e-5, name="t")
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
    assert profile.meta["executor"] == "numpy" and profile.runtime == "numpy"
    assert profile.meta["statistic"] == "median"
    assert main(["latency", "--profile", str(out), "--alpha", "0.25", "--resolution", "128"]) == 0


def test_latency_of_a_zoo_network_needs_its_kinds(profile_file, capsys):
    # MobileNetV2's residual adds are a kind the profile never learned: one line naming it and how to calibrate.
    _fails(["latency", "--profile", profile_file, "--network", "mobilenet_v2"], capsys, "'Add'", "--fit-network")


def test_latency_spec_and_extrapolation(profile_file, tmp_path, capsys):
    fallback = tmp_path / "fallback.json"
    data = json.loads(Path(profile_file).read_text())
    data["default_efficiency"] = 0.5
    fallback.write_text(json.dumps(data))
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps(mobilenet_v1(0.25, 96).to_dict()))
    assert main(["latency", "--profile", str(fallback), "--spec", str(spec), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["extrapolated"] is False  # every kind of MobileNetV1 is in the profile
    assert main(["latency", "--profile", str(fallback), "--network", "mobilenet_v2", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["extrapolated"] is True
    assert {r["kind"] for r in doc["layers"] if r["extrapolated"]} == {"Add"}
    assert main(["latency", "--profile", str(fallback), "--network", "mobilenet_v2"]) == 0
    assert "EXTRAPOLATED" in capsys.readouterr().out


def test_extreme_profile_is_an_error_not_inf(tmp_path, capsys):
    bad = tmp_path / "extreme.json"
    bad.write_text(
        json.dumps({"peak_flops_per_s": 1e-300, "bandwidth_bytes_per_s": 1e-300, "default_efficiency": 1e-300})
    )
    _fails(["latency", "--profile", str(bad)], capsys, "too extreme")


def test_calibrate_refuses_bad_names_before_measuring(tmp_path, capsys):
    _fails(["calibrate", "--out", str(tmp_path / "p.toml")], capsys, ".json")
    _fails(["calibrate", "--fit-network", "nonet"], capsys, "nonet")
    _fails(["calibrate", "--runtime", "tflite"], capsys, "tflite")
    _fails(["validate-latency", "--runtime", "tflite"], capsys, "tflite")


def test_calibrate_with_an_extra_fitting_network_from_a_spec(tmp_path, capsys):
    pytest.importorskip("costmodel.reference")
    spec = tmp_path / "small.json"
    spec.write_text(json.dumps(mobilenet_v1(0.3, 61).to_dict()))
    out = tmp_path / "p.json"
    argv = ["calibrate", "--quick", "--repeats", "1", "--rounds", "1", "--fit-network", str(spec), "--out", str(out)]
    assert main(argv) == 0
    profile = load_profile(out)
    assert profile.meta["fit_networks"] == ["MobileNetV1 0.3-61"]
    assert {"runtime", "runtime_version", "threads", "cpu_model", "dtype", "calibrated_utc"} <= set(profile.meta)


def test_onnxruntime_end_to_end(tmp_path, capsys):
    """calibrate --runtime onnxruntime, then validate-latency on two spec files and profile --runtime onnxruntime."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "ort.json"
    argv = ["calibrate", "--runtime", "onnxruntime", "--quick", "--repeats", "2", "--rounds", "1", "--out", str(out)]
    assert main(argv) == 0
    profile = load_profile(out)
    assert profile.runtime == "onnxruntime" and profile.meta["runtime_version"] and profile.meta["threads"] == 1
    assert profile.paths and any(" @" in key for key in profile.efficiency)
    specs = []
    for alpha, resolution in ((0.3125, 65), (0.375, 57)):  # kinds and paths the quick fit has seen
        spec = tmp_path / f"{alpha}.json"
        spec.write_text(json.dumps(mobilenet_v1(alpha, resolution).to_dict()))
        specs += ["--spec", str(spec)]
    capsys.readouterr()
    argv = ["validate-latency", "--profile", str(out), *specs, "--repeats", "2", "--rounds", "1", "--format", "json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["networks"] == 2 and doc["runtime"] == "onnxruntime"
    assert {"median_abs_error", "within_10_percent", "spearman"} <= set(doc)
    assert 0 <= doc["within_10_percent"] <= 1 and doc["median_abs_error"] >= 0
    argv = ["profile", "--runtime", "onnxruntime", "--alpha", "0.25", "--resolution", "64", "--repeats", "2"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "ONNX Runtime" in text and "Conv 1x1" in text and "95 %" in text


def test_validate_latency_runtime_must_match_the_profile(profile_file, capsys):
    _fails(["validate-latency", "--profile", profile_file, "--runtime", "onnxruntime"], capsys, "does not match")


def test_building_the_parser_loads_no_numpy():
    """Every command sets BLAS threads (``--threads``) before NumPy loads; a command module that imports NumPy while
    the parser is built makes that a no-op, and NumPy's matrix products then run on every core (measured: 15x
    slower passes on the loaded 2-core machine). Checked in a fresh interpreter."""
    import subprocess
    import sys

    code = "import sys; from costmodel.cli import build_parser; build_parser(); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_convert_weights_targets_are_the_conversions():
    from costmodel.cli.convert_weights import TARGETS
    from costmodel.reference.weights import CONVERSIONS

    assert tuple(CONVERSIONS) == TARGETS


def test_zoo_flags_fit_the_zoo_at_160_and_check_it_at_224(profile_file, monkeypatch, capsys):
    """calibrate --zoo adds every other zoo network at 160 to the fit; validate-latency --zoo checks them at 224
    after the 22 held-out MobileNets (or after --network); neither combines with --space."""
    import costmodel.latency.calibrate as calibrate_module
    import costmodel.latency.validate as validate_module
    from costmodel.errors import CostModelError
    from costmodel.latency.calibrate import ZOO
    from costmodel.latency.validate import HELD_OUT_ALL
    from costmodel.spec.zoo import NETWORKS
    from costmodel.spec.zoo_graph import GRAPH_NETWORKS

    # a new zoo network is fitted and checked too; the graph networks join once their kinds are measured
    assert sorted(ZOO) == sorted(set(NETWORKS) - {"mobilenet_v1", *GRAPH_NETWORKS})
    seen = {}

    def stop(what):
        def fake(*args, **kwargs):
            seen[what] = kwargs["networks"]
            raise CostModelError("stopped before measuring")

        return fake

    monkeypatch.setattr(calibrate_module, "calibrate", stop("fit"))
    monkeypatch.setattr(validate_module, "validate", stop("held"))
    _fails(["calibrate", "--zoo", "--fit-network", "mobilenet_v2@96"], capsys, "stopped")
    assert [(n.name, n.input_size) for n in seen["fit"][1:]] == [(_zoo_name(n, 160), 160) for n in ZOO]
    # validate-latency checks that the profile has every kind the networks need before it measures (issue 21):
    # the zoo's kinds (Add, Max Pool, ...) come from a profile with a fallback efficiency
    data = json.loads(Path(profile_file).read_text())
    fallback = Path(profile_file).with_name("fallback.json")
    fallback.write_text(json.dumps({**data, "default_efficiency": 0.5}))
    _fails(["validate-latency", "--profile", str(fallback), "--zoo"], capsys, "stopped")
    held = seen["held"]
    assert len(held) == len(HELD_OUT_ALL) + len(ZOO) and {n.input_size for n in held[len(HELD_OUT_ALL) :]} == {224}
    _fails(["validate-latency", "--profile", str(fallback), "--zoo", "--network", "alexnet"], capsys, "stopped")
    assert [n.name for n in seen["held"]][:2] == ["AlexNet-224", _zoo_name(ZOO[0], 224)]
    _fails(["validate-latency", "--profile", profile_file, "--zoo", "--space", "mobilenet_v1"], capsys, "--zoo")


def _zoo_name(name, resolution):
    from costmodel.spec.zoo import network

    return network(name, resolution=resolution).name


def test_calibrate_refuses_a_fit_network_too_large_for_memory_before_measuring(capsys):
    """vgg16 at 2**31 - 1 pixels a side: the memory model's estimate, against the limit, before any micro-benchmark
    (not NumPy's "array is too big" after them)."""
    from costmodel.errors import InputError
    from costmodel.latency.calibrate import calibrate
    from costmodel.spec.zoo import network

    _fails(["calibrate", "--fit-network", "vgg16@2147483647"], capsys, "measuring VGG16", "over the memory limit")
    measured = []
    with pytest.raises(InputError, match="over the memory limit"):
        calibrate(networks=[network("vgg16", resolution=2**20)], progress=measured.append)
    assert measured == []  # nothing measured, not even the micro-benchmarks
