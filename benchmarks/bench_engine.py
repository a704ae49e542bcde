"""Time to build and fully cost one MobileNetV1 configuration (per-layer breakdown included).

Run: python benchmarks/bench_engine.py [--seconds S] [--baseline REF]

Prints microseconds per call for each stage side by side, and the ratio to the 100 µs target of issue #2
(a search tool calling the engine in a loop). Absolute times drift on a shared machine; the ratios hold.

With ``--baseline REF`` (a git revision, e.g. ``e8cfcf1``, the last commit before the subpackage layout) the
same measurements run on that revision's ``costmodel/`` too, extracted with ``git archive`` into a temporary
folder: both in fresh interpreters, alternating three times, each stage's median shown before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import costmodel

count = costmodel.count  # the public API: the same name before and after the layout change


def per_call_us(fn, seconds: float) -> float:
    """Median over 7 rounds of the mean time per call, each round about seconds/7 long."""
    n = 1
    while True:  # calibrate the inner loop to ~10 ms
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 > 0.01:
            break
        n *= 2
    rounds = []
    for _ in range(7):
        reps = max(1, int(n * (seconds / 7) / 0.01))
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        rounds.append((time.perf_counter() - t0) / reps * 1e6)
    return statistics.median(rounds)


def measure(seconds: float) -> dict[str, float]:
    """Microseconds per call of each stage."""
    configs = [(1.0, 224), (0.75, 192), (0.5, 161), (0.25, 128)]
    i = iter(range(10**12))
    # A new width every call defeats the cache of layers per width (mobilenet._layers): the cold path.
    fresh = iter(0.25 + 1e-9 * k for k in range(10**12))

    def build() -> None:
        a, r = configs[next(i) % 4]
        costmodel.mobilenet_v1(a, r)

    def build_and_count() -> None:
        a, r = configs[next(i) % 4]
        c = count(costmodel.mobilenet_v1(a, r))
        assert c.layers[0].mult_adds > 0

    def build_and_count_cold() -> None:
        c = count(costmodel.mobilenet_v1(next(fresh), 160 + next(i) % 64))
        assert c.layers[0].mult_adds > 0

    net = costmodel.mobilenet_v1()

    def count_only() -> None:
        count(net)

    def with_table() -> None:
        count(net).table()

    return {
        "build the spec (mobilenet_v1)": per_call_us(build, seconds),
        "count a built spec (per-layer costs)": per_call_us(count_only, seconds),
        "build + count, widths revisited (cached)": per_call_us(build_and_count, seconds),
        "build + count, a new width every call": per_call_us(build_and_count_cold, seconds),
        "build + count + pandas table": per_call_us(with_table, seconds),
    }


def _run(pythonpath: str | None, seconds: float) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, __file__, "--seconds", str(seconds), "--json"],
        env=env, capture_output=True, text=True, check=True, cwd=pythonpath or None,
    ).stdout  # fmt: skip
    result = json.loads(out)
    where = Path(result.pop("costmodel")).resolve()
    if pythonpath and not where.is_relative_to(Path(pythonpath).resolve()):
        raise SystemExit(f"the subprocess imported {where}, not the tree under {pythonpath}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    ap.add_argument("--baseline", metavar="REF", help="also measure this git revision, side by side")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps({"costmodel": costmodel.__file__, **measure(args.seconds)}))
        return
    target = 100.0
    if args.baseline:
        repo = Path(__file__).resolve().parents[1]
        with tempfile.TemporaryDirectory() as old:
            archive = subprocess.run(["git", "archive", args.baseline, "costmodel"], cwd=repo, capture_output=True,
                                     check=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for _ in range(3):  # alternate, so that a change in the machine's load hits both alike
                runs["before"].append(_run(old, args.seconds))
                runs["after"].append(_run(str(repo), args.seconds))
        print(f"{'stage':42s} {'before µs':>10s} {'after µs':>10s} {'after/before':>13s}")
        for name in runs["after"][0]:
            before = statistics.median(r[name] for r in runs["before"])
            after = statistics.median(r[name] for r in runs["after"])
            print(f"{name:42s} {before:10.1f} {after:10.1f} {after / before:13.2f}")
        print(f"(before: {args.baseline}; after: the working tree; medians of 3 alternating fresh interpreters)")
        return
    rows = list(measure(args.seconds).items())
    print(f"{'stage':42s} {'µs/call':>10s} {'x target (100 µs)':>18s}")
    for name, us in rows:
        print(f"{name:42s} {us:10.1f} {us / target:18.2f}")
    for name, us in rows[2:4]:
        print(
            f"\n{name}: {1e6 / us:,.0f} configurations/s on one core; "
            f"{'meets' if us < target else 'misses'} the 100 µs target ({us / target:.2f}x).",
            end="",
        )
    print()


if __name__ == "__main__":
    main()
