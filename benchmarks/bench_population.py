"""Benchmark: candidates per second of costmodel.cost_population, beside per-candidate costing.

Run: ``taskset -c 1 python benchmarks/bench_population.py`` (one core; ``--quick`` stops at 10^5). Target:
>= 10^6 candidates per second at 10^6 candidates, latency included. For each built-in space it prints, at
10^4, 10^5 and 10^6 random candidates (resolution 224, and one of five resolutions per candidate), the rate
without and with a latency profile, and the ratio to building and costing each candidate one by one
(``space.build`` + ``count`` + ``memory`` [+ ``predict``]), measured in the same run. Each population is
timed as the best of a few runs (the machine is shared), after one call that fills the per-block tables (a
search loop pays that once; its time is printed as "tables").
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

import costmodel
from costmodel.counting.memory import memory
from costmodel.latency.model import predict
from costmodel.latency.profiles import DeviceProfile

# A hand-written profile (the rates are plausible for one core; the benchmark measures costing, not devices).
PROFILE = DeviceProfile(
    peak_flops_per_s=5e10,
    bandwidth_bytes_per_s=1e10,
    default_efficiency=0.5,
    overhead_s=2e-5,
    name="bench",
)
RESOLUTIONS = (160, 175, 192, 209, 224)


def best_seconds(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def per_candidate_seconds(space, genes, resolution, profile) -> float:
    """Mean time to build one candidate and cost it as cost_population does, one by one."""
    t0 = time.perf_counter()
    for row, r in zip(genes, resolution, strict=True):
        net = space.build(row, int(r))
        costmodel.count(net)
        memory(net)
        if profile is not None:
            predict(net, profile)
    return (time.perf_counter() - t0) / len(genes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10^5 candidates")
    args = parser.parse_args()
    sizes = (10**4, 10**5) if args.quick else (10**4, 10**5, 10**6)
    print(
        f"{'space':<17} {'candidates':>10} {'resolution':<10} {'latency':<7} {'tables s':>8} {'seconds':>8} "
        f"{'candidates/s':>13} {'one by one/s':>12} {'x one by one':>12}"
    )
    for name in ("mobilenet_v1", "ofa_mobilenet_v3"):
        space = costmodel.search_space(name)
        rng = np.random.default_rng(0)
        one_by_one = {}
        sample = space.sample(300, seed=1)
        res = rng.choice(RESOLUTIONS, len(sample))
        for profile in (None, PROFILE):
            one_by_one[profile is not None] = per_candidate_seconds(space, sample, res, profile)
        for n in sizes:
            genes = space.sample(n, seed=n)
            for mixed in (False, True):
                resolution = rng.choice(RESOLUTIONS, n) if mixed else 224
                for profile in (None, PROFILE):
                    space = costmodel.search_space(name)  # a new space: cold tables, timed once
                    t0 = time.perf_counter()
                    costmodel.cost_population(
                        space, genes[:1], resolution if not mixed else RESOLUTIONS[:1], profile=profile
                    )
                    if mixed:
                        costmodel.cost_population(space, genes[:5], list(RESOLUTIONS), profile=profile)
                    tables = time.perf_counter() - t0
                    seconds = best_seconds(
                        functools.partial(costmodel.cost_population, space, genes, resolution, profile=profile),
                        repeat=5 if n <= 10**5 else 3,
                    )
                    rate = n / seconds
                    single = 1 / one_by_one[profile is not None]
                    print(
                        f"{name:<17} {n:>10,} {'5 mixed' if mixed else '224':<10} "
                        f"{'yes' if profile else 'no':<7} {tables:>8.3f} {seconds:>8.4f} {rate:>13,.0f} "
                        f"{single:>12,.0f} {rate / single:>12,.0f}"
                    )


if __name__ == "__main__":
    main()
