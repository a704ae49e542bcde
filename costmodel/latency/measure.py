"""Measure networks on a runtime: the dispatch (:func:`measure`) and the NumPy reference executor's backend.

ONNX Runtime's backend, with the :class:`~costmodel.latency.runtimes.Measurement` both return, is in
:mod:`costmodel.latency.runtimes`.

On a shared machine other processes take the cores now and then. The networks keep their fastest pass
(``statistic="min"``, with that pass's own per-layer times) over several passes and round-robin rounds
(:func:`measure_networks`); the CLI runs NumPy's BLAS on one thread, because a multi-threaded matrix product
stalls whenever one of its threads loses its core.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..checks import positive_int
from ..errors import ProfileError
from ..spec.network import Network
from .runtimes import RUNTIMES, Measurement

__all__ = ["STATISTICS", "DEFAULT_REPEATS", "Progress", "TimeLayers", "measure_networks", "measure"]

Progress = Callable[[str], None]
TimeLayers = Callable[..., Mapping[str, float]]

#: How the passes of one round are summarised: "median" (typical latency) or "min" (least-disturbed pass:
#: the most reproducible figure on a shared machine, where other processes take the core now and then).
STATISTICS = ("min", "median")

#: Timed passes per network and round, per runtime: ONNX Runtime's passes are short (0.2-9 ms) and a pass is
#: disturbed more often than not on a loaded 2-core machine, so it takes more of them.
DEFAULT_REPEATS = {"numpy": 7, "onnxruntime": 20}


def _quiet(message: str) -> None:
    pass


def _measure_once(
    network: Network, repeats: int, seed: int, time_layers: TimeLayers | None, statistic: str
) -> Measurement:
    """One round: ``repeats`` timed forward passes (after a warm-up), per layer and whole, summarised."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((1, network.input_size, network.input_size, network.in_ch), dtype=np.float32)
    if time_layers is not None:
        layer_s = dict(time_layers(network, None, images, repeats=repeats))
        return Measurement(network, layer_s, float(sum(layer_s.values())), runtime="synthetic")
    from .. import reference

    # Fold the batch norms once, as a deployed model would: the forward pass then pays for inference only.
    prepared = reference.prepare(network, reference.init_weights(network, seed=seed))
    reference.execute(network, prepared, images)  # warm-up: buffers allocated, pages touched
    walls, passes = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run = reference.execute(network, prepared, images)  # what forward() runs, with per-layer clocks
        walls.append(time.perf_counter() - start)
        passes.append(run.leaf_seconds)  # blocks layer by layer: a residual's add is timed apart from its body
    if statistic == "min":  # the fastest pass, with its own layer times: they add up to its wall time
        best = int(np.argmin(walls))
        return Measurement(network, dict(passes[best]), float(walls[best]), runtime="numpy")
    layer_s = {name: float(np.median([p[name] for p in passes])) for name in passes[0]}
    return Measurement(network, layer_s, float(np.median(walls)), runtime="numpy")


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


def measure(
    runtime: str,
    networks: Sequence[Network],
    *,
    repeats: int | None = None,
    rounds: int = 5,
    seed: int = 0,
    threads: int = 1,
    time_layers: TimeLayers | None = None,
    progress: Progress = _quiet,
    statistic: str = "min",
) -> list[Measurement]:
    """Measure ``networks`` with ``runtime`` ("numpy": :func:`measure_networks`; "onnxruntime":
    :func:`costmodel.latency.runtimes.measure_onnxruntime`). ``repeats`` defaults to :data:`DEFAULT_REPEATS`."""
    if runtime not in RUNTIMES:
        raise ProfileError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    check_networks_fit(runtime, networks)
    repeats = DEFAULT_REPEATS[runtime] if repeats is None else repeats
    if runtime == "numpy":
        return measure_networks(networks, repeats, rounds, seed, time_layers, progress, statistic)
    if runtime == "onnxruntime":
        from .runtimes import measure_onnxruntime

        return measure_onnxruntime(networks, repeats, rounds, seed, threads, progress, statistic)
    raise ProfileError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")


def check_networks_fit(runtime: str, networks: Sequence[Network]) -> None:
    """Refuse, before anything is measured, a network that is not a :class:`Network` or whose run would need
    more than the memory limit (:func:`costmodel.reference.limits.check_memory`): ``vgg16`` at 2**31 - 1
    pixels is an error naming it, not NumPy's "array is too big" after the micro-benchmarks."""
    from ..reference.limits import check_memory, executor_bytes, export_bytes

    if isinstance(networks, (str, bytes)) or not isinstance(networks, Sequence):
        raise ProfileError(f"networks must be a sequence of Network, got {type(networks).__name__}")
    for network in networks:
        if not isinstance(network, Network):
            raise ProfileError(f"networks must be a sequence of Network, got a {type(network).__name__}")
        needed = executor_bytes(network) if runtime == "numpy" else export_bytes(network)
        what = f"measuring {network.name} at {network.input_size}x{network.input_size}"
        check_memory(needed, what, hint="fit at a smaller resolution")
