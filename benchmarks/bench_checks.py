"""Benchmark: every input check runs in time linear in its input, up to the input's size limit.

Run: ``python benchmarks/bench_checks.py`` (``--quick`` for two sizes, ``--old`` to time the former quadratic
depth-check pattern beside it). Each family of adversarial input is fed at sizes doubling up to its limit
(1 MB for a network document and a device profile, 10,000 layers for a network), and each check is timed as the
best of a few runs (the machine is shared). The column ``x prev`` is the time ratio to the size before: about 2
for a linear check, about 4 for a quadratic one.

Families: an unterminated run of ``\\"`` (quadratic for the old depth check: 16 s at 40 kB), a run of escaped
backslashes, one long string, nesting 500,000 deep (refused by the depth check), many keys, many keys with one
repeated at the end (refused), many 40-character numbers, many layers (a valid document, built into a Network),
and a size text for ``--memory-limit`` / ``$COSTMODEL_MAX_IMAGE_PIXELS``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from costmodel.checks import json_depth
from costmodel.errors import CostModelError
from costmodel.latency.profiles import MAX_PROFILE_BYTES, load_profile
from costmodel.reference.limits import parse_bytes
from costmodel.spec.network import Network
from costmodel.spec.serialize import MAX_DOCUMENT_BYTES, MAX_LAYERS, parse_json


def _fill(head: str, unit: str, tail: str, size: int) -> str:
    """``head + unit * n + tail`` of at most ``size`` characters."""
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def _keys(size: int, repeat_last: bool) -> str:
    items, total, i = [], 2, 0
    while total < size - 40:
        item = f'"k{i}": 0'
        items.append(item)
        total += len(item) + 2
        i += 1
    if repeat_last:
        items.append('"k0": 1')
    return "{" + ", ".join(items) + "}"


#: name -> (make text of a given size, limit in characters)
JSON_FAMILIES: dict[str, Callable[[int], str]] = {
    'unterminated \\" run': lambda n: _fill('{"name": "', '\\"', "", n),
    "escaped backslashes": lambda n: _fill('{"name": "', "\\\\", '"}', n),
    "one long string": lambda n: _fill('{"name": "', "a", '"}', n),
    "nesting (refused)": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "many keys": lambda n: _keys(n, False),
    "a key twice (refused)": lambda n: _keys(n, True),
    "40-digit numbers": lambda n: _fill("[", "1234567890123456789012345678901234567890, ", "0]", n),
}


def _spec_of(layers: int) -> str:
    body = [{"type": "softmax", "name": f"s{i}"} for i in range(layers)]
    return json.dumps({"name": "bench", "input_size": 8, "layers": body})


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        with contextlib.suppress(CostModelError):  # refused: the time to refuse is what is measured
            fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sizes_to(limit: int, count: int) -> list[int]:
    return [limit >> k for k in range(count - 1, -1, -1)]


def report(title: str, unit: str, rows: list[tuple[int, float]]) -> None:
    print(f"\n{title}")
    print(f"  {unit:>12}  {'time (ms)':>10}  {'us per 1000':>11}  {'x prev':>7}")
    previous = None
    for size, seconds in rows:
        ratio = f"{seconds / previous:7.2f}" if previous else "       "
        print(f"  {size:>12,}  {1e3 * seconds:10.2f}  {1e6 * seconds / (size / 1000):11.2f}  {ratio}")
        previous = seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two sizes per family (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point; the best counts (default 3)")
    parser.add_argument("--old", action="store_true", help="also time the former depth-check pattern (quadratic)")
    args = parser.parse_args()
    count = 2 if args.quick else 4

    for name, make in JSON_FAMILIES.items():
        rows = []
        for size in sizes_to(MAX_DOCUMENT_BYTES, count):
            text = make(size)
            rows.append((len(text.encode()), best_seconds(lambda text=text: parse_json(text), args.repeat)))
        report(f"network document (parse_json, limit {MAX_DOCUMENT_BYTES:,} B): {name}", "bytes", rows)

    with tempfile.TemporaryDirectory() as tmp:
        for name in ('unterminated \\" run', "nesting (refused)", "a key twice (refused)"):
            rows = []
            for size in sizes_to(MAX_PROFILE_BYTES, count):
                path = Path(tmp) / f"p{size}.json"
                path.write_text(JSON_FAMILIES[name](size))
                rows.append((size, best_seconds(lambda path=path: load_profile(path), args.repeat)))
            report(f"device profile (load_profile, limit {MAX_PROFILE_BYTES:,} B): {name}", "bytes", rows)

    rows = []
    for layers in sizes_to(MAX_LAYERS, count):
        text = _spec_of(layers)
        rows.append((layers, best_seconds(lambda text=text: Network.from_json(text), args.repeat)))
    report(f"network document with many layers (Network.from_json, limit {MAX_LAYERS:,})", "layers", rows)

    rows = []
    for size in sizes_to(MAX_DOCUMENT_BYTES, count):
        text = " " * (size - 2) + "1x"  # a near match, backtracked
        rows.append((size, best_seconds(lambda text=text: parse_bytes(text, "--memory-limit"), args.repeat)))
    report("a size text (parse_bytes; no limit of its own, timed to 1 MB)", "bytes", rows)

    if args.old:
        old = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
        rows = []
        for size in (5_000, 10_000, 20_000):
            text = _fill('{"name": "', '\\"', "", size)
            rows.append((size, best_seconds(lambda text=text: old.sub('""', text), 1)))
        report('the former depth-check pattern on an unterminated \\" run (quadratic)', "bytes", rows)
        rows = []
        for size in (5_000, 10_000, 20_000):
            text = _fill('{"name": "', '\\"', "", size)
            rows.append((size, best_seconds(lambda text=text: json_depth(text), args.repeat)))
        report("json_depth now, same inputs", "bytes", rows)


if __name__ == "__main__":
    main()
