"""The shared validators of costmodel.checks: strict, linear-time JSON, and the integer checks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel.checks import MAX_JSON_DEPTH, MAX_SIZE, json_depth, load_json, positive_int
from costmodel.errors import CostModelError, DataError, SpecError


def _depth(value: object) -> int:
    """Nesting depth from the parsed value: the oracle for json_depth, which reads the text unparsed."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


#: Strings full of what confuses a scanner: brackets, quotes, backslashes, escaped quotes at the end.
_TRICKY = st.text(alphabet='[]{}"\\\\/ab\n\u00e9\u2028', max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | _TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(doc=_JSON, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_depth_of_any_document_equals_the_depth_of_its_parse(doc, ascii_only, indent):
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=indent)
    assert json_depth(text) == _depth(json.loads(text))


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('"' + '\\"' * 10_000, 0),  # the quadratic case of the old pattern: an unterminated run of \"
        ('["' + '\\"' * 10_000 + '"]', 1),
        ('"' + "\\\\" * 10_000 + '"[[', 2),  # escaped backslashes: the quote after them closes the string
        ('["\\\\"' + ', "]"' * 5 + "]", 1),
        ("[" * 70 + "]" * 70, 70),
        ('{"a": "' + "[" * 1000 + '"}', 1),
        ("", 0),
    ],
    ids=["unterminated-escapes", "escapes-in-array", "escaped-backslashes", "quoted-brackets", "70-deep", "str", "0"],
)
def test_depth_of_adversarial_text(text, depth):
    assert json_depth(text) == depth


def test_deep_json_is_refused_before_parsing():
    with pytest.raises(DataError, match=f"nests 100000 levels deep; the limit is {MAX_JSON_DEPTH}"):
        load_json("[" * 100_000 + "]" * 100_000, "spec", DataError)
    assert load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "spec") is not None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"alpha": 1.0, "alpha": 0.5}', "'alpha'"),
        ('{"a": {"b": 1, "c": 2, "b": 3}}', "'b'"),
        ('[{"x": 1}, {"y": 1, "y": 1}]', "'y'"),  # the same value twice is still two keys
        ('{"\\u0061": 1, "a": 2}', "'a'"),  # one key, spelled two ways
        ('{"' + "k" * 100 + '": 1, "' + "k" * 100 + '": 2}', "... (100 characters)"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key(text, key):
    with pytest.raises(DataError, match=r"has the key .* twice in one object") as info:
        load_json(text, "network document", DataError)
    assert key in str(info.value)


def test_distinct_keys_in_different_objects_are_fine():
    assert load_json('{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}', "x") == {"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}


def test_errors_are_the_given_class():
    for bad in ("{", '{"a": NaN}', '{"a": 1e400}', "1" * 41, b"\xff", 3):
        with pytest.raises(SpecError):
            load_json(bad, "x", SpecError)  # type: ignore[arg-type]
    with pytest.raises(CostModelError):
        load_json('{"a": 1, "a": 2}', "x")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**70, f"must be at most {MAX_SIZE:,}, got 1180591620717411303424"),
        (-5, "must be a positive integer, got -5"),
        (1.5, "must be a positive integer, got 1.5"),
        (True, "must be a positive integer, got True"),
    ],
)
def test_positive_int_says_what_is_wrong(value, message):
    with pytest.raises(SpecError, match=message):
        positive_int(value, "resolution")
