"""Time to build and fully cost one MobileNetV1 configuration (per-layer breakdown included).

Run: python benchmarks/bench_engine.py [--seconds S]

Prints microseconds per call for each stage side by side, and the ratio to the 100 µs target of issue #2
(a search tool calling the engine in a loop). Absolute times drift on a shared machine; the ratios hold.
"""

from __future__ import annotations

import argparse
import statistics
import time

import costmodel
from costmodel.counting.engine import count


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    args = ap.parse_args()

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

    rows = [
        ("build the spec (mobilenet_v1)", per_call_us(build, args.seconds)),
        ("count a built spec (per-layer costs)", per_call_us(count_only, args.seconds)),
        ("build + count, widths revisited (cached)", per_call_us(build_and_count, args.seconds)),
        ("build + count, a new width every call", per_call_us(build_and_count_cold, args.seconds)),
        ("build + count + pandas table", per_call_us(with_table, args.seconds)),
    ]
    target = 100.0
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
