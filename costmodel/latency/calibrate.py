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

import dataclasses
import datetime
import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..checks import positive_int
from ..counting.engine import count
from ..errors import ProfileError
from ..spec.mobilenet import mobilenet_v1
from ..spec.network import Network
from ..spec.zoo import network as zoo_network
from .model import LayerGeometry, geometry, predict
from .profiles import INPUT_PATH, DeviceProfile
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
        passes.append(run.leaf_seconds)  # blocks layer by layer: a residual's add is timed apart from its body
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
    """Least squares ``min |a x - b|`` with ``x >= 0`` (Lawson and Hanson's active-set method).

    a : ndarray, shape (rows, k); b : ndarray, shape (rows,). Returns x, shape (k,). Columns are scaled to unit
    norm first (the unknowns mix seconds per roofline second and seconds).
    """
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    a = a / scale
    k = a.shape[1]
    x = np.zeros(k)
    passive = np.zeros(k, dtype=bool)
    tol = 1e-12 * max(1.0, float(np.abs(a).sum()))
    for _ in range(3 * k + 3):
        w = a.T @ (b - a @ x)
        if passive.all() or float(np.max(np.where(passive, -np.inf, w))) <= tol:
            break
        passive[int(np.argmax(np.where(passive, -np.inf, w)))] = True
        while True:
            z = np.zeros(k)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if np.all(z[passive] > tol):
                x = z
                break
            neg = passive & (z <= tol)
            step = float(np.min(x[neg] / (x[neg] - z[neg])))
            x = x + step * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
    return x / scale


#: The model's terms, each of which the fit can leave out (:func:`fit_profile`'s ``terms``, the ablation):
#: per-kind efficiency (else one for all kinds), per-kind fixed overhead, per-group overhead, the cost of bytes
#: beyond the per-core cache, activations the runtime does not fuse, kinds split by
#: the runtime's kernel path (with channel padding), the layout changes between paths, and the whole-pass
#: terms fitted to passes timed without the profiler (per-layer overhead, per-network overhead, the
#: profiler's own cost per node).
TERMS = ("efficiency", "overheads", "groups", "cache", "paths", "transitions", "activations", "network")


#: The terms fitted by default, per runtime. NumPy leaves the cache term out: on the reference executor it
#: made the held-out error worse in both runs that compared it (median 2.7 -> 3.0 % and 2.0 -> 3.2 %).
DEFAULT_TERMS: dict[str, tuple[str, ...]] = {
    "numpy": tuple(t for t in TERMS if t != "cache"),
    "onnxruntime": TERMS,
}


def learn_paths(measurements: Sequence[Measurement]) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The kernel path rule of every kind, and the channel block of every path, from profiled runs.

    For each kind, the observations are (input channels, the path the layer ran on, the previous layer's
    path). The rule is the simplest that explains all of them: one path always; else "the path of the layer
    before"; else the first path when the input channels are a multiple of ``m`` or fewer than ``t`` (the
    smallest ``m`` in 1, 2, 4, ... 64 and the smallest power of two ``t`` that fit), the other path otherwise;
    with three paths, the third holds the channel counts below ``t`` (``"below"``). A blocked layer whose
    weights show an unpadded input (fewer channels than a block) is on its own path, ``<path>-from-plain``.
    A kind no rule explains is a ProfileError naming it. The channel block of a path is the greatest common
    divisor of the output channels its nodes' weights have (ORT pads them to whole blocks), when padding was
    seen at all.
    """
    from .kinds import latency_kind

    seen: list[tuple[str, int, int, int, str, tuple[int, ...]]] = []  # (kind, in, out, groups, path, weights)
    obs: dict[str, list[tuple[int, str, str]]] = {}
    outs: dict[str, list[tuple[int, int]]] = {}  # path -> [(spec out channels, runtime's out channels)]
    for m in measurements:
        if not m.path_of:
            continue
        weights = {ln.layer: ln.nodes[0].input_shapes for ln in m.nodes if ln.nodes}
        for node in m.network.nodes:
            for leaf in node.leaves():
                path = m.path_of.get(leaf.name)
                if path is None:
                    continue
                shapes = weights.get(leaf.name, ())
                shape: tuple[int, ...] = (
                    shapes[1] if len(shapes) > 1 and len(shapes[1]) == 4 else ()
                )  # (out, in/g, k, k)
                if shape:
                    outs.setdefault(path, []).append((leaf.out_ch, shape[0]))
                groups = getattr(leaf.layer, "groups", 1)
                seen.append((latency_kind(leaf.layer), leaf.in_ch, leaf.out_ch, groups, path, shape))
            seen.append(("", 0, 0, 0, "", ()))  # a network boundary
    blocks = {}
    for path, pairs in outs.items():
        if any(spec != got for spec, got in pairs):
            blocks[path] = math.gcd(*[got for _, got in pairs])
    previous = INPUT_PATH
    for kind, in_ch, _, groups, path, shape in seen:
        if not kind:
            previous = INPUT_PATH
            continue
        block = blocks.get(path)
        if block and groups == 1 and shape and shape[1] == in_ch and in_ch % block:
            path = f"{path}{FROM_PLAIN}"  # the blocked kernel reading an unblocked input (fewer channels than a block)
            blocks.setdefault(path, block)
        obs.setdefault(kind, []).append((in_ch, path, previous))
        previous = path
    rules: dict[str, dict[str, Any]] = {}
    for kind, rows in obs.items():
        rule = _path_rule(rows)
        if rule is None:
            shown = sorted({(c, p) for c, p, _ in rows})[:8]
            raise ProfileError(f"cannot learn the kernel path rule of {kind!r} from the runtime's profile: {shown}")
        rules[kind] = rule
    return rules, blocks


#: Suffix of a blocked path whose layer reads an unblocked input: ORT's NCHWc convolution of an input with fewer
#: channels than a block (the RGB image, a 1x1 convolution of 9-15 channels) runs another, slower kernel.
FROM_PLAIN = "-from-plain"


def _path_rule(rows: Sequence[tuple[int, str, str]]) -> dict[str, Any] | None:
    """The simplest rule over (channels, path, previous path) observations; see :func:`learn_paths`."""
    paths = sorted({p for _, p, _ in rows})
    if len(paths) == 1:
        return {"path": paths[0]}
    if all(p == previous for _, p, previous in rows):
        return {"same_as_input": True}
    for below in [None, *paths] if len(paths) == 3 else [None]:
        rest = [p for p in paths if p != below]
        t0 = 0
        if below is not None:  # the "below" path holds exactly the channel counts under a power of two
            t0 = 1 << max(c for c, p, _ in rows if p == below).bit_length()
            if any(c < t0 for c, p, _ in rows if p != below):
                continue
        if len(rest) != 2:
            continue
        for first, other in (rest, rest[::-1]):
            for m in (1, 2, 4, 8, 16, 32, 64):
                odd = [c for c, p, _ in rows if p == first and c % m]
                t = t0 if not odd else max(t0, 1 << max(odd).bit_length())
                if below is not None and t != t0:
                    continue
                if all(c % m and c >= t for c, p, _ in rows if p == other):
                    rule: dict[str, Any] = {"path": first, "channels_multiple_of": m, "channels_below": t}
                    if below is not None:
                        rule["below"] = below
                    rule["otherwise"] = other
                    return rule
    return None


def _profiler_cost_per_node(measurements: Sequence[Measurement]) -> float:
    """How far profiled per-node times exceed passes timed without the profiler, per node (>= 0)."""
    costs = []
    for m in measurements:
        n = sum(len(ln.nodes) + len(ln.glue) for ln in m.nodes)
        if n:
            profiled = sum(ln.seconds + ln.glue_s for ln in m.nodes)
            costs.append((profiled - m.forward_s) / n)
    return max(float(np.median(costs)), 0.0) if costs else 0.0


def fit_profile(
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    measurements: Sequence[Measurement],
    *,
    runtime: str = "numpy",
    dtype: str = "float32",
    name: str = "calibrated",
    meta: Mapping[str, object] | None = None,
    max_efficiency: float = MAX_EFFICIENCY,
    terms: Sequence[str] | None = None,
    cache_bytes: int | None = None,
) -> DeviceProfile:
    """Fit the profile's terms to measured per-layer times, and its whole-pass terms to measured passes.

    Model of one layer of kind ``k`` on path ``p`` (see :mod:`costmodel.latency.model`):
    ``t = roofline_s / e_kp + o_kp + groups x g_kp`` plus, where the path changes, ``transition_s / e_t + o_t``.
    All of it is linear in ``1 / e`` and the overheads, so each is a non-negative least-squares problem
    (:func:`_nnls`), one per kind and path, with every network's rows divided by its measured total (small
    networks weigh as much as large ones: the target is the relative error of a whole network) and
    ``e <= max_efficiency`` (a kind whose time is nearly all overhead must not become infinitely fast).

    Then the whole-pass terms: a pass costs the sum of its layers plus ``overhead_s`` per layer plus
    ``overhead_network_s``, both fitted (non-negative, relative residuals) to passes timed whole. For a
    runtime measured with its profiler on, the per-node times first lose the profiler's own cost per node
    (how far they exceed the unprofiled passes; in ``meta["profiler_cost_per_node_s"]``).

    ``terms`` (a subset of :data:`TERMS`; default :data:`DEFAULT_TERMS` of the runtime) leaves terms out, for
    the ablation: without ``"efficiency"`` one efficiency serves every kind; without ``"paths"`` a kind is one
    kind whatever path ran it.
    """
    if terms is None:
        terms = DEFAULT_TERMS.get(runtime, TERMS)
    unknown = sorted(set(terms) - set(TERMS))
    if unknown:
        raise ProfileError(f"unknown model term {unknown[0]!r}; terms: {', '.join(TERMS)}")
    if not measurements:
        raise ProfileError("fit_profile needs at least one measured network")
    chosen = set(terms)
    paths, blocks = learn_paths(measurements) if "paths" in chosen else ({}, {})
    cache = (cache_bytes if cache_bytes is not None else cache_size()) if "cache" in chosen else 0
    base = DeviceProfile(
        peak_flops_per_s, bandwidth_bytes_per_s, paths=paths, channel_block=blocks, dtype=dtype, runtime=runtime,
        cache_bytes=cache,
    )  # fmt: skip
    per_node = _profiler_cost_per_node(measurements) if "network" in chosen else 0.0
    rows: dict[str, list[tuple[float, float, float, float, float]]] = {}  # key -> [(roofline, groups, spill, t, w)]
    changes: dict[str, list[tuple[float, float, float]]] = {}  # "A->B" -> [(roofline, measured, weight)]
    acts: dict[str, list[tuple[float, float, float]]] = {}  # activation -> [(roofline, measured, weight)]
    placed = []
    wholes: list[tuple[Measurement, str, list[LayerGeometry], float]] = []  # blocks timed only as a whole
    for m in measurements:
        nodes = {ln.layer: ln for ln in m.nodes}
        weight = 1.0 / sum(m.layer_s.values())
        whole = {
            node.name
            for node in m.network.nodes
            if node.branches and node.name in m.layer_s and not any(leaf.name in m.layer_s for leaf in node.leaves())
        }  # the NumPy executor times a residual block as one step: its add is fitted after the other kinds
        # A block's own add or multiply (groups 0) that the runtime does not report by itself was fused into the
        # layer before it (ORT folds a residual add into the NCHWc convolution): it costs nothing of its own.
        layers = [g for g in geometry(m.network, base) if g.name in m.layer_s or g.groups == 0]
        placed.append((m, layers))
        merges = {node.name: (node.merge or node).name for node in m.network.nodes if node.branches}
        for name in whole:
            wholes.append((m, name, [g for g in layers if g.name == merges[name] and g.groups == 0], weight))
        skip = {merges[name] for name in whole}
        for g in layers:
            if g.name in skip:
                continue
            ln = nodes.get(g.name)
            measured = float(m.layer_s.get(g.name, 0.0)) - (per_node * len(ln.nodes) if ln else 0.0)
            activation_s = getattr(m, "activation_s", None)  # (measurements pickled before the field existed)
            if g.activation and "activations" in chosen and activation_s:  # the runtime reported its nodes
                act = float(activation_s.get(g.name, 0.0))
                acts.setdefault(g.activation, []).append((g.activation_s, act, weight))
                measured -= act
            glue = float(m.glue_s.get(g.name, 0.0)) - (per_node * len(ln.glue) if ln else 0.0)
            if g.transition and "transitions" in chosen:
                changes.setdefault(g.transition, []).append((g.transition_s, max(glue, 0.0), weight))
            else:
                measured += glue
            row = (g.roofline_s, g.groups, g.spill_s, max(measured, 0.0), weight)
            rows.setdefault(base.key(g.kind, g.path), []).append(row)
    if not rows:
        raise ProfileError("fit_profile: no measured layer matches a layer of the networks")
    x_min = 1.0 / max_efficiency
    efficiency, overhead, per_group, spill = _fit_kinds(rows, chosen, x_min)
    if wholes:
        _fit_whole_blocks(wholes, base, efficiency, overhead, per_group, spill, chosen, x_min)
    transitions = {key: _fit_pass(entries, x_min) for key, entries in changes.items()}
    activations = {key: _fit_pass(entries, x_min) for key, entries in acts.items() if any(t > 0 for _, t, _ in entries)}
    profile = DeviceProfile(
        peak_flops_per_s, bandwidth_bytes_per_s, efficiency=efficiency, overhead_by_kind_s=overhead,
        overhead_per_group_s=per_group, paths=paths, channel_block=blocks, transitions=transitions, dtype=dtype,
        runtime=runtime, name=name, cache_bytes=cache, spill=spill, activations=activations,
    )  # fmt: skip
    overhead_s, network_s = 0.0, 0.0
    path_shift: dict[str, float] = {}
    if "network" in chosen and paths:
        overhead, path_shift = _path_shifts(placed, base, profile, overhead, per_node)
        profile = DeviceProfile(
            peak_flops_per_s, bandwidth_bytes_per_s, efficiency=efficiency, overhead_by_kind_s=overhead,
            overhead_per_group_s=per_group, paths=paths, channel_block=blocks, transitions=transitions,
            dtype=dtype, runtime=runtime, name=name, cache_bytes=cache, spill=spill, activations=activations,
        )  # fmt: skip
    if "network" in chosen:  # wall = sum of the layers + layers x overhead_s + overhead_network_s
        counts = [len(geometry(m.network, base)) for m, _ in placed]
        a_rows, gaps = [], []
        for (m, _), n in zip(placed, counts, strict=True):
            fitted = predict(m.network, profile).seconds
            a_rows.append([n / m.forward_s, 1.0 / m.forward_s])
            gaps.append((m.forward_s - fitted) / m.forward_s)
        overhead_s, network_s = (float(v) for v in _nnls(np.array(a_rows), np.array(gaps)))
    baseline = mult_adds_baseline(measurements)
    meta = {
        **dict(meta or {}),
        "terms": [t for t in TERMS if t in chosen],
        "profiler_cost_per_node_s": per_node,
        "pass_shift_per_layer_s": path_shift,
        "mult_adds_baseline": baseline,
    }
    return DeviceProfile(
        peak_flops_per_s, bandwidth_bytes_per_s, efficiency=efficiency, overhead_s=overhead_s,
        overhead_by_kind_s=overhead, overhead_per_group_s=per_group, overhead_network_s=network_s, paths=paths,
        channel_block=blocks, transitions=transitions, dtype=dtype, runtime=runtime, name=name, meta=meta,
        cache_bytes=cache, spill=spill, activations=activations,
    )  # fmt: skip


#: Least spread of a path's layer count over the fitting networks for it to get its own pass shift.
MIN_PATH_SPREAD = 3


def _fit_whole_blocks(
    wholes: Sequence[tuple[Measurement, str, list[LayerGeometry], float]],
    base: DeviceProfile,
    efficiency: dict[str, float],
    overhead: dict[str, float],
    per_group: dict[str, float],
    spill: dict[str, float],
    chosen: set[str],
    x_min: float,
) -> None:
    """Fit a block's own operation from blocks timed only as a whole: block time - its predicted leaves.

    The leaves' kinds are fitted already (from layers timed one by one); what a whole block takes beyond them is
    its add (or multiply). Updates the tables in place.
    """
    provisional = DeviceProfile(
        base.peak_flops_per_s, base.bandwidth_bytes_per_s, efficiency=efficiency, overhead_by_kind_s=overhead,
        overhead_per_group_s=per_group, paths=base.paths, channel_block=base.channel_block, dtype=base.dtype,
        runtime=base.runtime, cache_bytes=base.cache_bytes, spill=spill, default_efficiency=1.0,
    )  # fmt: skip
    rows: dict[str, list[tuple[float, float, float, float, float]]] = {}
    for m, name, ops, weight in wholes:
        block = next(lat for lat in predict(m.network, provisional).layers if lat.name == name)
        own = {g.name for g in ops}
        leaves = sum(part.seconds for part in block.leaves() if part.name not in own)
        rest = max(float(m.layer_s[name]) - leaves, 0.0)
        for g in ops:
            rows.setdefault(base.key(g.kind, g.path), []).append((g.roofline_s, g.groups, g.spill_s, rest, weight))
    more = _fit_kinds(rows, chosen, x_min)
    for table, extra in zip((efficiency, overhead, per_group, spill), more, strict=True):
        for key, value in extra.items():
            table.setdefault(key, value)


def _fit_pass(entries: Sequence[tuple[float, float, float]], x_min: float) -> dict[str, float]:
    """Efficiency and fixed overhead of a memory-bound pass (a layout change, an unfused activation)."""
    a = np.array([[r * w, w] for r, _, w in entries])
    b = np.array([t * w for _, t, w in entries])
    x = _nnls(a, b - a[:, 0] * x_min) + np.array([x_min, 0.0])
    return {"efficiency": 1.0 / float(x[0]), "overhead_s": float(x[1])}


def _path_shifts(
    placed: Sequence[tuple[Measurement, list[LayerGeometry]]],
    base: DeviceProfile,
    profile: DeviceProfile,
    overhead: Mapping[str, float],
    bound: float,
) -> tuple[dict[str, float], dict[str, float]]:
    """Per kernel path, what a layer costs in a whole pass beyond its profiled time, fitted to the passes.

    The profiler's own cost inside node durations is not the same on every path (measured here: an NCHWc
    convolution's profiled time overstates its share of an unprofiled pass more than a FusedConv's). Least
    squares on relative residuals: (pass - predicted) / pass = sum over paths of layers on it x shift_path
    / pass (no constant: the per-pass overhead is fitted after). Each shift moves the fixed overhead of every
    kind on that path (never below 0). Paths whose layer counts vary by fewer than :data:`MIN_PATH_SPREAD`
    over the fitting networks are left out (a path one layer has or has not, the pooling's, would make its
    shift a per-network switch). So is a path whose shift comes out larger, either way, than ``bound``, the
    profiler's whole cost per node: that is no correction of the profiler, but the path's layer count
    standing in for something else (with VGG16 and AlexNet in the fit, -69 µs per Gemm layer, more than a
    MobileNet's classifier takes); the largest such path goes first, and the rest are fitted again.
    """
    geometries = [geometry(m.network, base) for m, _ in placed]
    paths = sorted({g.path for gs in geometries for g in gs if g.path})
    counts = np.array([[sum(g.path == p for g in gs) for p in paths] for gs in geometries], dtype=float)
    varying = [j for j in range(len(paths)) if np.ptp(counts[:, j]) >= MIN_PATH_SPREAD]
    walls = np.array([m.forward_s for m, _ in placed])
    gaps = np.array([(m.forward_s - predict(m.network, profile).seconds) for m, _ in placed]) / walls
    shift: dict[str, float] = {}
    while varying:
        a = counts[:, varying] / walls[:, None]  # no constant: the layer counts of a network nearly sum to one
        x = np.linalg.lstsq(a, gaps, rcond=None)[0]
        worst = int(np.argmax(np.abs(x)))
        if abs(x[worst]) <= bound:
            shift = {paths[j]: float(x[i]) for i, j in enumerate(varying)}
            break
        del varying[worst]
    out = dict(overhead)
    for key in profile.efficiency:
        path = key.partition(" @")[2]
        if path in shift:
            value = out.get(key, 0.0) + shift[path]
            if value > 0:
                out[key] = value
            else:
                out.pop(key, None)
    return out, shift


def _fit_kinds(
    rows: Mapping[str, Sequence[tuple[float, float, float, float, float]]], terms: set[str], x_min: float
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float]]:
    """1/e, fixed, per-group and spill overheads per key; one shared 1/e without the "efficiency" term."""
    keys = list(rows)
    cols: list[tuple[str, str]] = []  # (what, key)
    shared = "efficiency" not in terms
    if shared:
        cols.append(("x", ""))
    for key in keys:
        if not shared:
            cols.append(("x", key))
        if "overheads" in terms:
            cols.append(("o", key))
        if "groups" in terms and len({g for _, g, _, _, _ in rows[key]}) > 1:
            cols.append(("g", key))
        if "cache" in terms and any(s > 0 for _, _, s, _, _ in rows[key]):
            cols.append(("s", key))
    index = {c: i for i, c in enumerate(cols)}
    efficiency, overhead, per_group, spill = {}, {}, {}, {}
    # Kinds do not share unknowns unless the efficiency is shared: solve each kind alone (smaller, exact).
    groups_of_keys = [keys] if shared else [[k] for k in keys]
    for group in groups_of_keys:
        sub = [c for c in cols if c[1] in group or c[1] == ""]
        a_rows, b_rows = [], []
        for key in group:
            for roofline, groups, spill_s, measured, w in rows[key]:
                row = np.zeros(len(sub))
                for j, (what, k) in enumerate(sub):
                    if what == "x" and (k == key or k == ""):
                        row[j] = roofline * w
                    elif k == key and what == "o":
                        row[j] = w
                    elif k == key and what == "g":
                        row[j] = groups * w
                    elif k == key and what == "s":
                        row[j] = spill_s * w
                a_rows.append(row)
                b_rows.append(measured * w)
        a, b = np.array(a_rows), np.array(b_rows)
        lo = np.array([x_min if what == "x" else 0.0 for what, _ in sub])
        x = _nnls(a, b - a @ lo) + lo
        values = dict(zip(sub, x, strict=True))
        for key in group:
            efficiency[key] = 1.0 / float(values[("x", "" if shared else key)])
            if ("o", key) in values and values[("o", key)] > 0:
                overhead[key] = float(values[("o", key)])
            if ("g", key) in values and values[("g", key)] > 0:
                per_group[key] = float(values[("g", key)])
            if ("s", key) in values and values[("s", key)] > 0:
                spill[key] = float(values[("s", key)])
    del index
    return efficiency, overhead, per_group, spill


def mult_adds_baseline(measurements: Sequence[Measurement]) -> dict[str, float]:
    """The proxy a search tool uses without a model: seconds = k x Mult-Adds + c, fitted to whole passes.

    Non-negative least squares on relative residuals, on the same networks the profile is fitted to.
    """
    mult_adds = np.array([float(count(m.network).mult_adds) for m in measurements])
    walls = np.array([m.forward_s for m in measurements])
    k, c = _nnls(np.stack([mult_adds / walls, 1.0 / walls], axis=1), np.ones(len(walls)))
    return {"seconds_per_mult_add": float(k), "constant_s": float(c)}


#: Timed passes per network and round, per runtime: ONNX Runtime's passes are short (0.2-9 ms) and a pass is
#: disturbed more often than not on a loaded 2-core machine, so it takes more of them.
DEFAULT_REPEATS = {"numpy": 7, "onnxruntime": 20}

#: The zoo's other networks, for ``calibrate --zoo`` and ``validate-latency --zoo``: the mobile ones (residual
#: adds, squeeze-and-excite, 5x5 depthwise, unfused SiLU) and the classic ones (max pooling, 11x11, 7x7 and 5x5
#: convolutions, Inception and Fire concatenations, adaptive pooling, VGG16's 400 MB of FC weights).
ZOO_MOBILE = ("mobilenet_v2", "mnasnet1_0", "mobilenet_v3_large", "mobilenet_v3_small", "efficientnet_b0")
ZOO_CLASSIC = ("googlenet", "squeezenet1_0", "squeezenet1_1", "alexnet", "vgg16")
ZOO = ZOO_MOBILE + ZOO_CLASSIC
#: The zoo is fitted at one resolution and held out at its published one: same layers, other sizes.
ZOO_FIT_RESOLUTION = 160
ZOO_HELD_OUT_RESOLUTION = 224


def zoo_networks(resolution: int, names: Sequence[str] = ZOO) -> list[Network]:
    """The zoo networks ``names`` (default :data:`ZOO`) at ``resolution``."""
    return [zoo_network(name, resolution=resolution) for name in names]


#: Fitting configurations per runtime: (α, resolution), none of them held out (:mod:`.validate`).
#: ONNX Runtime's must cover both of its kernel paths in every kind: channel counts that are multiples of 4
#: (blocked NCHWc kernels: α = 0.375, 0.625, 0.875, 1.25) and counts that are not (α = 0.3, 0.45, 0.7, 1.1;
#: α = 0.3125 has 10 channels first, below one block of 16).
FIT_CONFIGS_BY_RUNTIME: dict[str, tuple[tuple[float, int], ...]] = {
    "numpy": FIT_CONFIGS,
    "onnxruntime": (
        (0.3, 117), (0.3125, 131), (0.375, 113), (0.375, 187), (0.45, 150), (0.625, 163), (0.7, 185),
        (0.875, 201), (1.1, 199), (1.25, 139),
    ),
}  # fmt: skip


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
        "threads": threads if runtime == "onnxruntime" else _blas_threads(),
        "cpu_model": cpu_model(),
        "dtype": "float32",
        "calibrated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "load_average": _load_average(),
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


def cache_size() -> int:
    """The per-core (level 2) cache in bytes, from Linux's sysfs; 0 when unknown (the cache term is then off)."""
    import glob

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


def _blas_threads() -> str:
    return os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default"))


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None
