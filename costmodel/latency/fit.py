"""Fitting: a :class:`~costmodel.latency.profiles.DeviceProfile`'s terms from measured per-layer times.

With the roofline time ``r`` of each layer at 100 % efficiency, the measured time ``t`` of a layer of kind ``k``
is modelled as ``t = r / e_k + o_k`` (plus the terms of :data:`TERMS`); that is linear in ``x_k = 1 / e_k`` and
the overheads, so the fit is a least-squares problem, solved with non-negative coefficients (:func:`_nnls`).
Each configuration's residuals are divided by its measured total, so that small networks weigh as much as large
ones: the target is the relative error of a whole network. Whole-pass terms are then fitted to whole passes
(see :func:`fit_profile`). Profiles are derived from one another with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..counting.engine import count
from ..errors import ProfileError
from .microbench import cache_size
from .model import LayerGeometry, geometry, predict
from .paths import learn_paths
from .profiles import DeviceProfile
from .runtimes import Measurement

__all__ = ["TERMS", "DEFAULT_TERMS", "MAX_EFFICIENCY", "MIN_PATH_SPREAD", "fit_profile", "mult_adds_baseline"]

#: Upper bound of a fitted efficiency: a layer type may beat the roofline (data in cache), but not by more.
MAX_EFFICIENCY = 20.0


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares ``min |a x - b|`` with ``x >= 0`` (Lawson and Hanson's active-set method).

    a : ndarray, shape (rows, k); b : ndarray, shape (rows,). Returns x, shape (k,). Columns are scaled to unit
    norm first (the unknowns mix seconds per roofline second and seconds).

    Why not ``scipy.optimize.nnls`` (``benchmarks/bench_nnls.py``, on the 267 problems the fit builds from the
    recorded ONNX Runtime profile and from MobileNets measured by the reference executor): on every full-rank
    problem both give the same solution (within 1.3e-15 relative) and the same residual (within 3e-16 of |b|).
    The other 43 are rank-deficient (a column repeated across networks, such as the one Gemm -> Softmax layout
    change of every MobileNet): any point of a segment is optimal, scipy picks another one, and 12 of 581 fitted
    numbers would change (every profile fitted so far would). scipy is 3.9x faster per problem (0.3 against
    1.1 ms, 16 ms per fit: nothing beside seconds of measurement), but ``import scipy.optimize`` costs 1.7-2.1 s
    on the project's machine and the package 113 MB: no gain worth a runtime dependency.
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
    out: np.ndarray = x / scale
    return out


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
        whole = [
            node.name
            for node in m.network.nodes
            if node.branches and node.name in m.layer_s and not any(leaf.name in m.layer_s for leaf in node.leaves())
        ]  # blocks timed as one step (network order): their add is fitted after the other kinds
        # A block's own add or multiply (groups 0) that the runtime does not report by itself was fused into the
        # layer before it (ORT folds a residual add into the NCHWc convolution): it costs nothing of its own.
        layers = [g for g in geometry(m.network, base) if g.name in m.layer_s or g.groups == 0]
        placed.append((m, layers))
        merges = {node.name: (node.merge or node).name for node in m.network.nodes if node.branches}
        for block in whole:
            wholes.append((m, block, [g for g in layers if g.name == merges[block] and g.groups == 0], weight))
        skip = {merges[block] for block in whole}
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
    profile = replace(
        base, efficiency=efficiency, overhead_by_kind_s=overhead, overhead_per_group_s=per_group,
        transitions=transitions, name=name, spill=spill, activations=activations,
    )  # fmt: skip
    overhead_s, network_s = 0.0, 0.0
    path_shift: dict[str, float] = {}
    if "network" in chosen and paths:
        overhead, path_shift = _path_shifts(placed, base, profile, overhead, per_node)
        profile = replace(profile, overhead_by_kind_s=overhead)
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
    return replace(profile, overhead_s=overhead_s, overhead_network_s=network_s, meta=meta)


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
    provisional = replace(
        base, efficiency=efficiency, overhead_by_kind_s=overhead, overhead_per_group_s=per_group, spill=spill,
        default_efficiency=1.0,
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
