"""One command line (issue 21): generated from the parser and the registries, so that a new command, option,
network, convention or search space is checked as soon as it exists.

- every command that builds a network accepts ``--network``, ``--spec`` and ``NAME@RES``, and builds the network
  at that resolution (checked on what the command actually built);
- every command that prints a result (all but those whose module says ``RESULT = False``) accepts ``--out`` and
  ``--format table|csv|json|markdown``;
- every list in a help text equals its registry (networks, conventions and their options, flavours, spaces), and
  equals the list the matching error prints;
- no help text mentions an option its command does not have.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re

import pytest
from _cli import fails

from costmodel.cli import COMMANDS, build_parser, main
from costmodel.cli._common import FORMATS, builder_parameters, param_option
from costmodel.counting.conventions import CONVENTIONS, OPTIONS, get_convention
from costmodel.errors import CostModelError
from costmodel.search.spaces import SPACES
from costmodel.spec.flavours import FLAVOURS
from costmodel.spec.zoo import NETWORKS, network


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


PARSERS = _commands()


def _options(name: str) -> dict[str, argparse.Action]:
    return {o: a for a in PARSERS[name]._actions for o in a.option_strings}


def _module(name: str):
    return importlib.import_module(f"costmodel.cli.{name.replace('-', '_')}")


def _builds_networks(name: str) -> bool:
    """A command builds networks when it offers any way to name one: --network, --spec, --fit-network, or a
    single-valued --alpha (MobileNetV1's). sweep and budget take lists of α and resolutions and formula none: they
    are MobileNetV1's closed form and grids, not one network."""
    options = _options(name)
    alpha = options.get("--alpha")
    return bool((alpha is not None and alpha.nargs is None) or {"--network", "--spec", "--fit-network"} & set(options))


NETWORK_COMMANDS = [c for c in PARSERS if _builds_networks(c)]
RESULT_COMMANDS = [c for c in PARSERS if getattr(_module(c), "RESULT", True)]


def test_the_classes_are_what_the_issue_names():
    """The classes derived above are not empty by accident: the commands issue 21 names are in them."""
    assert set(PARSERS) == set(COMMANDS)
    assert {"count", "conventions", "latency", "run", "profile", "export-onnx", "validate-latency"} <= set(
        NETWORK_COMMANDS
    )
    assert not {"sweep", "budget", "formula"} & set(NETWORK_COMMANDS)  # grids of MobileNetV1 and its closed form
    assert {"formula", "budget", "card", "run", "population"} <= set(RESULT_COMMANDS)
    assert set(PARSERS) - set(RESULT_COMMANDS) == {
        "plot",
        "export-onnx",
        "export-tflite",
        "convert-weights",
        "calibrate",
    }


@pytest.mark.parametrize("command", NETWORK_COMMANDS)
def test_network_commands_take_network_and_spec(command):
    options = _options(command)
    assert "--network" in options and "--spec" in options
    assert options["--network"].metavar.startswith("NAME")


@pytest.mark.parametrize("command", [c for c in NETWORK_COMMANDS if "--alpha" in _options(c)])
def test_single_network_commands_take_every_builder_option(command):
    """The options of one network are the keywords of the builders' signatures, each spelled once."""
    options = _options(command)
    for param in builder_parameters():
        assert param_option(param)[0] in options, (command, param)


def _fallback_profile(tmp_path) -> str:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"peak_flops_per_s": 5e10, "bandwidth_bytes_per_s": 1e10, "default_efficiency": 0.5}))
    return str(path)


class _Stop(CostModelError):
    pass


def _built_by_running(command: str, value: str, tmp_path, capsys, monkeypatch) -> list[tuple[str, int]]:
    """Run ``command --network value`` (cheaply) and return (name, input size) of the networks it built."""
    if command in ("calibrate", "validate-latency"):
        import costmodel.latency.calibrate as calibrate_module
        import costmodel.latency.validate as validate_module

        seen = []

        def stop(*args, **kwargs):
            seen.extend(kwargs["networks"])
            raise _Stop("stopped before measuring")

        monkeypatch.setattr(calibrate_module, "calibrate", stop)
        monkeypatch.setattr(validate_module, "validate", stop)
        extra = ["--profile", _fallback_profile(tmp_path)] if command == "validate-latency" else []
        with pytest.raises(SystemExit):
            main([command, "--network", value, *extra])
        capsys.readouterr()
        return [(n.name, n.input_size) for n in seen if n.name.startswith("SqueezeNet")]
    if command == "export-onnx":
        onnx = pytest.importorskip("onnx")
        out = tmp_path / "m.onnx"
        assert main([command, "--network", value, "--out", str(out)]) == 0
        capsys.readouterr()
        dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
        return [("SqueezeNet 1.1", dims[1].dim_value)]  # NHWC: the image's height
    if command == "export-tflite":
        pytest.importorskip("ai_edge_litert")
        from ai_edge_litert.interpreter import Interpreter

        out = tmp_path / "m.tflite"
        assert main([command, "--network", value, "--out", str(out)]) == 0
        capsys.readouterr()
        shape = Interpreter(model_path=str(out)).get_input_details()[0]["shape"]
        return [("SqueezeNet 1.1", int(shape[1]))]  # NHWC: the image's height
    extra = {
        "latency": ["--profile", _fallback_profile(tmp_path)],
        "run": ["--repeats", "1"],
        "profile": ["--repeats", "1"],
    }.get(command, [])
    assert main([command, "--network", value, *extra, "--format", "json"]) == 0, command
    doc = json.loads(capsys.readouterr().out)
    name = doc["network"]
    return [(name, int(name.rsplit("-", 1)[1]))]


@pytest.mark.parametrize("command", NETWORK_COMMANDS)
def test_name_at_resolution_builds_that_network(command, tmp_path, capsys, monkeypatch):
    built = _built_by_running(command, "squeezenet1_1@96", tmp_path, capsys, monkeypatch)
    expected = network("squeezenet1_1", resolution=96)
    assert [(name.removesuffix("-96"), size) for name, size in built] == [("SqueezeNet 1.1", expected.input_size)]


@pytest.mark.parametrize("command", [c for c in NETWORK_COMMANDS if "--alpha" in _options(c)])
def test_width_options_reach_any_network_whose_builder_takes_them(command, capsys):
    """``count --network mobilenet_v2 --alpha 0.5`` is what ``costmodel.network("mobilenet_v2", alpha=0.5)``
    builds; an option the network's builder does not take is one line naming it."""
    from costmodel.cli._common import network_from_args

    required = ["--out", "x.onnx"] if _options(command)["--out"].required else []
    args = PARSERS[command].parse_args(["--network", "mobilenet_v2@160", "--alpha", "0.5", *required])

    built = network_from_args(args)
    expected = network("mobilenet_v2", resolution=160, alpha=0.5)
    assert (built.name, [n.out_ch for n in built.leaves()]) == (expected.name, [n.out_ch for n in expected.leaves()])
    with pytest.raises(CostModelError, match="--alpha cannot be combined with --network vgg16"):
        network_from_args(PARSERS[command].parse_args(["--network", "vgg16", "--alpha", "0.5", *required]))


@pytest.mark.parametrize("command", RESULT_COMMANDS)
def test_result_commands_take_out_and_format(command):
    options = _options(command)
    assert "--out" in options and "--format" in options
    assert set(FORMATS) <= set(options["--format"].choices)


# --- help lists equal the registries, and the errors ------------------------------------------------------------


def _help_list(text: str, after: str, until: str = r"[;)(\[]") -> list[str]:
    """The comma-separated names in ``text`` after ``after``, up to the first ``until``."""
    tail = text.split(after, 1)[1]
    return [n.strip() for n in re.split(until, tail, maxsplit=1)[0].split(",")]


def _error(call) -> str:
    with pytest.raises(CostModelError) as info:
        call()
    return str(info.value)


def test_network_help_lists_every_network_as_the_error_does():
    error = _help_list(_error(lambda: network("resnet")), "choose from ", r"$")
    assert error == list(NETWORKS)
    for command in PARSERS:
        action = _options(command).get("--network")
        if action is not None:
            assert _help_list(action.help, "(mobilenet_v2@160): ") == list(NETWORKS), command


def test_convention_help_lists_the_registry_and_the_errors():
    presets = _help_list(_error(lambda: get_convention("thopp")), "choose from ", r"$")
    options = _help_list(_error(lambda: get_convention("paper+nope")), "choose from ", r"$")
    assert presets == sorted(CONVENTIONS) and options == list(OPTIONS)
    for command in PARSERS:
        action = _options(command).get("--convention")
        if action is not None and action.help and "options:" in action.help:
            assert _help_list(action.help, "(default 'paper'): ") == presets, command
            assert _help_list(action.help, "(options: ") == options, command


@pytest.mark.parametrize(
    ("option", "registry"),
    [("--flavour", list(FLAVOURS)), ("--space", list(SPACES)), ("--runtime", ["numpy", "onnxruntime"])],
)
def test_choices_are_the_registries(option, registry):
    for command in PARSERS:
        action = _options(command).get(option)
        if action is not None:
            assert list(action.choices) == registry, (command, option)


@pytest.mark.parametrize("command", list(PARSERS))
def test_no_help_mentions_an_option_the_command_lacks(command):
    parser = PARSERS[command]
    options = set(_options(command))
    texts = [parser.description or "", *(a.help or "" for a in parser._actions)]
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", " ".join(texts)))
    assert mentioned <= options, (command, sorted(mentioned - options))


# --- counts take suffixes everywhere, and print as integers ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("300M", 300_000_000), ("3e8", 300_000_000), ("300000000", 300_000_000), ("1.5G", 1_500_000_000)],
)
def test_budget_counts_take_suffixes(text, value, capsys):
    from costmodel.counting.budget import largest_alpha

    assert main(["budget", "--mult-adds", text, "--resolution", "224", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["alpha"] == largest_alpha(224, mult_adds=value).alpha


@pytest.mark.parametrize("text", ["1e6.5", "0.5", "1.0000001M", "3x"])
def test_a_count_that_is_not_whole_is_one_line(text, capsys):
    fails(["budget", "--mult-adds", text], capsys, "--mult-adds", repr(text))


def test_budget_prints_counts_as_integers(capsys):
    """Where a resolution has no α under the budget, the count columns stay integers (the issue saw
    ``985,200.000000``)."""
    from costmodel.counting.budget import largest_alpha

    assert main(["budget", "--mult-adds", "1e6"]) == 0
    out = capsys.readouterr().out
    fit = largest_alpha(160, mult_adds=10**6)
    assert f"  {fit.mult_adds:,}  " in out and f"{fit.mult_adds:,}." not in out
    assert main(["budget", "--mult-adds", "1e6", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [type(r["mult_adds"]) for r in rows] == [type(None), type(None), int, int]
