"""JSON network documents: round trips, validation messages naming layer and field, limits, fuzzing."""

from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import costmodel
from costmodel import Network, count
from costmodel.counting.memory import memory
from costmodel.errors import CostModelError, DataError, SpecError
from costmodel.spec.serialize import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_LAYERS, SCHEMA
from costmodel.spec.zoo import NETWORKS

from_json, load, to_json = Network.from_json, Network.load, Network.to_json

CONVENTIONS = ("paper", "thop", "ptflops", "torchinfo", "keras")


@pytest.mark.parametrize("name", list(NETWORKS))
def test_round_trip_of_every_built_in_network(name):
    net = costmodel.network(name)
    back = from_json(to_json(net))
    assert back.to_dict() == net.to_dict()
    assert [(n.name, n.out_ch, n.out_size) for n in back.leaves()] == [
        (n.name, n.out_ch, n.out_size) for n in net.leaves()
    ]
    for conv in CONVENTIONS:
        assert (count(back, conv).mult_adds, count(back, conv).params) == (
            count(net, conv).mult_adds,
            count(net, conv).params,
        )


def _tiny() -> dict:
    """A hand-written document: conv, a two-branch block, global pool, FC."""
    return {
        "schema": SCHEMA,
        "name": "tiny",
        "input_size": 8,
        "layers": [
            {"type": "conv2d", "name": "c1", "in_ch": 3, "out_ch": 4, "kernel": 3, "stride": 2},
            {
                "type": "concat",
                "name": "mix",
                "branches": [
                    [{"type": "conv2d", "name": "b1", "in_ch": 4, "out_ch": 2, "kernel": 1}],
                    [
                        {"type": "pool2d", "name": "b2p", "kernel": 3, "padding": 1, "mode": "max"},
                        {"type": "conv2d", "name": "b2c", "in_ch": 4, "out_ch": 6, "kernel": 1, "bias": True},
                    ],
                ],
            },
            {"type": "global_avg_pool", "name": "gap"},
            {"type": "linear", "name": "fc", "in_features": 8, "out_features": 5},
        ],
    }


def test_hand_written_document_by_hand():
    net = Network.from_dict(_tiny())
    assert [(n.name, n.out_ch, n.out_size) for n in net] == [
        ("c1", 4, 4),
        ("mix", 8, 4),
        ("gap", 8, 1),
        ("fc", 5, 1),
    ]
    # paper: c1 9*3*4*16, b1 4*2*16, b2c 4*6*16, fc 8*5
    assert count(net).mult_adds == 9 * 3 * 4 * 16 + 4 * 2 * 16 + 4 * 6 * 16 + 8 * 5
    assert count(net, "torch").params == (9 * 3 * 4 + 2 * 4) + (4 * 2 + 2 * 2) + (4 * 6 + 6 + 2 * 6) + (8 * 5 + 5)


def _set(path, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc

    return mutate


_DELETE = object()

BAD = [
    (_set(("layers", 0, "groups"), 2), SpecError, "c1: groups=2 must divide in_ch=3"),
    (_set(("layers", 0, "in_ch"), 4), SpecError, "c1: in_ch=4, but the previous layer gives 3 channels"),
    (_set(("layers", 3, "in_features"), 9), SpecError, "fc: in_features=9, but the previous layer gives 1x1x8 = 8"),
    (_set(("layers", 0, "kernel"), 0), SpecError, "c1: kernel must be a positive integer, got 0"),
    (_set(("layers", 0, "stride"), -1), SpecError, "c1: stride must be a positive integer, got -1"),
    (_set(("layers", 0, "kernel"), 2.0), DataError, r"layers\[0\] 'c1': field 'kernel' must be an integer"),
    (_set(("layers", 0, "bias"), 1), DataError, r"'c1': field 'bias' must be true or false, got 1"),
    (_set(("layers", 0, "activation"), "gelu"), DataError, "field 'activation' must be one of"),
    (_set(("layers", 0, "type"), "conv3d"), DataError, r"layers\[0\]: field 'type' must be one of"),
    (_set(("layers", 0, "dilation"), 2), DataError, r"'c1' \(conv2d\): unknown field\(s\) 'dilation'"),
    (_set(("layers", 0, "out_ch"), _DELETE), DataError, r"'c1' \(conv2d\): missing field\(s\) 'out_ch'"),
    (_set(("layers", 0, "name"), 7), DataError, r"layers\[0\]: field 'name' must be a non-empty string"),
    (_set(("layers", 1, "branches", 1, 1, "in_ch"), 5), SpecError, "b2c: in_ch=5, but the previous layer gives 4"),
    (_set(("layers", 1, "branches", 1, 0, "stride"), 2), SpecError, "mix: branches end at different sizes"),
    (_set(("layers", 1, "branches", 0), []), DataError, r"'mix': branches\[0\] must be a non-empty list"),
    (_set(("layers", 1, "branches", 0, 0, "name"), "c1"), SpecError, "duplicate layer name 'c1'"),
    (_set(("input_size",), "8"), DataError, "field 'input_size' must be an integer, got '8'"),
    (_set(("input_size",), 0), SpecError, "input_size must be a positive integer, got 0"),
    (_set(("input_size",), 2**40), DataError, "'input_size' is out of range"),
    (_set(("layers",), []), DataError, "'layers' must be a non-empty list"),
    (_set(("schema",), "costmodel.network/2"), DataError, "schema must be 'costmodel.network/1'"),
    (_set(("extra",), 1), DataError, "unknown key"),
    (_set(("config",), [1]), DataError, "'config' must be an object"),
]


@pytest.mark.parametrize("mutate,error,match", BAD, ids=[m for *_, m in BAD])
def test_validation_names_layer_and_field(mutate, error, match):
    with pytest.raises(error, match=match):
        Network.from_dict(mutate(_tiny()))


def test_input_that_shrinks_to_nothing_names_the_layer():
    doc = _tiny()
    doc["input_size"] = 2
    doc["layers"][0].update(padding=0)  # 3x3 valid conv on 2x2
    with pytest.raises(SpecError, match="c1: the 2x2 input shrinks to nothing"):
        Network.from_dict(doc)


@pytest.mark.parametrize(
    "text,match",
    [
        ("{", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "nests 100000 levels deep; the limit is 64"),
        (" " * (MAX_DOCUMENT_BYTES + 1), "the limit is"),
        (b"\xff\xfe", "not UTF-8 text"),
        ('{"input_size": ' + "9" * 401 + "}", "a number of 401 characters"),
        ('{"input_size": 1e400}', "a number out of range: 1e400"),
        ('{"input_size": NaN}', "NaN, which is not JSON"),
        ('{"name": "a\\nb", "input_size": 32, "layers": [{"type": "softmax", "name": "s"}]}', "printable"),
        ('{"input_size": 32, "layers": [{"type": "softmax", "name": "s\\u001b[31m"}]}', "printable"),
        ('{"input_size": 32, "input_size": 64, "layers": []}', "has the key 'input_size' twice in one object"),
        ('{"input_size": 32, "layers": [{"type": "softmax", "name": "s", "name": "t"}]}', "key 'name' twice"),
        ('{"name": "' + '\\"' * 300_000, "not valid JSON"),  # quadratic for the old depth check: hours
    ],
    ids=[
        "truncated",
        "array",
        "deeply nested",
        "oversized",
        "bad bytes",
        "401 digits",
        "1e400",
        "NaN",
        "newline",
        "escape",
        "duplicate-key",
        "duplicate-layer-key",
        "unterminated-escapes",
    ],
)
def test_malformed_text(text, match):
    with pytest.raises(DataError, match=match):
        from_json(text)


def test_too_many_layers_and_too_deep():
    doc = _tiny()
    doc["layers"] = [{"type": "softmax", "name": f"s{i}"} for i in range(MAX_LAYERS + 1)]
    with pytest.raises(DataError, match="too many layers"):
        Network.from_dict(doc)
    block: dict = {"type": "softmax", "name": "leaf"}
    for i in range(MAX_DEPTH + 1):
        block = {"type": "concat", "name": f"k{i}", "branches": [[block]]}
    doc["layers"] = [block]
    with pytest.raises(DataError, match=f"nested more than {MAX_DEPTH} deep"):
        Network.from_dict(doc)


def test_load_from_file(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(_tiny()))
    assert load(path).name == "tiny"
    with pytest.raises(DataError, match="missing.json' does not exist"):
        load(tmp_path / "missing.json")
    with pytest.raises(DataError, match="is a folder, not a file"):
        load(tmp_path)
    os.mkfifo(tmp_path / "fifo")  # opening it would block: refused before
    with pytest.raises(DataError, match="is a FIFO"):
        load(tmp_path / "fifo")


# --- fuzzing: nothing but CostModelError may escape ------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["type", "name", "in_ch", "out_ch", "kernel", "stride", "groups", "padding", "bias", "batch_norm",
     "activation", "mode", "ceil_mode", "output_size", "in_features", "out_features", "branches", "layers",
     "input_size", "schema", "config", "x"]
)  # fmt: skip


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _accepts_or_raises_our_error(doc):
    try:
        net = Network.from_dict(doc)
    except CostModelError:
        return
    count(net, "ptflops")  # a network that was accepted can be counted and serialised
    memory(net)
    assert Network.from_dict(net.to_dict()).to_dict() == net.to_dict()


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(doc=JSON)
def test_fuzz_random_documents(doc):
    _accepts_or_raises_our_error(doc)


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 300)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(["tiny", "googlenet", "squeezenet1_1", "mobilenet_v1", "mobilenet_v2"]),
    edits=st.lists(st.tuples(st.integers(0, 10_000), KEYS, JSON, st.sampled_from(["set", "delete", "add"])),
                   min_size=1, max_size=4),
)  # fmt: skip
def test_fuzz_mutated_documents(base, edits):
    doc = _tiny() if base == "tiny" else copy.deepcopy(_DOCS[base])
    for index, key, value, how in edits:
        paths = [p for p in _paths(doc) if p]
        path = paths[index % len(paths)] if paths else ()
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        last = path[-1] if path else None
        if how == "set" and path:
            parent[last] = value
        elif how == "delete" and path:
            del parent[last]
        elif isinstance(parent, dict):
            parent[key] = value
    _accepts_or_raises_our_error(doc)


_DOCS = {
    name: costmodel.network(name).to_dict() for name in ("googlenet", "squeezenet1_1", "mobilenet_v1", "mobilenet_v2")
}


@pytest.mark.parametrize(
    "body,error,match",
    [
        ([{"type": "conv2d", "name": "r1", "in_ch": 4, "out_ch": 4, "kernel": 3}], None, ""),
        ([{"type": "conv2d", "name": "r1", "in_ch": 4, "out_ch": 5, "kernel": 1}], SpecError, "must keep the shape"),
        ([{"type": "conv2d", "name": "r1", "in_ch": 4, "out_ch": 4, "kernel": 1, "stride": 2}], SpecError, "keep"),
        ([], DataError, r"'res': body must be a non-empty list"),
        ({"type": "softmax", "name": "s"}, DataError, r"'res': body must be a non-empty list"),
    ],
)
def test_residual_documents(body, error, match):
    doc = {"input_size": 8, "in_ch": 4, "layers": [{"type": "residual", "name": "res", "body": body}]}
    if error is None:
        net = Network.from_dict(doc)
        assert (net.out_ch, net.nodes[0].out_size) == (4, 8)
        assert count(net).mult_adds == 9 * 4 * 4 * 64  # the body's conv; the addition is free
        assert Network.from_dict(net.to_dict()).to_dict() == net.to_dict()
    else:
        with pytest.raises(error, match=match):
            Network.from_dict(doc)
