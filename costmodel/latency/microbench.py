"""Micro-benchmarks of this machine: peak float32 FLOP/s, memory bandwidth, and the per-core cache size.

1. **Peak FLOP/s**: the fastest of a few large float32 matrix products (``n x n @ n x n`` = 2 n^3 FLOPs),
   with NumPy's BLAS, the library the reference executor's kernels call.
2. **Bandwidth**: the fastest of a few streaming copies of a buffer much larger than the caches
   (``np.copyto``; bytes moved = read + write = 2 x the buffer).
3. **Cache**: the per-core (level 2) cache from Linux's sysfs, for the model's cache term.

On a shared machine other processes take the cores now and then: each benchmark keeps its fastest run over a
window longer than such a burst.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable

import numpy as np

__all__ = ["measure_peak_flops", "measure_bandwidth", "cache_size", "blas_threads", "load_average"]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _best_time(fn: Callable[[], object], repeats: int, min_seconds: float) -> float:
    """Fastest of at least ``repeats`` calls of ``fn`` that together last at least ``min_seconds``.

    On a shared machine a burst of contention slows a few calls; the fastest call over a window longer than
    the burst is what the hardware can do.
    """
    fn()  # warm-up: thread pool start, page faults
    best, spent, calls = float("inf"), 0.0, 0
    while calls < repeats or spent < min_seconds:
        t = _timed(fn)
        best, spent, calls = min(best, t), spent + t, calls + 1
    return best


def measure_peak_flops(n: int = 1024, repeats: int = 5, min_seconds: float = 0.3) -> float:
    """Peak float32 FLOP/s: the fastest product of two ``n x n`` matrices (2 n^3 FLOPs each).

    At least ``repeats`` products, over at least ``min_seconds``.

    >>> measure_peak_flops(n=64, repeats=2, min_seconds=0) > 0
    True
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    return 2.0 * n**3 / _best_time(lambda: np.matmul(a, b, out=out), repeats, min_seconds)


def measure_bandwidth(n_bytes: int = 128 * 2**20, repeats: int = 5, min_seconds: float = 0.3) -> float:
    """Memory bandwidth in bytes/s: the fastest copy of an ``n_bytes`` float32 buffer.

    A copy reads and writes the buffer, so it moves ``2 x n_bytes``. Choose ``n_bytes`` well above the
    last-level cache, or this measures the cache. At least ``repeats`` copies, over at least ``min_seconds``.

    >>> measure_bandwidth(n_bytes=2**20, repeats=2, min_seconds=0) > 0
    True
    """
    n = max(n_bytes // 4, 1)
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    return 2.0 * 4 * n / _best_time(lambda: np.copyto(dst, src), repeats, min_seconds)


def cache_size() -> int:
    """The per-core (level 2) cache in bytes, from Linux's sysfs; 0 when unknown (the cache term is then off)."""
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            with open(f"{index}/level") as f:
                level = int(f.read())
            with open(f"{index}/size") as f:
                size = f.read().strip()
        except (OSError, ValueError):
            continue
        if level == 2 and size[:-1].isdigit():
            return int(size[:-1]) * {"K": 2**10, "M": 2**20}.get(size[-1], 1)
    return 0


def blas_threads() -> str:
    """NumPy's BLAS thread setting as the environment gives it (``"default"`` when unset)."""
    return os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default"))


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded; None where the platform has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None
