"""Vectorised sweeps: exact Mult-Adds and parameters of MobileNetV1 over many (α, resolution) at once.

Every number equals ``costmodel.count(costmodel.mobilenet_v1(alpha, resolution, ...))`` (the paper's
convention) exactly, as int64, with the same channel rounding and the same feature-map sizes:
:func:`~costmodel.spec.mobilenet.scale_channels_array` vectorises :func:`~costmodel.spec.mobilenet.scale_channels`
and :func:`~costmodel.spec.layers.window_out_size_array` vectorises :func:`~costmodel.spec.layers.window_out_size`,
each kept beside its scalar rule.

How it is fast. The layer structure is read once from the spec (the network the builder makes, see
:func:`structure`), never retyped. Each layer's cost is a product ``f(α) · g(resolution)``: ``f`` is its
weight count (kernel² times the channel counts, some of which scale with α) and ``g`` the square of its output
map. Layers whose maps shrink through the same strided layers share ``g``, so the whole network is
``Σ_k F_k(α) · G_k(resolution)`` over a handful of *size stages* k (six for MobileNetV1: the five stride-2
stages and the classifier's 1x1). ``F`` is computed once per distinct α and ``G`` once per distinct
resolution; a grid is then one small outer product, and paired points one table look-up each.
For distinct α values we do not sort: every base channel count of MobileNetV1 is a power of two dividing 1024,
so ``int(c·α) == int(c · int(1024·α) / 1024)`` exactly (multiplying a double by a power of two is exact), and
the integer ``int(1024·α)`` indexes a table like the resolution does.

NumPy only, imported when a sweep runs (``import costmodel`` stays NumPy-free): :func:`sweep` returns a pandas
DataFrame, :func:`sweep_arrays` the same columns as plain arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, singledispatch
from itertools import product
from typing import TYPE_CHECKING, NamedTuple, Union

from .._limits import check_memory
from ..checks import MAX_SIZE, boolean, positive_int
from ..errors import SpecError
from ..spec.layers import (
    AdaptiveAvgPool,
    Add,
    BatchNormAct,
    Cat,
    ChannelShuffle,
    ChannelSlice,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
    Sum,
    Zero,
    keeps_size,
    window_out_size,
    window_out_size_array,
)
from ..spec.mobilenet import BASE_RESOLUTION, MIN_RESOLUTION, mobilenet_v1, scale_channels_array
from ..spec.network import Node
from .kinds import layer_kind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["sweep", "sweep_arrays", "SweepArrays", "Term", "Structure", "structure", "stage_sizes", "GLOBAL"]

INT64_MAX = 2**63 - 1  # np.iinfo(np.int64).max, without importing NumPy
# A channel count that halves between α = 1 and α = 0.5 scales with α; one that stays is fixed.
PROBE_ALPHA = 0.5
# Largest look-up table (entries) for paired points; the table also never has more entries than points.
_TABLE_LIMIT = 1 << 22
# The size chain after a global pooling: a 1x1 map whatever the resolution.
GLOBAL = (("global",),)


@dataclass(frozen=True, slots=True)
class Term:
    """One layer's cost: ``coeff · fixed · Π int(c·α) · size(resolution)²`` Mult-Adds; params drop size²."""

    name: str  # the layer's name, e.g. "conv_pw_3"
    kind: str  # the paper's Table 2 row ("Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC")
    coeff: int  # kernel² (1 for a fully connected layer)
    fixed: int  # product of the channel counts that do not scale with α (3 image channels, num_classes)
    channels: tuple[int, ...]  # channel counts at α = 1 that scale as int(c·α): 0, 1 or 2 of them
    stage: int  # index into Structure.stages: the map whose size² multiplies the Mult-Adds (1x1 for the FC)


@dataclass(frozen=True, slots=True)
class Structure:
    """What a sweep needs to know of one MobileNetV1 variant, read off the builder's network."""

    terms: tuple[Term, ...]
    # Each stage is the chain of size-changing windows (kernel, stride, padding, ceil_mode) from the input.
    stages: tuple[tuple[tuple[int, int, object, bool], ...], ...]
    stage_sizes_224: tuple[int, ...]  # each stage's map size at the base resolution 224
    base_channels: tuple[int, ...]  # every distinct channel count that scales with α, ascending

    @property
    def lattice(self) -> int | None:
        """L such that ``int(c·α) == int(c · int(L·α) / L)`` exactly for every base channel count c, or None.

        L is the largest base channel count when all of them are powers of two (then each divides L, and
        multiplying a double by a power of two is exact): 1024 for MobileNetV1. Costs are then constant on
        every [m/L, (m+1)/L).
        """
        lattice = max(self.base_channels)
        if all(lattice % c == 0 and c & (c - 1) == 0 for c in self.base_channels):
            return lattice
        return None


def _probe_channels(base: int, probe: int, where: str) -> tuple[int, ...] | int:
    """``(base,)`` if this channel count scales with α, else the fixed count itself."""
    if probe == base:
        return base
    if probe == int(base * PROBE_ALPHA):
        return (base,)
    raise SpecError(f"{where}: channels {base} at α=1 became {probe} at α={PROBE_ALPHA}, not int(c·α)")


_Channels = Union[tuple[int, ...], int]
_TermParts = Union[tuple[_Channels, _Channels, int, tuple], None]  # (ins, outs, kernel², size chain) or None


@singledispatch
def sweep_term(layer: object, node: Node, probe: Node, chain: tuple) -> tuple[tuple, _TermParts]:
    """One layer's part of a sweep: the size chain after it, and its cost term's parts (None: it costs nothing).

    ``probe`` is the same layer built at α = 1/2, which tells which channel counts scale with α.
    """
    raise SpecError(f"{node.name}: sweep has no rule for layer type {type(layer).__name__}")


@sweep_term.register
def _(layer: Conv2d, node: Node, probe: Node, chain: tuple) -> tuple[tuple, _TermParts]:
    small = probe.layer
    if not keeps_size(layer.kernel, layer.stride, layer.padding):  # each flavour's padding, the spec's size rule
        chain = (*chain, (layer.kernel, layer.stride, layer.padding, False))
    ins = _probe_channels(layer.in_ch, small.in_ch, layer.name)
    outs = _probe_channels(layer.out_ch, small.out_ch, layer.name)
    if layer.depthwise:
        ins = 1  # weights k²·(M/g)·N with g = M: one input channel per filter
    elif layer.groups != 1:
        raise SpecError(f"{layer.name}: sweep supports dense and depthwise convs, not groups={layer.groups}")
    return chain, (ins, outs, layer.kernel * layer.kernel, chain)


@sweep_term.register
def _(layer: Linear, node: Node, probe: Node, chain: tuple) -> tuple[tuple, _TermParts]:
    if chain != GLOBAL:
        raise SpecError(f"{layer.name}: sweep needs the classifier to see a 1x1 map")
    ins = _probe_channels(node.in_ch, probe.in_ch, layer.name)
    outs = _probe_channels(layer.out_features, probe.layer.out_features, layer.name)
    return chain, (ins, outs, 1, chain)


@sweep_term.register
def _(layer: GlobalAvgPool, node: Node, probe: Node, chain: tuple) -> tuple[tuple, _TermParts]:
    return GLOBAL, None


@sweep_term.register
def _(layer: Softmax, node: Node, probe: Node, chain: tuple) -> tuple[tuple, _TermParts]:
    return chain, None


@sweep_term.register(Pool2d)
@sweep_term.register(AdaptiveAvgPool)
@sweep_term.register(Concat)
@sweep_term.register(Residual)
@sweep_term.register(Scale)
@sweep_term.register(Add)
@sweep_term.register(Mul)
@sweep_term.register(Graph)
@sweep_term.register(Sum)
@sweep_term.register(Cat)
@sweep_term.register(ChannelSlice)
@sweep_term.register(ChannelShuffle)
@sweep_term.register(BatchNormAct)
@sweep_term.register(Zero)
def _(layer: object, node: Node, probe: Node, chain: tuple) -> tuple[tuple, _TermParts]:
    # An explicit refusal: the α x ρ sweep covers MobileNetV1's layer types (population costing covers others).
    raise SpecError(f"{node.name}: sweep has no rule for layer type {type(layer).__name__}")


@lru_cache(maxsize=32)
def structure(
    shallow: bool = False, separable: bool = True, num_classes: int | None = None, flavour: str = "paper"
) -> Structure:
    """Read the per-layer cost structure of one MobileNetV1 variant off the spec (of one flavour: its padding
    rules give the size chains, so the sweep follows e.g. Keras' floor(n / 2) at odd sizes).

    The network is built by :func:`~costmodel.spec.mobilenet.mobilenet_v1` at α = 1 and at α = 1/2 (both at 224):
    a channel count that changes between them scales with α (as ``int(c·α)``), one that stays is fixed.
    Feature-map sizes are followed as chains of strided windows from the input, so that every layer whose map
    went through the same windows shares one size stage.

    Examples
    --------
    >>> s = structure()
    >>> len(s.terms), s.stage_sizes_224, s.base_channels
    (28, (112, 56, 28, 14, 7, 1), (32, 64, 128, 256, 512, 1024))
    """
    kw = {"shallow": shallow, "separable": separable, "num_classes": num_classes, "flavour": flavour}
    base = mobilenet_v1(1.0, BASE_RESOLUTION, **kw)  # type: ignore[arg-type]
    half = mobilenet_v1(PROBE_ALPHA, BASE_RESOLUTION, **kw)  # type: ignore[arg-type]
    terms: list[Term] = []
    stages: list[tuple] = []
    sizes: list[int] = []
    chain: tuple = ()

    def stage_of(c: tuple, size: int) -> int:
        if c not in stages:
            stages.append(c)
            sizes.append(size)
        return stages.index(c)

    for node, probe in zip(base.nodes, half.nodes, strict=True):
        chain, term = sweep_term(node.layer, node, probe, chain)
        if term is None:
            continue
        ins, outs, coeff, stage_chain = term
        stage = stage_of(stage_chain, node.out_size if stage_chain != GLOBAL else 1)
        fixed, scaled = 1, []
        for c in (ins, outs):
            if isinstance(c, tuple):
                scaled += c
            else:
                fixed *= c
        terms.append(Term(node.name, layer_kind(node.layer), coeff, fixed, tuple(scaled), stage))
    channels = tuple(sorted({c for t in terms for c in t.channels}))
    return Structure(tuple(terms), tuple(stages), tuple(sizes), channels)


class SweepArrays(NamedTuple):
    """A sweep's columns as plain NumPy arrays, all of shape (n,)."""

    alpha: np.ndarray  # float64
    resolution: np.ndarray  # int64
    mult_adds: np.ndarray  # int64, multiply-accumulates (FLOPs = 2 x this)
    params: np.ndarray  # int64


# --- input checks --------------------------------------------------------------------------------


def _num_classes(value: object) -> int | None:
    return None if value is None else positive_int(value, "num_classes")


def _flavour(value: object) -> str:
    from ..spec.flavours import get_flavour

    return get_flavour(value).name if not isinstance(value, str) else value  # a Flavour, or a name checked later


def _as_1d(values: object, what: str) -> np.ndarray:
    import numpy as np

    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, RecursionError):  # ragged, self-referencing or deeply nested sequences
        raise SpecError(
            f"{what} must be a scalar or a 1-D array of numbers, got a nested {type(values).__name__}"
        ) from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise SpecError(f"{what} must be a scalar or a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise SpecError(f"{what} is empty: give at least one value")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        first = arr.reshape(-1)[0]
        if arr.dtype == object and all(isinstance(v, int) and not isinstance(v, bool) for v in arr.tolist()):
            big = max(arr.tolist(), key=abs)  # Python integers NumPy could not hold in int64
            raise SpecError(f"{what} {big} is out of range (at most {INT64_MAX:,})")
        raise SpecError(f"{what} must be numbers, got {arr.dtype} (e.g. {getattr(first, 'item', lambda: first)()!r})")
    return arr


def _check_alpha_array(alpha: object) -> np.ndarray:
    import numpy as np

    a = _as_1d(alpha, "alpha").astype(np.float64, copy=False)
    lo, hi = a.min(), a.max()  # NaN propagates through both; two reductions, no temporary arrays
    if not (lo > 0 and hi < np.inf):
        bad = ~np.isfinite(a) | (a <= 0)
        raise SpecError(f"alpha must be a finite number > 0, got {a[bad.argmax()].item()!r}")
    return a


def _check_resolution_array(resolution: object) -> np.ndarray:
    import numpy as np

    r = _as_1d(resolution, "resolution")
    if not np.issubdtype(r.dtype, np.integer):
        rf = r.astype(np.float64)
        bad = ~np.isfinite(rf) | (rf != np.floor(rf))
        if bad.any():
            raise SpecError(f"resolution must be an integer, got {r[bad.argmax()].item()!r}")
        raise SpecError(f"resolution must be an integer array, got {r.dtype} values (e.g. {r[0].item()!r})")
    r = r.astype(np.int64, copy=False)
    if r.min() < MIN_RESOLUTION:
        raise SpecError(f"resolution must be >= {MIN_RESOLUTION}, got {int(r[(r < MIN_RESOLUTION).argmax()])}")
    if r.max() > MAX_SIZE:
        raise SpecError(f"resolution must be at most {MAX_SIZE:,}, got {int(r.max())}")
    return r


def _rho_to_resolution(rho: object) -> np.ndarray:
    import numpy as np

    p = _as_1d(rho, "rho").astype(np.float64, copy=False)
    bad = ~np.isfinite(p) | (p <= 0) | (p > 1)
    if bad.any():
        raise SpecError(f"rho must be in (0, 1], got {p[bad.argmax()].item()!r}")
    # round(rho * 224) as in mobilenet.resolve_resolution: np.rint and round() both round half to even
    r = np.rint(p * BASE_RESOLUTION).astype(np.int64)
    if r.min() < MIN_RESOLUTION:
        small = p[r.argmin()].item()
        raise SpecError(
            f"rho={small!r} is too small: resolution round({small!r} * {BASE_RESOLUTION}) = {int(r.min())} is "
            f"below {MIN_RESOLUTION}"
        )
    return _check_resolution_array(r)


# --- the two factors -----------------------------------------------------------------------------


def _alpha_factors(s: Structure, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F, P) for each α: F[i, k] = Mult-Adds per map position of stage k, shape (n, K); P[i] = params."""

    import numpy as np

    scaled = {c: scale_channels_array(c, alpha) for c in s.base_channels}
    f = np.zeros((alpha.size, len(s.stages)), dtype=np.int64)
    for t in s.terms:  # one array operation per layer
        w = np.full(alpha.size, t.coeff * t.fixed, dtype=np.int64)
        for c in t.channels:
            w = w * scaled[c]
        f[:, t.stage] += w
    return f, f.sum(axis=1)  # the classifier's stage has size 1, so params = Σ_k F_k


def stage_sizes(s: Structure, resolution: np.ndarray) -> np.ndarray:
    """Map size of every stage of ``s`` at each resolution, by the spec's size rule.

    Parameters
    ----------
    resolution : ndarray of int64, shape (m,)

    Returns
    -------
    ndarray of int64, shape (m, K)
    """

    import numpy as np

    out = np.empty((resolution.size, len(s.stages)), dtype=np.int64)
    for k, chain in enumerate(s.stages):
        size = resolution
        for step in chain:
            size = np.ones_like(resolution) if step == GLOBAL[0] else window_out_size_array(size, *step)
        out[:, k] = size
    return out


def _size_factors(s: Structure, resolution: np.ndarray) -> np.ndarray:
    """G[j, k] = (map size of stage k)² at each resolution. Shape (m, K), int64."""
    g = stage_sizes(s, resolution)
    return g * g


def _check_int64(s: Structure, alpha_max: float, resolution_max: int) -> None:
    """Costs grow with α and resolution; refuse a sweep whose largest point does not fit in int64.

    Computed with Python integers by the scalar size rule (the scalar engine's arithmetic, which cannot
    overflow), so that the check itself never wraps around, whatever the resolution.
    """
    sizes = []
    for chain in s.stages:
        size = resolution_max
        for step in chain:
            size = 1 if step == GLOBAL[0] else window_out_size(size, *step)  # type: ignore[arg-type]
        sizes.append(size)
    total = 0
    for t in s.terms:
        w = t.coeff * t.fixed * math.prod(int(c * alpha_max) for c in t.channels)
        total += w * sizes[t.stage] ** 2
    if total > INT64_MAX:
        raise SpecError(
            f"alpha={alpha_max!r} with resolution={resolution_max} costs {total:,} Mult-Adds: too large for the "
            "sweep's int64 counts (costmodel.count counts it exactly)"
        )


def _alpha_codes(s: Structure, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, representatives): α values with equal channel counts in every layer share a code.

    ``codes`` has shape (n,) (int64, a fresh array the caller may overwrite), ``representatives`` shape (d,)
    with ``representatives[codes]`` giving each point's channel counts.
    """

    import numpy as np

    lattice = s.lattice
    if lattice is not None:
        # int(c·α) = int(c · int(L·α) / L), exactly in floating point (see Structure.lattice)
        m = np.multiply(alpha, lattice).astype(np.int64)
        lo, hi = int(m.min()), int(m.max())
        if hi - lo < max(alpha.size, 1 << 16):
            np.subtract(m, lo, out=m)
            return m, np.arange(lo, hi + 1, dtype=np.float64) / lattice
        rep, codes = np.unique(m, return_inverse=True)
        return codes.reshape(-1), rep.astype(np.float64) / lattice
    rep, codes = np.unique(alpha, return_inverse=True)
    return codes.reshape(-1), rep


def _resolution_codes(resolution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, representatives) for resolutions, as :func:`_alpha_codes`."""

    import numpy as np

    lo, hi = int(resolution.min()), int(resolution.max())
    if hi - lo < max(resolution.size, 1 << 16):
        return resolution - lo, np.arange(lo, hi + 1, dtype=np.int64)
    rep, codes = np.unique(resolution, return_inverse=True)
    return codes.reshape(-1), rep


def sweep_arrays(
    alpha: object,
    resolution: object = BASE_RESOLUTION,
    *,
    rho: object = None,
    grid: bool = True,
    shallow: bool = False,
    separable: bool = True,
    num_classes: int | None = None,
    flavour: str = "paper",
) -> SweepArrays:
    """Exact Mult-Adds and parameters of one MobileNetV1 variant at many (α, resolution), as NumPy arrays.

    Parameters
    ----------
    alpha : float or array_like of float, shape (n,)
        Width multipliers (finite, > 0, large enough that every layer keeps a channel: α >= 1/32).
    resolution : int or array_like of int, shape (m,)
        Input resolutions (integers >= 32; odd sizes allowed). Ignored when ``rho`` is given.
    rho : float or array_like of float, optional
        Resolution multipliers in (0, 1]; the resolution becomes ``round(rho * 224)`` as in ``mobilenet_v1``.
    grid : bool
        True: every α with every resolution, ``n * m`` rows in ``itertools.product(alpha, resolution)`` order
        (reshape to (n, m) for a plane). False: paired points, ``alpha[i]`` with ``resolution[i]`` (n == m, or
        one of them a scalar).
    shallow, separable, num_classes, flavour
        The variant, as in :func:`~costmodel.spec.mobilenet.mobilenet_v1` (the flavour's padding rules give
        the feature-map sizes; its classifier the class count, unless ``num_classes`` is given).

    Returns
    -------
    SweepArrays
        ``alpha`` (float64), ``resolution``, ``mult_adds``, ``params`` (int64), each of shape (rows,). For
        paired points, ``alpha`` and ``resolution`` may be the (validated) input arrays themselves.

    Raises
    ------
    SpecError
        Empty or non-1-D input, mismatched lengths, NaN/infinite/non-positive α, α too small to keep a
        channel, non-integer resolution or one below 32, ρ outside (0, 1], a cost too large for int64. The
        message names the first bad value.

    Examples
    --------
    >>> out = sweep_arrays([1.0, 0.5], [224, 160])
    >>> out.mult_adds.tolist()
    [568740352, 290675200, 149497088, 76524800]
    """

    import numpy as np

    s = structure(
        boolean(shallow, "shallow"), boolean(separable, "separable"), _num_classes(num_classes), _flavour(flavour)
    )
    boolean(grid, "grid")
    a = _check_alpha_array(alpha)
    r = _rho_to_resolution(rho) if rho is not None else _check_resolution_array(resolution)
    # α too small for some layer: scale_channels_array names it (checked on the smallest α only)
    scale_channels_array(min(s.base_channels), np.array([a.min()]))
    _check_int64(s, float(a.max()), int(r.max()))
    rows = a.size * r.size if grid else max(a.size, r.size)
    # measured (tracemalloc): 32 bytes per point on a grid (four 8-byte columns), 120 for paired points (their
    # codes, gathers and products too)
    per_point = 40 if grid else 128
    check_memory(per_point * rows, f"a sweep of {rows:,} points", hint="sweep fewer points per call")
    if grid:
        f, p = _alpha_factors(s, a)
        g = _size_factors(s, r)
        mult_adds = np.multiply.outer(f[:, 0], g[:, 0])
        for k in range(1, f.shape[1]):
            mult_adds += np.multiply.outer(f[:, k], g[:, k])
        n, m = a.size, r.size
        return SweepArrays(np.repeat(a, m), np.tile(r, n), mult_adds.reshape(-1), np.repeat(p, m))
    if a.size != r.size:
        if a.size == 1:
            a = np.full(r.shape, a[0])
        elif r.size == 1:
            r = np.full(a.shape, r[0])
        else:
            raise SpecError(f"paired sweep: alpha has {a.size} values but resolution has {r.size}")
    code, rep_a = _alpha_codes(s, a)
    ir, rep_r = _resolution_codes(r)
    f, p = _alpha_factors(s, rep_a)
    g = _size_factors(s, rep_r)
    if f.shape[0] * g.shape[0] <= min(_TABLE_LIMIT, a.size):
        # one look-up per point in small tables of (distinct α) x (distinct resolutions), built in place
        np.multiply(code, g.shape[0], out=code)
        np.add(code, ir, out=code)
        mult_adds = np.take((f @ g.T).reshape(-1), code)
        params = np.take(np.repeat(p, g.shape[0]), code)
    else:
        mult_adds = np.zeros(a.size, dtype=np.int64)
        for k in range(f.shape[1]):
            mult_adds += f[code, k] * g[ir, k]
        params = p[code]
    return SweepArrays(a, r, mult_adds, params)


def _variants(value: bool | Sequence[bool], what: str) -> tuple[bool, ...]:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        values: tuple[object, ...] = (value,)
    elif isinstance(value, (list, tuple)):
        values = tuple(value)
    else:
        raise SpecError(f"{what} must be True, False or a sequence of them, got {value!r}")
    if not values or not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise SpecError(f"{what} must be True, False or a sequence of them, got {value!r}")
    return tuple(bool(v) for v in values)


def sweep(
    alpha: object,
    resolution: object = BASE_RESOLUTION,
    *,
    rho: object = None,
    grid: bool = True,
    shallow: bool | Sequence[bool] = False,
    separable: bool | Sequence[bool] = True,
    num_classes: int | None = None,
    flavour: str = "paper",
) -> pd.DataFrame:
    """Exact Mult-Adds and parameters over many configurations, as a DataFrame.

    The arguments are those of :func:`sweep_arrays`, except that ``shallow`` and ``separable`` may also be
    sequences of bools: the sweep then repeats for every variant in ``itertools.product(shallow, separable)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``alpha``, ``resolution``, ``rho`` (= resolution / 224), ``shallow``, ``separable``,
        ``mult_adds``, ``params``; one row per configuration (per variant).

    Examples
    --------
    >>> df = sweep([0.75], [224, 128])
    >>> df[["resolution", "mult_adds", "params"]].values.tolist()
    [[224, 325400448, 2568144], [128, 106770432, 2568144]]
    """

    import numpy as np
    import pandas as pd

    frames = []
    for sh, sep in product(_variants(shallow, "shallow"), _variants(separable, "separable")):
        out = sweep_arrays(
            alpha, resolution, rho=rho, grid=grid, shallow=sh, separable=sep, num_classes=num_classes, flavour=flavour
        )
        frames.append(
            pd.DataFrame(
                {
                    "alpha": out.alpha,
                    "resolution": out.resolution,
                    "rho": out.resolution / BASE_RESOLUTION,
                    "shallow": np.full(out.alpha.size, sh),
                    "separable": np.full(out.alpha.size, sep),
                    "mult_adds": out.mult_adds,
                    "params": out.params,
                }
            )
        )
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
