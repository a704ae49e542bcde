"""Calibrate a device profile on this machine: micro-benchmarks, measurement, then a fit.

The steps, each in a module of its own:

1. **Micro-benchmarks** (:mod:`.microbench`): peak float32 FLOP/s and memory bandwidth, the roofline's two
   rates.
2. **Measurement** (:mod:`.measure`, :mod:`.runtimes`): the runtime (the NumPy reference executor or ONNX
   Runtime) times every layer and every whole pass of the fitting networks (:mod:`.networks`: MobileNets at
   (α, resolution) pairs none of which is held out, and any others given).
3. **Kernel paths** (:mod:`.paths`): which kernel path the runtime ran each kind on, learned from its profile.
4. **Fit** (:mod:`.fit`): per kind and path, efficiency and overheads by non-negative least squares on
   relative residuals; then the whole-pass terms.

The whole calibration takes a few seconds. Progress goes to ``progress`` (stderr in the CLI).

Every name these modules define for calibration stays importable from here (``costmodel.latency.calibrate.X``).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import time
from collections.abc import Sequence

import numpy as np

from ..checks import positive_int
from ..errors import ProfileError
from ..spec.mobilenet import mobilenet_v1
from ..spec.network import Network
from .fit import (  # noqa: F401  (_nnls, _path_shifts: re-exported for the tests)
    DEFAULT_TERMS,
    MAX_EFFICIENCY,
    MIN_PATH_SPREAD,
    TERMS,
    _nnls,
    _path_shifts,
    fit_profile,
    mult_adds_baseline,
)
from .measure import (
    DEFAULT_REPEATS,
    STATISTICS,
    Progress,
    TimeLayers,
    _quiet,
    check_networks_fit,
    measure,
    measure_networks,
)
from .microbench import blas_threads, cache_size, load_average, measure_bandwidth, measure_peak_flops
from .networks import (
    FIT_CONFIGS,
    FIT_CONFIGS_BY_RUNTIME,
    ZOO,
    ZOO_CLASSIC,
    ZOO_FIT_RESOLUTION,
    ZOO_HELD_OUT_RESOLUTION,
    ZOO_MOBILE,
    zoo_networks,
)
from .paths import FROM_PLAIN, learn_paths
from .profiles import DeviceProfile
from .runtimes import RUNTIMES, Measurement, cpu_model, runtime_version

__all__ = [
    "FIT_CONFIGS",
    "FIT_CONFIGS_BY_RUNTIME",
    "ZOO",
    "ZOO_MOBILE",
    "ZOO_CLASSIC",
    "ZOO_FIT_RESOLUTION",
    "ZOO_HELD_OUT_RESOLUTION",
    "zoo_networks",
    "MAX_EFFICIENCY",
    "TERMS",
    "DEFAULT_TERMS",
    "DEFAULT_REPEATS",
    "STATISTICS",
    "MIN_PATH_SPREAD",
    "FROM_PLAIN",
    "Measurement",
    "TimeLayers",
    "measure_peak_flops",
    "measure_bandwidth",
    "cache_size",
    "measure_networks",
    "measure",
    "learn_paths",
    "fit_profile",
    "mult_adds_baseline",
    "calibrate",
]


def calibrate(
    configs: Sequence[tuple[float, int]] | None = None,
    *,
    runtime: str = "numpy",
    networks: Sequence[Network] = (),
    threads: int = 1,
    repeats: int | None = None,
    rounds: int = 5,
    matmul_n: int = 1024,
    copy_bytes: int = 128 * 2**20,
    min_seconds: float = 0.3,
    seed: int = 0,
    time_layers: TimeLayers | None = None,
    progress: Progress = _quiet,
    statistic: str = "min",
    terms: Sequence[str] | None = None,
) -> DeviceProfile:
    """Measure this machine and fit a :class:`DeviceProfile` (float32, batch 1) for ``runtime``.

    Parameters
    ----------
    configs : sequence of (alpha, resolution), optional
        The fitting MobileNets (default: :data:`FIT_CONFIGS_BY_RUNTIME` of the runtime, disjoint from the
        validation set).
    runtime : {"numpy", "onnxruntime"}
        What measures the layers: the reference executor or ONNX Runtime (its profiler per node).
    networks : sequence of Network
        More fitting networks (``--fit-network``): kinds MobileNetV1 lacks get calibrated from them.
    threads : int
        ONNX Runtime's intra-op threads (the CLI sets NumPy's BLAS threads before NumPy loads).
    repeats, rounds : int
        Timed passes per network and round (default :data:`DEFAULT_REPEATS` of the runtime), and rounds.
    matmul_n, copy_bytes : int
        Sizes of the micro-benchmarks; small values make a fast, rough calibration (tests).
    min_seconds : float
        Minimum duration of each micro-benchmark (the fastest call over this window counts).
    time_layers : callable, optional
        Replaces the reference executor's timing (a synthetic device in tests; NumPy runtime only).
    progress : callable
        Called with one line of text per step.
    statistic : {"min", "median"}
        Summary of the NumPy runtime's timed passes (see :func:`measure_networks`); validate with the same one.
    terms : sequence of str, optional
        The model terms to fit (:data:`TERMS`; by default the runtime's :data:`DEFAULT_TERMS`).
    """
    if runtime not in RUNTIMES:
        raise ProfileError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    repeats = DEFAULT_REPEATS[runtime] if repeats is None else repeats
    positive_int(repeats, "repeats", ProfileError)
    positive_int(rounds, "rounds", ProfileError)
    positive_int(threads, "threads", ProfileError)
    if configs is None:
        configs = FIT_CONFIGS_BY_RUNTIME[runtime]
    check_networks_fit(runtime, networks)  # before the micro-benchmarks: nothing measured in vain
    start = time.perf_counter()
    progress(f"peak FLOP/s: fastest {matmul_n}x{matmul_n} float32 matrix product over {min_seconds:g} s ...")
    peak = measure_peak_flops(matmul_n, repeats, min_seconds)
    progress(f"  {peak / 1e9:,.1f} GFLOP/s")
    progress(f"bandwidth: fastest copy of {copy_bytes / 2**20:,.0f} MiB over {min_seconds:g} s ...")
    bandwidth = measure_bandwidth(copy_bytes, repeats, min_seconds)
    progress(f"  {bandwidth / 1e9:,.2f} GB/s (ridge point {peak / bandwidth:,.1f} FLOP/byte)")
    fit_networks = [mobilenet_v1(alpha, resolution) for alpha, resolution in configs] + list(networks)
    progress(f"{runtime}: per-layer timings of {len(fit_networks)} fitting networks, {rounds} rounds ...")
    measurements = measure(
        runtime, fit_networks, repeats=repeats, rounds=rounds, seed=seed, threads=threads,
        time_layers=time_layers, progress=progress, statistic=statistic,
    )  # fmt: skip
    meta = {
        "runtime": runtime,
        "runtime_version": runtime_version(runtime),
        "threads": threads if runtime == "onnxruntime" else blas_threads(),
        "cpu_model": cpu_model(),
        "dtype": "float32",
        "calibrated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": load_average(),
        "fit_configs": [[alpha, resolution] for alpha, resolution in configs],
        "fit_networks": [net.name for net in networks],
        "repeats": repeats,
        "rounds": rounds,
        "statistic": statistic,
        "matmul_n": matmul_n,
        "copy_bytes": copy_bytes,
        "min_seconds": min_seconds,
        "executor": "synthetic" if time_layers is not None else runtime,
    }
    profile = fit_profile(
        peak, bandwidth, measurements, runtime=runtime, name=f"{runtime} on {platform.node() or 'this machine'}",
        meta=meta, terms=terms,
    )  # fmt: skip
    effs = ", ".join(f"{k} {v:.3g}" for k, v in profile.efficiency.items())
    progress(f"fit: efficiency {effs}; overhead {profile.overhead_s * 1e6:,.2f} us/layer")
    elapsed = time.perf_counter() - start
    progress(f"done in {elapsed:,.1f} s")
    return dataclasses.replace(profile, meta={**profile.meta, "calibration_s": round(elapsed, 2)})
