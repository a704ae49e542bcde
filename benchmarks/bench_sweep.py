"""Benchmark: configurations per second of costmodel.sweep_arrays, beside the scalar engine's time per config.

Run: ``python benchmarks/bench_sweep.py`` (add ``--quick`` to stop at 10^6 points). Target: >= 10^7
configurations per second on one core, memory proportional to the number of points. Each sweep is timed as the
best of a few runs (the machine is shared); peak memory is measured separately with tracemalloc, which sees
NumPy's allocations.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import costmodel
from costmodel.counting.sweeps import structure, sweep_arrays


def best_seconds(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_bytes(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def scalar_seconds(n: int = 2000) -> float:
    """Mean time of the scalar engine for one configuration: build the network and count it."""
    rng = np.random.default_rng(0)
    alphas = rng.choice(np.arange(8, 129) / 128, n).tolist()
    resolutions = rng.integers(32, 513, n).tolist()
    t0 = time.perf_counter()
    for a, r in zip(alphas, resolutions, strict=True):
        costmodel.count(costmodel.mobilenet_v1(a, r))
    return (time.perf_counter() - t0) / n


def cases(n: int, rng: np.random.Generator):
    """(label, thunk) for the three input shapes a caller meets."""
    a_lattice = rng.choice(np.arange(8, 129) / 128, n)  # α on a 1/128 grid, as a search space would have
    r_any = rng.integers(32, 513, n)
    a_float = rng.uniform(1 / 32, 1.5, n)  # every α distinct
    n_alpha = int(np.sqrt(n))
    grid_alpha = np.linspace(0.05, 1.5, n_alpha)
    grid_res = np.arange(32, 32 + n // n_alpha)
    return [
        ("paired, alpha on a 1/128 grid", n, lambda: sweep_arrays(a_lattice, r_any, grid=False)),
        ("paired, alpha all distinct", n, lambda: sweep_arrays(a_float, r_any, grid=False)),
        (
            f"grid {n_alpha} x {n // n_alpha}",
            n_alpha * (n // n_alpha),
            lambda: sweep_arrays(grid_alpha, grid_res, grid=True),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10^6 points")
    args = parser.parse_args()
    structure()  # read the spec once, as any long-running caller would
    per_config = scalar_seconds()
    print(f"scalar engine (mobilenet_v1 + count): {per_config * 1e6:,.1f} us per configuration")
    print(f"{'points':>10}  {'case':<32} {'seconds':>9} {'configs/s':>12} {'x scalar':>9} {'peak B/point':>13}")
    sizes = (10**4, 10**6) if args.quick else (10**4, 10**6, 10**7)
    rng = np.random.default_rng(0)
    for n in sizes:
        for label, points, fn in cases(n, rng):
            seconds = best_seconds(fn, repeat=5 if n <= 10**6 else 3)
            rate = points / seconds
            peak = peak_bytes(fn)
            print(
                f"{points:>10,}  {label:<32} {seconds:>9.4f} {rate:>12,.0f} "
                f"{rate * per_config:>9,.0f} {peak / points:>13.1f}"
            )


if __name__ == "__main__":
    main()
