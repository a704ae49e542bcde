"""The Python API raises the project's errors, only: every public callable, every parameter, hostile values.

The callables are read from ``__all__`` of ``costmodel`` and of each subpackage (and of ``latency.validate``),
with a few methods of the objects they return. Each is called once with valid arguments (its baseline: defaults,
and for a required parameter a small valid value chosen by the parameter's name), then once per parameter and
hostile value with that one parameter replaced. A call must return, or raise a
:class:`~costmodel.errors.CostModelError`; a bare ``ValueError``, ``TypeError``, ``OverflowError``, ``IndexError``,
``KeyError``, ``RecursionError``, ``MemoryError`` (or anything else) fails the test, naming the call.

The hostile values are a table per annotated type (every parameter also gets the values every type gets).
Deterministic (no randomness) and small: the baseline networks are 32x32 MobileNets, so the run takes seconds.
"""

from __future__ import annotations

import importlib
import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import costmodel
from costmodel.errors import CostModelError

MODULES = [
    "costmodel",
    "costmodel.counting",
    "costmodel.latency",
    "costmodel.latency.validate",
    "costmodel.reference",
    "costmodel.report",
    "costmodel.paper",
    "costmodel.spec",
    "costmodel.search",
]

#: Parameters not fuzzed, each with the reason. Nothing else is skipped.
SKIP_PARAMETERS: dict[str, str] = {
    # callbacks: any callable is a valid value and what it raises is the caller's own exception
    "build": "a Block's builder is the caller's code; a builder that raises is the caller's error",
    "time_layers": "a timing callback (tests pass a synthetic device); its exceptions are the caller's",
    "progress": "a progress callback; its exceptions are the caller's",
}
#: Parameters that count repetitions of real work: 2**31 - 1 of them is a valid request for hours of work, not an
#: error; they get every hostile value but the huge ones.
WORK_COUNTS = {"repeats", "rounds"}

#: Whole callables not fuzzed, each with the reason.
_RECORD = "a result record the library builds (all fields required, none checked): constructing one by hand "
_RECORD += "stores what it is given"
SKIP_CALLABLES: dict[str, str] = {
    **{
        name: _RECORD
        for name in (
            "costmodel.Cost",
            "costmodel.DtypeCost",
            "costmodel.reference.QuantizedGraph",
            "costmodel.LayerCost",
            "costmodel.Node",
            "costmodel.latency.LatencyPrediction",
            "costmodel.latency.LayerLatency",
            "costmodel.latency.validate.ConfigResult",
            "costmodel.latency.validate.ValidationResult",
            "costmodel.paper.Comparison",
            "costmodel.reference.Prepared",
            "costmodel.reference.Execution",
            "costmodel.search.PopulationCost",
            "costmodel.search.Gene",
        )
    },  # fmt: skip
    "costmodel.latency.validate.validate": "measures networks (seconds each); its checks are compare()'s and "
    "held_out_networks()'s, fuzzed here, and measure()'s, run by test_calibrate",
}


def _self_list() -> list:
    x: list = [1]
    x.append(x)
    return x


def _self_dict() -> dict:
    d: dict = {"a": 1}
    d["self"] = d
    return d


def _deep_list(depth: int = 200) -> list:
    x: list = []
    for _ in range(depth):
        x = [x]
    return x


class _Weird:
    """An object of no expected type, whose comparisons and conversions all fail as a user's object might."""

    def __repr__(self) -> str:
        return "<weird>"


#: Values every parameter gets (fresh each call: some are mutable).
COMMON: list[Callable[[], Any]] = [
    lambda: None,
    lambda: -1,
    lambda: 0,
    lambda: 2**31 - 1,
    lambda: 2**70,
    lambda: -(2**70),
    lambda: 1.5,
    lambda: math.nan,
    lambda: math.inf,
    lambda: -math.inf,
    lambda: "abc",
    lambda: "",
    lambda: 1 + 2j,
    lambda: True,
    lambda: b"\x00\xff",
    lambda: _Weird(),
    lambda: _self_list(),
    lambda: _self_dict(),
    lambda: _deep_list(),
    lambda: [None],
    lambda: (),
    lambda: {},
    lambda: np.float64(math.nan),
    lambda: np.int64(-1),
    lambda: np.array([[1, 2], [3, 4]]),
]

#: Extra values by the annotation's words (``int``, ``float``, ``str``, a path, a sequence, a mapping).
BY_TYPE: dict[str, list[Callable[[], Any]]] = {
    "int": [lambda: 2**63, lambda: -(2**63), lambda: np.uint64(2**64 - 1), lambda: 224.0, lambda: np.float64(224.0)],
    "float": [lambda: 1e308, lambda: 5e-324, lambda: -0.0, lambda: 10**400, lambda: "0.5"],
    "str": [lambda: "\x00", lambda: "a" * 100_000, lambda: "é" * 10, lambda: ["a"]],
    "PathLike": [lambda: "/", lambda: "/dev/null", lambda: "no/such/dir/file.json", lambda: "\x00"],
    "Sequence": [lambda: [[], []], lambda: [math.nan, 1], lambda: "ab", lambda: [2**70, 1]],
    "Mapping": [lambda: {"a": _Weird()}, lambda: {1: 2}, lambda: {"": None}, lambda: _self_dict()],
}


def _hostile(annotation: str, name: str) -> list[tuple[str, Callable[[], Any]]]:
    values = list(COMMON)
    for word, extra in BY_TYPE.items():
        if word in annotation:
            values += extra
    if name in WORK_COUNTS:
        values = [v for v in values if not (isinstance(v(), int) and not isinstance(v(), bool) and abs(v()) > 2**20)]
    return [(_label(v()), v) for v in values]


def _label(value: object) -> str:
    if isinstance(value, (list, dict)):
        return f"{type(value).__name__}(...)"  # self-referencing or deep: repr is long or recursive
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


# ------------------------------------------------------------------------------------------------ baselines
def _net():
    return costmodel.mobilenet_v1(0.25, 32, num_classes=10)


def _space():
    return costmodel.search_space("mobilenet_v1", widths=(0.25, 0.5), kernels=(3,))


def _profile():
    from costmodel.latency import DeviceProfile

    return DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, default_efficiency=0.5)


def _weights():
    from costmodel.reference import init_weights

    return init_weights(_net(), seed=0)


def _lowered():
    from costmodel.reference import lower

    return lower(_net(), _weights())


def _ranges():
    from costmodel.reference import activation_ranges

    return activation_ranges(_net(), _weights(), _images())


def _images():
    return np.zeros((1, 32, 32, 3), np.float32)


def _measurements():
    from costmodel.latency.runtimes import Measurement

    nets = [costmodel.mobilenet_v1(0.25, 32), costmodel.mobilenet_v1(0.25, 48)]
    out = []
    for net in nets:
        layer_s = {node.name: 1e-5 for node in net.leaves()}
        out.append(Measurement(net, layer_s, sum(layer_s.values())))
    return out


#: A valid value for a required parameter, by the parameter's name.
BASE: dict[str, Callable[[Any], Any]] = {
    "network": lambda tmp: _net(),
    "arch_def": lambda tmp: [["ds_r1_k3_s1_c16"], ["ir_r1_k3_s2_e6_c24_se0.25"]],
    "config": lambda tmp: {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5},
    "graph": lambda tmp: _lowered(),
    "nodes": lambda tmp: (costmodel.Conv2d("g.c", 8, 8, 1),),
    "start": lambda tmp: 0,
    "stop": lambda tmp: 4,
    "groups": lambda tmp: 2,
    "ranges": lambda tmp: _ranges(),
    "qgraph": lambda tmp: __import__("costmodel.reference", fromlist=["quantize"]).quantize(_lowered(), _ranges()),
    "space": lambda tmp: _space(),
    "genes": lambda tmp: _space().sample(3, seed=0),
    "a": lambda tmp: _space().sample(3, seed=0),
    "b": lambda tmp: _space().sample(3, seed=1),
    "profile": lambda tmp: _profile(),
    "weights": lambda tmp: _weights(),
    "images": lambda tmp: _images(),
    "name": lambda tmp: "x",
    "alpha": lambda tmp: [0.25, 0.5],
    "data": lambda tmp: np.array([[1, 2], [2, 1], [3, 3]]),
    "cost": lambda tmp: costmodel.count(_net()),
    "mem": lambda tmp: __import__("costmodel.counting.memory", fromlist=["memory"]).memory(_net()),
    "df": lambda tmp: __import__("pandas").DataFrame({"a": [1, 2]}),
    "node": lambda tmp: _net().nodes[0],
    "n": lambda tmp: 1,
    "x": lambda tmp: [1.0, 3.0, 2.0],
    "y": lambda tmp: [1.0, 2.0, 3.0],
    "predicted": lambda tmp: [1.0, 2.0, 3.0],
    "measured": lambda tmp: [1.0, 3.0, 2.0],
    "mult_adds": lambda tmp: [100, 110, 115],
    "measurements": lambda tmp: _measurements(),
    "layers": lambda tmp: list(_net().layers),
    "input_size": lambda tmp: 32,
    "in_ch": lambda tmp: 8,
    "out_ch": lambda tmp: 8,
    "kernel": lambda tmp: 3,
    "channels": lambda tmp: 16,
    "squeeze_ch": lambda tmp: 4,
    "expand_ch": lambda tmp: 16,
    "in_features": lambda tmp: 8,
    "out_features": lambda tmp: 4,
    "output_size": lambda tmp: 2,
    "body": lambda tmp: (costmodel.Conv2d("b", 8, 8, 1),),
    "branches": lambda tmp: ((costmodel.Conv2d("b1", 8, 8, 1),), (costmodel.Conv2d("b2", 8, 8, 1),)),
    "items": lambda tmp: list(_space().items),
    "build": lambda tmp: lambda in_ch: (costmodel.Conv2d("c", in_ch, 8, 1),),
    "blocks": lambda tmp: (costmodel.Block("b", lambda in_ch: (costmodel.Conv2d("c", in_ch, 8, 1),)),),
    "depths": lambda tmp: (1,),
    "peak_flops_per_s": lambda tmp: 1e11,
    "bandwidth_bytes_per_s": lambda tmp: 1e10,
    "summary": lambda tmp: "a convention",
    "values": lambda tmp: (1, 2),
    "path": lambda tmp: tmp["path"],
    "source": lambda tmp: tmp["weights_file"],
    "target": lambda tmp: tmp["target"],
    "to": lambda tmp: "npz",
}

#: Baselines that differ from the by-name table, by callable.
OVERRIDES: dict[str, dict[str, Callable[[Any], Any]]] = {
    "costmodel.network": {"name": lambda tmp: "alexnet"},
    "costmodel.search_space": {"name": lambda tmp: "mobilenet_v1"},
    "costmodel.latency.load_profile": {"path": lambda tmp: tmp["profile_file"]},
    "costmodel.reference.load_weights": {"path": lambda tmp: tmp["weights_file"]},
    "costmodel.reference.load_network": {"path": lambda tmp: tmp["weights_file"]},
    "costmodel.reference.load_keras_h5": {"path": lambda tmp: tmp["keras_file"]},
    "costmodel.sweep": {"alpha": lambda tmp: [0.25, 0.5]},
    "costmodel.paper.paper_table": {"n": lambda tmp: 1},
    "costmodel.latency.profile_from_dict": {"data": lambda tmp: _profile().to_dict()},
    "costmodel.formula": {"node": lambda tmp: _net().nodes[1]},
    "costmodel.Network.from_dict": {"document": lambda tmp: _net().to_dict()},
    "costmodel.Network.from_json": {"text": lambda tmp: _net().to_json()},
    "costmodel.Network.load": {"path": lambda tmp: tmp["network_file"]},
}


def _targets() -> list[tuple[str, Callable[..., Any]]]:
    seen: set[int] = set()
    out = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or id(obj) in seen:
                continue
            if isinstance(obj, type) and issubclass(obj, BaseException):
                continue
            seen.add(id(obj))
            out.append((f"{module_name}.{name}", obj))
    out += [
        ("costmodel.Network.from_dict", costmodel.Network.from_dict),
        ("costmodel.Network.from_json", costmodel.Network.from_json),
        ("costmodel.Network.load", costmodel.Network.load),
    ]
    space = _space()
    for method in ("sample", "mutate", "crossover", "build", "check_genes", "canonical", "key", "decode"):
        out.append((f"SearchSpace.{method}", getattr(space, method)))
    return [(qualname, f) for qualname, f in out if qualname not in SKIP_CALLABLES]


TARGETS = _targets()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from costmodel.latency import save_profile
    from costmodel.reference import save_weights

    tmp = tmp_path_factory.mktemp("fuzz")
    save_profile(_profile(), tmp / "p.json")
    save_weights(_net(), _weights(), tmp / "w.npz")
    save_weights(_net(), _weights(), tmp / "w.h5", format="keras")
    (tmp / "net.json").write_text(_net().to_json())
    return {
        "profile_file": str(tmp / "p.json"),
        "weights_file": str(tmp / "w.npz"),
        "keras_file": str(tmp / "w.h5"),
        "network_file": str(tmp / "net.json"),
        "path": str(tmp / "out.json"),
        "target": str(tmp / "out.npz"),
    }


def _baseline(qualname: str, sig: inspect.Signature, files: dict[str, str]) -> dict[str, Any]:
    kwargs = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        factory = OVERRIDES.get(qualname, {}).get(p.name) or (BASE.get(p.name) if p.default is p.empty else None)
        if factory is not None:
            kwargs[p.name] = factory(files)
    return kwargs


#: Escapes whose fix belongs to another change, by a piece of the exception's message, each with its owner
#: (remove the entry when that change is in).
ELSEWHERE: dict[str, str] = {}


def _call(f: Callable[..., Any], kwargs: dict[str, Any]) -> BaseException | None:
    """Call; return the exception that is not the project's, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                f(**kwargs)
    except CostModelError:
        return None
    except Exception as exc:  # noqa: BLE001 - exactly what the harness looks for
        if any(piece in str(exc) for piece in ELSEWHERE):
            return None
        return exc
    return None


@pytest.mark.parametrize(("qualname", "f"), TARGETS, ids=[t[0] for t in TARGETS])
def test_only_project_errors_come_out(qualname, f, files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a hostile path that is a plain name is written here, if anywhere
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):  # pragma: no cover - every public callable has a signature
        pytest.skip("no signature")
    base = _baseline(qualname, sig, files)
    escaped = _call(f, base)
    assert escaped is None, f"{qualname}(**baseline) raised {type(escaped).__name__}: {escaped}"
    failures = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in SKIP_PARAMETERS:
            continue
        annotation = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        for label, make in _hostile(annotation, p.name):
            kwargs = {**base, p.name: make()}  # the baseline's values are shared: no callable may change its input
            exc = _call(f, kwargs)
            if exc is not None:
                failures.append(f"{qualname}({p.name}={label}): {type(exc).__name__}: {str(exc)[:150]}")
    assert not failures, "\n".join(failures)
