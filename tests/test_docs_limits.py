"""docs/limits.md: every number it quotes is the constant in the code, every test it names exists, and the limits
that no other test holds to their number are checked here at the number and one past it."""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

import pytest

from costmodel.checks import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, MAX_SIZE
from costmodel.cli import build_parser
from costmodel.cli._common import MAX_THREADS
from costmodel.cli.calibrate import MAX_CANDIDATES
from costmodel.errors import DataError, InputError, ProfileError, WeightsError
from costmodel.latency.profiles import MAX_PROFILE_BYTES, load_profile
from costmodel.reference.limits import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_MEMORY_LIMIT,
    MAX_WEIGHT_ARRAYS,
    check_npz,
    max_image_bytes,
)
from costmodel.search.space import MAX_BLOCK_OPTIONS
from costmodel.spec.serialize import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_LAYERS, MAX_NAME_LENGTH, parse_document

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")


def _row(what: str) -> str:
    """The table row of docs/limits.md whose first cell starts with ``what``."""
    rows = [line for line in DOC.splitlines() if line.startswith(f"| {what}")]
    assert len(rows) == 1, f"one row starting {what!r} expected, found {len(rows)}"
    return rows[0]


#: (row, the number as the doc must print it, computed from the constant)
QUOTED = [
    ("a network document", f"{MAX_DOCUMENT_BYTES:,} bytes"),
    ("layers in a network document", f"| {MAX_LAYERS:,} |"),
    ("blocks nested in blocks", f"| {MAX_DEPTH} deep |"),
    ("a name in a network document", f"| {MAX_NAME_LENGTH} printable characters |"),
    ("JSON nesting of a network document", f"| {MAX_JSON_DEPTH} levels |"),
    ("one JSON number", f"| {MAX_NUMBER_CHARS} characters"),
    ("a device profile", f"| {MAX_PROFILE_BYTES:,} bytes |"),
    ("any integer of a spec", f"| {MAX_SIZE:,} (2^31 − 1)"),
    ("any integer of a spec", f"at most {MAX_SIZE:,}, got"),
    ("`--threads`", f"| {MAX_THREADS:,} |"),
    ("`--seed`", f"| {2**63 - 1:,} (2^63 − 1) |"),
    ("`--candidates`", f"| {MAX_CANDIDATES:,} (each"),
    ("options of one search-space block", f"| {MAX_BLOCK_OPTIONS:,} (NAS-Bench-201"),
    ("`--twins`", f"| {10**6:,} |"),
    ("pixels of an input image", f"| {DEFAULT_MAX_IMAGE_PIXELS:,} |"),
    ("bytes of an input image file", f"| {DEFAULT_MAX_IMAGE_BYTES:,} |"),
    ("arrays in an `.npz` weight file", f"| {MAX_WEIGHT_ARRAYS:,} |"),
    ("memory a `run`", f"| {DEFAULT_MEMORY_LIMIT // 2**30} GiB ({DEFAULT_MEMORY_LIMIT:,} bytes) |"),
]


@pytest.mark.parametrize(("row", "quoted"), QUOTED)
def test_numbers_quoted_are_the_constants(row, quoted):
    assert quoted in _row(row)


def test_option_limits_quoted_are_the_parsers():
    """The option bounds in the doc are the ones the parser enforces (read off its actions' types)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    bounds = {}
    for command in sub.choices.values():
        for action in command._actions:
            for option in ("--threads", "--seed", "--candidates", "--twins"):
                if option in action.option_strings:
                    bounds.setdefault(option, set()).add(_largest_accepted(action.type))
    assert bounds == {
        "--threads": {MAX_THREADS},
        "--seed": {2**63 - 1},
        "--candidates": {MAX_CANDIDATES},
        "--twins": {10**6},
    }


def _largest_accepted(parse) -> int:
    """The largest integer an argparse type accepts, found by bisection on its answers."""
    import argparse

    lo, hi = 0, 2**80
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            parse(str(mid))
            lo = mid
        except argparse.ArgumentTypeError:
            hi = mid - 1
    return lo


def test_every_test_named_exists():
    named = set(re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", DOC))
    assert len(named) > 30
    missing = []
    for module, name in sorted(named):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        functions = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if name not in functions:
            missing.append(f"{module}::{name}")
    assert missing == []


def test_every_row_names_a_test():
    rows = [line for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert rows and all("tests/" in row for row in rows), [row for row in rows if "tests/" not in row]


# --- limits held to their number here (no other test does) ------------------------------------------------------


def test_name_length_limit():
    def doc(name: str) -> dict:
        return {"name": "n", "input_size": 8, "layers": [{"type": "softmax", "name": name}]}

    assert parse_document(doc("s" * MAX_NAME_LENGTH))["name"] == "n"
    with pytest.raises(DataError, match=f"at most {MAX_NAME_LENGTH} printable characters"):
        parse_document(doc("s" * (MAX_NAME_LENGTH + 1)))


def test_profile_size_limit(tmp_path):
    text = '{"peak_flops_per_s": 5e10, "bandwidth_bytes_per_s": 1e10}'
    at_limit = tmp_path / "at.json"
    at_limit.write_text(text + " " * (MAX_PROFILE_BYTES - len(text)))
    assert at_limit.stat().st_size == MAX_PROFILE_BYTES and load_profile(at_limit).peak_flops_per_s == 5e10
    over = tmp_path / "over.json"
    over.write_text(text + " " * (MAX_PROFILE_BYTES - len(text) + 1))
    with pytest.raises(ProfileError, match=f"is {MAX_PROFILE_BYTES + 1:,} bytes; the limit is {MAX_PROFILE_BYTES:,}"):
        load_profile(over)


@pytest.mark.parametrize(
    ("argv", "limit"),
    [
        (["count", "--resolution"], MAX_SIZE),
        (["run", "--threads"], MAX_THREADS),
        (["run", "--seed"], 2**63 - 1),
        (["calibrate", "--candidates"], MAX_CANDIDATES),
        (["validate-latency", "--twins"], 10**6),
    ],
)
def test_option_limits(argv, limit, capsys):
    """Each option takes its limit and refuses one more, naming the number typed."""
    from costmodel.cli import main

    parser = build_parser()
    assert getattr(parser.parse_args([*argv, str(limit)]), argv[1].lstrip("-").replace("-", "_")) == limit
    with pytest.raises(SystemExit) as info:
        main([*argv, str(limit + 1), *(["--quick"] if argv[0] == "calibrate" else [])])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and str(limit + 1) in err and f"{limit:,}" in err, err


def test_image_bytes_limit(tmp_path, monkeypatch):
    from costmodel.reference.images import read_image

    monkeypatch.delenv("COSTMODEL_MAX_IMAGE_BYTES", raising=False)
    assert max_image_bytes() == DEFAULT_MAX_IMAGE_BYTES
    image = tmp_path / "big.png"
    with open(image, "wb") as f:  # sparse: the size is what is checked, before a byte is read
        f.truncate(DEFAULT_MAX_IMAGE_BYTES + 1)
    with pytest.raises(InputError, match=f"the limit is {DEFAULT_MAX_IMAGE_BYTES:,}"):
        read_image(image)


def test_npz_array_count_limit(tmp_path):
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(MAX_WEIGHT_ARRAYS + 1):
            z.writestr(f"a{i}.npy", b"")
    with pytest.raises(
        WeightsError, match=f"holds {MAX_WEIGHT_ARRAYS + 1:,} arrays; the limit is {MAX_WEIGHT_ARRAYS:,}"
    ):
        check_npz(path)
