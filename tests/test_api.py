"""The embedding API: small typed surface, no heavy imports, no import-time side effects, plain results."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from importlib.resources import files

import pytest

import costmodel


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, check=True)


def test_import_does_not_load_pandas_or_matplotlib(tmp_path):
    out = _python(
        "import costmodel, sys\n"
        "costmodel.mobilenet_v1()\n"
        "print('pandas' in sys.modules)\n"
        "net = costmodel.network('googlenet')\n"
        "c = costmodel.count(net, 'thop'); from costmodel.counting.memory import memory; memory(net)\n"
        "costmodel.Network.from_dict(net.to_dict())\n"
        "print('pandas' in sys.modules, 'matplotlib' in sys.modules)\n"
        "c.table()\n"
        "print('pandas' in sys.modules)\n",
        tmp_path,
    )
    assert out.stdout.split() == ["False", "False", "False", "True"]  # pandas only once a table is asked for


def test_import_has_no_side_effects(tmp_path):
    out = _python("import costmodel", tmp_path)
    assert out.stdout == "" and out.stderr == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_public_names_exist_and_are_documented():
    for name in costmodel.__all__:
        obj = getattr(costmodel, name)
        assert obj is not None
        if callable(obj) and not isinstance(obj, type(costmodel)):
            assert obj.__doc__, name


def test_py_typed_ships_with_the_package():
    assert files("costmodel").joinpath("py.typed").is_file()


def test_registered_conventions_are_exactly_the_presets():
    assert sorted(costmodel.CONVENTIONS) == sorted(costmodel.preset_names())


def test_results_are_plain_integers_and_dataclasses():
    cost = costmodel.count(costmodel.network("squeezenet1_0"), "torchinfo")
    assert type(cost.mult_adds) is int and type(cost.params) is int and type(cost.flops) is int
    assert all(type(lc.mult_adds) is int for lc in cost.leaves())
    assert dataclasses.is_dataclass(cost) and isinstance(cost.layers[0], tuple)  # LayerCost: a named tuple
    assert sum(lc.mult_adds for lc in cost.leaves()) == cost.mult_adds


def test_public_functions_do_not_shadow_submodules():
    """costmodel.network, costmodel.count and costmodel.sweep are functions; the stages' subpackages are named
    otherwise (spec, counting, ...), so ``import costmodel.<stage>`` and ``mock.patch("costmodel.<stage>.X")`` mean
    what they say."""
    import importlib

    from costmodel.spec.network import Network

    assert costmodel.network("alexnet").__class__ is Network
    assert costmodel.Network is Network
    for name in ("spec", "counting", "reference", "latency", "report", "paper", "cli"):
        module = importlib.import_module(f"costmodel.{name}")
        assert getattr(costmodel, name) is module
    assert callable(costmodel.network) and callable(costmodel.sweep) and callable(costmodel.count)


@pytest.mark.parametrize("name", costmodel.preset_names())
def test_count_accepts_every_preset_name(name):
    assert costmodel.count(costmodel.mobilenet_v1(0.25, 128), convention=name).mult_adds > 0


# --- issue 10: the API raises the project's errors, never AttributeError, TypeError or KeyError -----------------


def test_api_bad_arguments_raise_project_errors(tmp_path):
    import costmodel
    from costmodel.latency.model import predict
    from costmodel.latency.profiles import load_profile
    from costmodel.reference import init_weights, load_weights

    net = costmodel.mobilenet_v1()
    cases = [
        (lambda: costmodel.formula(None), costmodel.CostModelError),
        (lambda: net["nope"], costmodel.SpecError),
        (lambda: load_weights(None, tmp_path / "w.npz"), costmodel.CostModelError),
        (lambda: load_weights(net, None), costmodel.WeightsError),
        (lambda: load_profile(None), costmodel.ProfileError),
        (lambda: predict(net, None), costmodel.ProfileError),
        (lambda: init_weights(None), costmodel.WeightsError),
        (lambda: costmodel.mobilenet_v1(separable="no"), costmodel.SpecError),
        (lambda: costmodel.mobilenet_v1(shallow=1), costmodel.SpecError),
    ]
    for call, error in cases:
        with pytest.raises(error):
            call()


def test_missing_layer_is_a_spec_error_and_still_a_key_error():
    import costmodel

    net = costmodel.mobilenet_v1(0.25, 128)
    with pytest.raises(KeyError) as info:
        net["conv_dw_14"]
    assert isinstance(info.value, costmodel.SpecError)
    assert str(info.value).startswith("MobileNetV1 0.25-128 has no layer 'conv_dw_14'; its layers are conv1,")
