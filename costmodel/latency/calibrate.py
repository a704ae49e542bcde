"""Calibrate a device profile on this machine: micro-benchmarks, then a fit to measured per-layer times.

1. **Peak FLOP/s**: the fastest of a few large float32 matrix products (``n x n @ n x n`` = 2 n^3 FLOPs),
   with NumPy's BLAS, the library the reference executor's kernels call.
2. **Bandwidth**: the fastest of a few streaming copies of a buffer much larger than the caches
   (``np.copyto``; bytes moved = read + write = 2 x the buffer).
3. **Fit**: the reference executor (:mod:`costmodel.reference`) runs a few *fitting* configurations
   (:data:`FIT_CONFIGS`, chosen outside the 16 held-out (α, resolution) pairs of the paper's Tables 6-7 that
   :mod:`costmodel.latency.validate` checks against), timing every layer and every whole pass. With the
   roofline time ``r`` of each layer at 100 % efficiency, the measured time ``t`` of a layer of type ``k`` is
   modelled as ``t = r / e_k + o_k``; that is linear in ``x_k = 1 / e_k`` and ``o_k``, so the fit is a
   least-squares problem, solved with non-negative coefficients (an exhaustive search over which coefficients
   are zero: there are only a handful). Each configuration's residuals are divided by its measured total, so
   that small networks weigh as much as large ones: the target is the relative error of a whole network. A
   shared per-layer overhead is then fitted to whole passes (see :func:`fit_profile`).

On a shared machine other processes take the cores now and then. The micro-benchmarks keep their fastest
run; the networks keep their fastest pass (``statistic="min"``, with that pass's own per-layer times) over
several passes and round-robin rounds (:func:`measure_networks`); and the CLI runs NumPy's BLAS on one thread,
because a multi-threaded matrix product stalls whenever one of its threads loses its core. The whole
calibration takes a few seconds. Progress goes to ``progress`` (stderr in the CLI).
"""

from __future__ import annotations

import datetime
import itertools
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..checks import positive_int
from ..errors import ProfileError
from ..spec.mobilenet import mobilenet_v1
from ..spec.network import Network
from .model import predict
from .profiles import DeviceProfile

__all__ = [
    "FIT_CONFIGS",
    "MAX_EFFICIENCY",
    "Measurement",
    "measure_peak_flops",
    "measure_bandwidth",
    "measure_networks",
    "fit_profile",
    "calibrate",
]

#: (α, resolution) of the fitting configurations: none of them is one of the 16 held-out pairs
#: (α ∈ {1.0, 0.75, 0.5, 0.25} x resolution ∈ {224, 192, 160, 128}); together they span the same range of
#: sizes (about 14 M to 600 M Mult-Adds), at odd resolutions so that padding corner cases are exercised too.
FIT_CONFIGS: tuple[tuple[float, int], ...] = ((0.3, 117), (0.35, 211), (0.6, 175), (0.85, 143), (1.1, 199))

#: Upper bound of a fitted efficiency: a layer type may beat the roofline (data in cache), but not by more.
MAX_EFFICIENCY = 20.0

Progress = Callable[[str], None]
TimeLayers = Callable[..., Mapping[str, float]]


def _quiet(message: str) -> None:
    pass


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


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True, slots=True, eq=False)
class Measurement:
    """Measured latency of one network at batch 1: seconds per layer and of the whole forward pass."""

    network: Network
    layer_s: Mapping[str, float]  # {layer name: seconds}, network order
    forward_s: float  # seconds of one whole forward pass


#: How the passes of one round are summarised: "median" (typical latency) or "min" (least-disturbed pass:
#: the most reproducible figure on a shared machine, where other processes take the core now and then).
STATISTICS = ("min", "median")


def _measure_once(
    network: Network, repeats: int, seed: int, time_layers: TimeLayers | None, statistic: str
) -> Measurement:
    """One round: ``repeats`` timed forward passes (after a warm-up), per layer and whole, summarised."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((1, network.input_size, network.input_size, network.in_ch), dtype=np.float32)
    if time_layers is not None:
        layer_s = dict(time_layers(network, None, images, repeats=repeats))
        return Measurement(network, layer_s, float(sum(layer_s.values())))
    from .. import reference

    # Fold the batch norms once, as a deployed model would: the forward pass then pays for inference only.
    prepared = reference.prepare(network, reference.init_weights(network, seed=seed))
    reference.execute(network, prepared, images)  # warm-up: buffers allocated, pages touched
    walls, passes = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run = reference.execute(network, prepared, images)  # what forward() runs, with per-layer clocks
        walls.append(time.perf_counter() - start)
        passes.append(run.seconds)
    if statistic == "min":  # the fastest pass, with its own layer times: they add up to its wall time
        best = int(np.argmin(walls))
        return Measurement(network, dict(passes[best]), float(walls[best]))
    layer_s = {name: float(np.median([p[name] for p in passes])) for name in passes[0]}
    return Measurement(network, layer_s, float(np.median(walls)))


def measure_networks(
    networks: Sequence[Network],
    repeats: int = 7,
    rounds: int = 5,
    seed: int = 0,
    time_layers: TimeLayers | None = None,
    progress: Progress = _quiet,
    statistic: str = "min",
) -> list[Measurement]:
    """Time every network with the reference executor, batch 1, on a random image.

    Each round measures every network once, in turn: ``repeats`` forward passes
    (:func:`costmodel.reference.execute`, the pass :func:`~costmodel.reference.forward` runs, with a clock per
    layer, as :func:`~costmodel.reference.time_layers` uses), each timed whole and per layer. ``statistic``
    summarises a round: ``"min"`` keeps the fastest pass and its own per-layer times (so the layers add up to
    the pass); ``"median"`` keeps the median pass time and per-layer medians. Over rounds, the round with the
    fastest pass counts. Round-robin order spreads a burst of contention from other processes over several
    networks' rounds instead of one network's every measurement, and the choice over rounds drops it.

    ``time_layers(network, weights, images, repeats)`` replaces the executor (tests pass a synthetic device);
    the whole pass is then the sum of its per-layer times.
    """
    positive_int(repeats, "repeats", ProfileError)
    positive_int(rounds, "rounds", ProfileError)
    if statistic not in STATISTICS:
        raise ProfileError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    best: list[Measurement | None] = [None] * len(networks)
    for r in range(rounds):
        for i, network in enumerate(networks):
            progress(f"round {r + 1}/{rounds}, network {i + 1}/{len(networks)}: {network.name} ...")
            m = _measure_once(network, repeats, seed, time_layers, statistic)
            old = best[i]
            if old is None or m.forward_s < old.forward_s:
                best[i] = m
    return [m for m in best if m is not None]


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares ``min |a x - b|`` with ``x >= 0``, by trying every support (a has only a few columns).

    a : ndarray, shape (rows, k), k <= 10; b : ndarray, shape (rows,). Returns x, shape (k,).
    """
    k = a.shape[1]
    if k > 10:
        raise ValueError(f"_nnls is exhaustive; {k} unknowns is too many")
    best_x, best_r = np.zeros(k), float(b @ b)
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            cols = list(support)
            sol, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
            if np.any(sol < 0):
                continue
            r = b - a[:, cols] @ sol
            if float(r @ r) < best_r - 1e-300:
                best_r = float(r @ r)
                best_x = np.zeros(k)
                best_x[cols] = sol
    return best_x


def fit_profile(
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    measurements: Sequence[Measurement],
    *,
    dtype: str = "float32",
    name: str = "calibrated",
    meta: Mapping[str, object] | None = None,
    max_efficiency: float = MAX_EFFICIENCY,
    overhead_by_kind: bool = True,
) -> DeviceProfile:
    """Fit per-layer-type efficiencies (and overheads) to per-layer times, the per-layer overhead to passes.

    Model: ``t_layer = roofline_s / e_kind + o_kind + overhead_s``, with ``0 < e_kind <= max_efficiency``,
    ``o_kind >= 0`` and ``overhead_s >= 0``. The bound on ``e_kind`` matters for a layer type whose time is
    almost all overhead (a softmax): without it the fit could make such a type infinitely fast.

    1. Per-layer least squares (see the module docstring). With ``overhead_by_kind`` (default) every layer
       type gets its own fixed cost ``o_kind`` -- a convolution makes more library calls than a softmax -- and
       the problem splits into one two-unknown fit per type. Without it there is one ``o`` for all types
       and one joint fit; either way this stage's overhead goes into ``overhead_by_kind_s``.
    2. ``overhead_s`` is then set so that whole forward passes come out right: pass time = the sum of the
       layers' stage-1 times + layers x ``overhead_s``, least squares on relative residuals, or 0 if that
       comes out negative. A pass costs a little more than its timed layers (input checks, the loop itself),
       and whole-pass latency is what the model is judged on.

    Parameters
    ----------
    peak_flops_per_s, bandwidth_bytes_per_s : float
        From :func:`measure_peak_flops` and :func:`measure_bandwidth`.
    measurements : sequence of Measurement
        Per-layer and whole-pass times of the fitting configurations (:func:`measure_networks`).
    """
    if not measurements:
        raise ProfileError("fit_profile needs at least one measured network")
    base = DeviceProfile(peak_flops_per_s, bandwidth_bytes_per_s, dtype=dtype)
    placed = [(m, [lat for lat in predict(m.network, base).layers if lat.name in m.layer_s]) for m in measurements]
    rows: dict[str, list[tuple[float, float, float]]] = {}  # kind -> [(roofline_s, measured_s, weight)]
    for m, layers in placed:
        weight = 1.0 / sum(m.layer_s.values())
        for lat in layers:
            rows.setdefault(lat.kind, []).append((lat.roofline_s, float(m.layer_s[lat.name]), weight))
    if not rows:
        raise ProfileError("fit_profile: no measured layer matches a layer of the networks")
    kinds = list(rows)
    # Columns: 1/e per kind, then one overhead per kind (or a shared one). x_k >= 1 / max_efficiency:
    # substitute x_k = x_min + y_k and solve for y >= 0.
    n_overheads = len(kinds) if overhead_by_kind else 1
    a_rows, b_rows = [], []
    for k, kind in enumerate(kinds):
        for roofline, measured, weight in rows[kind]:
            row = np.zeros(len(kinds) + n_overheads)
            row[k] = roofline * weight
            row[len(kinds) + (k if overhead_by_kind else 0)] = weight
            a_rows.append(row)
            b_rows.append(measured * weight)
    a, b = np.array(a_rows), np.array(b_rows)
    x_min = np.zeros(a.shape[1])
    x_min[: len(kinds)] = 1.0 / max_efficiency
    if overhead_by_kind:  # the problem separates: one (1/e, o) pair per kind, rows of that kind only
        x = x_min.copy()
        for k in range(len(kinds)):
            mask = a[:, k] != 0
            cols = [k, len(kinds) + k]
            sub = a[np.ix_(mask, cols)]
            x[cols] += _nnls(sub, b[mask] - sub @ x_min[cols])
    else:
        x = x_min + _nnls(a, b - a @ x_min)
    efficiency = {kind: 1.0 / float(x[k]) for k, kind in enumerate(kinds)}
    kind_overhead = {kind: float(x[len(kinds) + (k if overhead_by_kind else 0)]) for k, kind in enumerate(kinds)}
    # Stage 2: wall = fitted + layers x overhead_s, least squares in relative terms (residuals / wall), so
    # small networks, where a fixed cost matters most, weigh as much as large ones.
    ratio, gap = [], []
    for m, layers in placed:
        fitted = sum(lat.roofline_s / efficiency[lat.kind] + kind_overhead[lat.kind] for lat in layers)
        ratio.append(len(layers) / m.forward_s)
        gap.append((m.forward_s - fitted) / m.forward_s)
    overhead_s = max(float(np.dot(ratio, gap) / np.dot(ratio, ratio)), 0.0)
    return DeviceProfile(
        peak_flops_per_s,
        bandwidth_bytes_per_s,
        efficiency=efficiency,
        overhead_s=overhead_s,
        overhead_by_kind_s=kind_overhead,
        dtype=dtype,
        name=name,
        meta=dict(meta or {}),
    )


def calibrate(
    configs: Sequence[tuple[float, int]] = FIT_CONFIGS,
    *,
    repeats: int = 7,
    rounds: int = 5,
    matmul_n: int = 1024,
    copy_bytes: int = 128 * 2**20,
    min_seconds: float = 0.3,
    seed: int = 0,
    time_layers: TimeLayers | None = None,
    progress: Progress = _quiet,
    statistic: str = "min",
) -> DeviceProfile:
    """Measure this machine and fit a :class:`DeviceProfile` (float32, batch 1).

    Parameters
    ----------
    configs : sequence of (alpha, resolution)
        The fitting configurations (default :data:`FIT_CONFIGS`, disjoint from the validation set).
    repeats, rounds : int
        Timed passes per network and round (:func:`measure_networks`), and the least number of runs of each
        micro-benchmark.
    matmul_n, copy_bytes : int
        Sizes of the micro-benchmarks; small values make a fast, rough calibration (tests).
    min_seconds : float
        Minimum duration of each micro-benchmark (the fastest call over this window counts).
    time_layers : callable, optional
        Replaces the reference executor's timing (a synthetic device in tests).
    progress : callable
        Called with one line of text per step.
    statistic : {"min", "median"}
        Summary of the timed passes (see :func:`measure_networks`); validate with the same one.
    """
    positive_int(repeats, "repeats", ProfileError)
    positive_int(rounds, "rounds", ProfileError)
    start = time.perf_counter()
    progress(f"peak FLOP/s: fastest {matmul_n}x{matmul_n} float32 matrix product over {min_seconds:g} s ...")
    peak = measure_peak_flops(matmul_n, repeats, min_seconds)
    progress(f"  {peak / 1e9:,.1f} GFLOP/s")
    progress(f"bandwidth: fastest copy of {copy_bytes / 2**20:,.0f} MiB over {min_seconds:g} s ...")
    bandwidth = measure_bandwidth(copy_bytes, repeats, min_seconds)
    progress(f"  {bandwidth / 1e9:,.2f} GB/s (ridge point {peak / bandwidth:,.1f} FLOP/byte)")
    progress(f"per-layer timings of {len(configs)} fitting configurations, {rounds} rounds ...")
    networks = [mobilenet_v1(alpha, resolution) for alpha, resolution in configs]
    measurements = measure_networks(networks, repeats, rounds, seed, time_layers, progress, statistic)
    meta = {
        "calibrated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default")),
        "cpu_count": os.cpu_count(),
        "fit_configs": [[alpha, resolution] for alpha, resolution in configs],
        "repeats": repeats,
        "rounds": rounds,
        "statistic": statistic,
        "matmul_n": matmul_n,
        "copy_bytes": copy_bytes,
        "min_seconds": min_seconds,
        "executor": "synthetic" if time_layers is not None else "costmodel.reference",
    }
    profile = fit_profile(
        peak, bandwidth, measurements, name=f"calibrated on {platform.node() or 'this machine'}", meta=meta
    )
    effs = ", ".join(f"{k} {v:.3g}" for k, v in profile.efficiency.items())
    extra = ", ".join(f"{k} {v * 1e6:.1f}" for k, v in profile.overhead_by_kind_s.items())
    progress(f"fit: efficiency {effs}; overhead {profile.overhead_s * 1e6:,.1f} us/layer + per type (us): {extra}")
    progress(f"done in {time.perf_counter() - start:,.1f} s")
    return profile
