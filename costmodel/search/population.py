"""Whole populations of a search space costed at once, exactly as building and costing each candidate would.

How (the per-block tables of hand-written NAS predictors, derived from the spec instead of typed in):

- A candidate's network is its blocks' layers, one block after another, and every count the engine makes is
  a sum (Mult-Adds, parameters, predicted seconds) or a maximum (peak live activations) over layers, each
  layer's term depending only on the layer and its input shape. So a block's terms depend only on its option
  (the values of its genes), its input channels and its input size.
- The space is compiled once: each block is built with its own builder for every option and every input
  channel count it can receive. For the resolutions a population asks for, each block (option, input channels,
  input size) is placed in a :class:`~costmodel.spec.network.Network` of its own and costed with the real
  engine, :func:`~costmodel.counting.engine.count`, :func:`~costmodel.counting.memory.memory` and
  :func:`~costmodel.latency.model.predict`; the results fill one small table per block position.
- A population is then a walk over block positions, vectorised over candidates: the table row of each
  candidate's block is ``state * rows + sum(gene * multiplier)`` over the block's genes (and, for a block its
  stage may leave out, the stage's depth gene); ``state`` indexes what the block receives (channels, size and,
  for latency, the kernel path the layer before ran on). The counts add up, the peaks take the maximum, and
  the next state is read off the table.
- Seconds are floats: the predicted latency of a network is the Python ``sum`` of its layers' seconds in
  network order, so the population's totals are summed layer by layer in the same order, with the same
  algorithm as the interpreter's ``sum`` (plain left-to-right additions before Python 3.12, Neumaier's
  compensated summation since), and equal ``predict(network).seconds`` to the last bit.

Nothing is typed in: change a builder, a counting rule or the latency model and the tables follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._limits import check_memory
from ..counting.conventions import Convention, get_convention
from ..counting.engine import count
from ..counting.memory import dtype_bytes, memory
from ..errors import CostModelError, ProfileError, SpecError
from ..spec.layers import Layer
from ..spec.network import Network
from .space import Blocks, SearchSpace

if TYPE_CHECKING:
    import numpy as np

    from ..latency.profiles import DeviceProfile

__all__ = ["PopulationCost", "cost_population", "python_sum_is_compensated"]

#: Candidates per vectorised pass: small enough that the pass's arrays stay in the CPU caches.
CHUNK = 1 << 14
INT64_MAX = 2**63 - 1
#: Bytes per candidate a population holds: four int64 columns and a float64 one, each chunk's gather buffers,
#: and the per-candidate indices and flags.
_BYTES_PER_CANDIDATE = 64


def python_sum_is_compensated(kind: type = float) -> bool:
    """True when the interpreter's ``sum`` of ``kind`` values is Neumaier-compensated: Python floats since 3.12
    (CPython's float fast path); NumPy floats go through plain additions on every version."""
    return bool(sum(kind(x) for x in (1.0, 1e100, 1.0, -1e100)) != 0.0)


@dataclass
class PopulationCost:
    """Per-candidate costs of a population: plain NumPy arrays, row ``i`` is candidate ``i``.

    ``mult_adds`` and ``params`` are exact int64 counts under ``convention``; ``peak_activation_bytes`` is the
    peak live activation memory (:func:`costmodel.counting.memory.memory`) at ``dtype``; ``latency_s`` the
    predicted seconds on ``profile`` (``None`` without a profile).
    """

    mult_adds: np.ndarray
    params: np.ndarray
    peak_activation_bytes: np.ndarray
    latency_s: np.ndarray | None
    resolution: np.ndarray
    convention: str
    dtype: str

    def __len__(self) -> int:
        return len(self.mult_adds)

    @property
    def flops(self) -> np.ndarray:
        """2 x Mult-Adds (a :class:`SpecError` if one does not fit in int64, rather than a wrapped number)."""
        if len(self.mult_adds) and int(self.mult_adds.max()) > INT64_MAX // 2:
            i = int(self.mult_adds.argmax())
            raise SpecError(f"candidate {i}: 2 x {int(self.mult_adds[i]):,} FLOPs do not fit in int64")
        return 2 * self.mult_adds

    def columns(self) -> dict[str, np.ndarray]:
        """{name: array} of every cost column (and the resolution), e.g. for a DataFrame or :func:`pareto_front`.

        The values are the population's own NumPy arrays, not copies (a million candidates stay one array per
        column), so ``json.dumps`` does not take them: :meth:`to_dict` and :meth:`to_json` give plain Python
        ints and floats."""
        out = {
            "mult_adds": self.mult_adds,
            "params": self.params,
            "peak_activation_bytes": self.peak_activation_bytes,
            "resolution": self.resolution,
        }
        if self.latency_s is not None:
            out["latency_s"] = self.latency_s
        return out

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns()[name]
        except KeyError:
            raise SpecError(f"no cost column {name!r}; choose from {', '.join(self.columns())}") from None

    def to_dict(self) -> dict[str, Any]:
        """The population as plain Python values (``json.dumps`` takes it): the convention, the dtype of the
        memory column, the number of candidates and each column as a list (ints exact; seconds as floats).

        >>> import costmodel, json
        >>> space = costmodel.search_space("mobilenet_v1")
        >>> pop = costmodel.cost_population(space, space.sample(2, seed=0), resolution=160)
        >>> doc = json.loads(json.dumps(pop.to_dict()))
        >>> doc["columns"]["mult_adds"] == [int(m) for m in pop.mult_adds], doc["candidates"]
        (True, 2)
        """
        return {
            "convention": self.convention,
            "dtype": self.dtype,
            "candidates": len(self),
            "columns": {name: values.tolist() for name, values in self.columns().items()},
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text (non-finite seconds, which no profile predicts, are refused)."""
        from ..checks import dump_json

        return dump_json(self.to_dict(), indent=indent)

    def table(self, genes: Any = None, space: SearchSpace | None = None, rows: Any = None) -> Any:
        """A pandas DataFrame, one row per candidate (``candidate`` is its row in the population; only ``rows``
        if given, e.g. ``pareto_front(pop, [...])``), with the gene values as columns when ``genes`` and their
        ``space`` are given; built by :func:`costmodel.report.tables.population_table` through the report hook."""
        from .._hooks import table

        return table(self, genes=genes, space=space, rows=rows)


# ------------------------------------------------------------------------------------------------ compiling
@dataclass(frozen=True)
class _BlockCost:
    """A block's counts on one input: they depend on nothing else."""

    out_ch: int
    out_size: int
    mult_adds: int
    params: int
    peak_live_elements: int


def _cost_block(layers: tuple[Layer, ...], ch: int, size: int, convention: Any) -> _BlockCost:
    """One block on a size x size x ch input, counted by the real engine as a network of its own."""
    net = Network(layers, input_size=size, in_ch=ch, name="block")
    cost = count(net, convention)
    mem = memory(net)
    last = net.nodes[-1]
    return _BlockCost(last.out_ch, last.out_size, cost.mult_adds, cost.params, mem.peak_live_elements)


#: The kernel path before the first layer: a layer's predicted time may depend on the path the layer before it
#: ran on (a runtime with several kernel paths pays for a change of layout). Paths are read off the model's
#: per-layer results (``path``, "" when the runtime has one path); before any path, a block is predicted alone.
_START = ""


def _exit_path(pred: Any, entry: str) -> str:
    """The last kernel path among a prediction's leaf layers (blocks' own operations skipped), else ``entry``."""
    rows = pred.leaves() if hasattr(pred, "leaves") else pred.layers
    path = entry
    for lat in rows:
        leaf_path: str = getattr(lat, "path", "") or ""
        if leaf_path and not lat.node.branches:
            path = leaf_path
    return path


@dataclass(frozen=True)
class _BlockLatency:
    seconds: tuple[float, ...]  # each top-level layer's predicted seconds, in order
    exit_path: str
    network_s: float  # the model's per-network term (added once to a network's total), 0.0 if none


def _predict_block(
    layers: tuple[Layer, ...], ch: int, size: int, entry: str, witness: tuple[int, tuple[Layer, ...]], profile: Any
) -> _BlockLatency:
    """A block's per-layer predicted seconds when it is entered on kernel path ``entry``.

    On the starting path it is predicted as a network of its own. Otherwise after ``witness``, the layers of a
    real candidate up to this block (at its resolution), which reach this block on that path: the block's
    layers are then the prediction's last ones.
    """
    from ..latency.model import predict

    if entry == _START:
        pred = predict(Network(layers, input_size=size, in_ch=ch, name="block"), profile)
        first = 0
    else:
        resolution, prefix = witness
        pred = predict(Network(prefix + layers, input_size=resolution, name="block"), profile)
        first = len(prefix)
    seconds = tuple(lat.seconds for lat in pred.layers)
    network_s = getattr(pred, "network_overhead_s", 0.0)
    total = sum(seconds) + network_s if network_s else sum(seconds)
    if total != pred.seconds:  # population costing relies on it
        raise SpecError("the latency model's total is not the sum of its layers (and a per-network term)")
    return _BlockLatency(seconds[first:], _exit_path(pred, entry), network_s)


@dataclass
class _Tables:
    """Per block position ``j``: table rows indexed by ``state * rows[j] + sum(genes[cols[j]] * mults[j])``."""

    next_state: list[np.ndarray]
    mult_adds: list[np.ndarray]
    params: list[np.ndarray]
    peak: list[np.ndarray]
    seconds: list[np.ndarray]  # (layers, rows): each row's layer seconds, 0.0 after its last layer
    cols: list[tuple[int, ...]]
    mults: list[tuple[int, ...]]
    rows: list[int]
    invalid: list[np.ndarray | None] = field(default_factory=list)  # rows whose block cannot be built or costed
    too_big: list[np.ndarray | None] = field(default_factory=list)  # rows whose counts do not fit in int64
    most: list[tuple[int, int, int]] = field(default_factory=list)  # largest (Mult-Adds, params, peak) per table
    kind: type = float  # the type of the model's per-layer seconds (how ``sum`` adds them)
    network_s: float = 0.0  # the model's per-network term


#: The state after a block that cannot be built or costed on its input (every later row is invalid too).
_INVALID = (0, 0, "<invalid>")


def _block_costs(
    counts: dict[Any, Any],
    latencies: dict[Any, Any],
    j: int,
    option: int,
    layers: tuple[Layer, ...],
    state: tuple[int, int, str],
    witness: tuple[int, tuple[Layer, ...]],
) -> tuple[_BlockCost, _BlockLatency | None]:
    """A block's counts (and latency, when a profile is given) on ``state``, computed once; a failure is kept
    too, and raised again each time."""
    ch, size, entry = state
    bc = counts.get((j, ch, size, option))
    if bc is None:
        try:
            bc = _cost_block(layers, ch, size, counts["convention"])
        except CostModelError as exc:
            bc = exc
        counts[j, ch, size, option] = bc
    if isinstance(bc, CostModelError):
        raise bc
    if "profile" not in latencies:
        return bc, None
    key = (j, ch, size, entry, option)
    lat = latencies.get(key)
    if lat is None:
        try:
            lat = _predict_block(layers, ch, size, entry, witness, latencies["profile"])
        except CostModelError as exc:
            lat = exc
        latencies[key] = lat
    if isinstance(lat, CostModelError):
        raise lat
    return bc, lat


def _tables(comp: Blocks, resolutions: list[int], convention: Any, profile: DeviceProfile | None) -> _Tables:
    """The tables for a population at ``resolutions``; block costs are kept on the space for the next call.

    A state is what a block position receives: (channels, size, kernel path). Each state keeps a witness, the
    layers of one candidate that reach it, for predicting the next block after it (see :func:`_predict_block`).
    """
    import numpy as np

    counts = comp.block_costs.setdefault(convention.name, {"convention": convention})
    latencies: dict[Any, Any] = {}
    if profile is not None:  # the memo holds the profile, so its id stays its own
        latencies = comp.block_costs.setdefault(("latency", id(profile)), {"profile": profile})
    states = [(comp.space.in_ch, r, _START) for r in resolutions]
    witnesses: list[tuple[int, tuple[Layer, ...]]] = [(r, ()) for r in resolutions]
    out = _Tables([], [], [], [], [], [], [], [])
    for j, slot in enumerate(comp.slots):
        cols, mults, width = comp.row_terms(j)
        options = comp.options[j]
        next_states: dict[tuple[int, int, str], int] = {}
        next_witnesses: list[tuple[int, tuple[Layer, ...]]] = []
        nxt, ma, pa, pk, secs, invalid = [], [], [], [], [], []
        for (ch, size, entry), witness in zip(states, witnesses, strict=True):
            for i in range(width):
                depth_index, option = divmod(i, options)
                bc, lat, grown, bad = None, None, witness, False
                if (ch, size, entry) == _INVALID:
                    state, bad = _INVALID, True
                elif comp.skippable[j] and slot.depths[depth_index] <= slot.position:
                    state = (ch, size, entry)  # not built: the state passes through
                else:
                    layers = comp.layers(j, ch, option)
                    try:
                        bc, lat = _block_costs(
                            counts, latencies, slot.cost_slot, option, layers, (ch, size, entry), witness
                        )
                    except CostModelError:  # e.g. the input shrinks to nothing: only an error if a candidate is so
                        state, bad = _INVALID, True
                    else:
                        state = (bc.out_ch, bc.out_size, lat.exit_path if lat is not None else entry)
                        grown = (witness[0], witness[1] + layers)
                if state not in next_states:
                    next_states[state] = len(next_states)
                    next_witnesses.append(grown)
                nxt.append(next_states[state])
                invalid.append(bad)
                ma.append(0 if bc is None else bc.mult_adds)
                pa.append(0 if bc is None else bc.params)
                pk.append(0 if bc is None else bc.peak_live_elements)
                secs.append(() if lat is None else lat.seconds)
                if lat is not None and lat.seconds:
                    out.kind, out.network_s = type(lat.seconds[0]), lat.network_s
        table = np.zeros((len(secs), max((len(x) for x in secs), default=0)), dtype=np.float64)
        for i, x in enumerate(secs):
            table[i, : len(x)] = x
        out.next_state.append(np.asarray(nxt, dtype=np.intp))
        out.invalid.append(np.asarray(invalid, dtype=bool) if any(invalid) else None)
        big = [max(a, b, c) > INT64_MAX for a, b, c in zip(ma, pa, pk, strict=True)]
        out.too_big.append(np.asarray(big, dtype=bool) if any(big) else None)
        out.most.append((max(ma, default=0), max(pa, default=0), max(pk, default=0)))  # exact Python integers
        out.mult_adds.append(np.asarray([min(v, INT64_MAX) for v in ma], dtype=np.int64))
        out.params.append(np.asarray([min(v, INT64_MAX) for v in pa], dtype=np.int64))
        out.peak.append(np.asarray([min(v, INT64_MAX) for v in pk], dtype=np.int64))
        out.seconds.append(np.ascontiguousarray(table.T))  # (layers, rows): one gather per layer
        out.cols.append(cols)
        out.mults.append(mults)
        out.rows.append(width)
        states, witnesses = list(next_states), next_witnesses
    return out


# ------------------------------------------------------------------------------------------------ costing
def _resolutions(space: SearchSpace, resolution: object, n: int) -> tuple[np.ndarray, list[int]]:
    """Per-candidate resolution indices into the sorted distinct resolutions, and those resolutions: each an
    integer (not a float, as everywhere: :meth:`SearchSpace.check_resolution`) in the space's range."""
    import numpy as np

    try:
        arr = np.asarray(resolution)
    except (TypeError, ValueError, RecursionError):  # ragged or self-referencing sequences
        raise SpecError(f"resolution must be one integer or a 1-D sequence of them, got {_show(resolution)}") from None
    if arr.ndim == 0:
        space.check_resolution(arr.item() if arr.dtype.kind in "iu" else resolution)  # names the bad value
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise SpecError(f"resolution must be one integer or one per candidate ({n}), got shape {arr.shape}")
    if n and arr.dtype.kind not in "iu":  # floats, bools, strings, objects: the first that is not an integer
        values = list(resolution) if isinstance(resolution, (list, tuple)) else arr.tolist()  # as given
        for v in values:
            space.check_resolution(v)
        arr = np.asarray(values, dtype=np.int64)  # every value checked: in 1..MAX_SIZE
    if n:
        lo, hi = arr.min(), arr.max()
        for v in (lo, hi):
            space.check_resolution(v)
    arr = arr.astype(np.int64)
    distinct = np.unique(arr)
    return np.searchsorted(distinct, arr), [int(r) for r in distinct]


def _show(value: object) -> str:
    try:
        text = repr(value)
    except RecursionError:  # pragma: no cover - reprlib handles self-references; deep nesting does not
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def cost_population(
    space: SearchSpace,
    genes: object,
    resolution: object = 224,
    convention: str | Convention = "paper",
    profile: DeviceProfile | None = None,
    *,
    dtype: str = "float32",
) -> PopulationCost:
    """Cost every candidate of a population at once: per-candidate Mult-Adds, parameters, peak activation
    memory and (with a profile) predicted latency, each equal to building the candidate and running
    :func:`~costmodel.counting.engine.count`, :func:`~costmodel.counting.memory.memory` and
    :func:`~costmodel.latency.model.predict` on it.

    Parameters
    ----------
    space : SearchSpace
        For example ``costmodel.search_space("ofa_mobilenet_v3")``.
    genes : int array, shape (n, space.num_genes)
        One candidate per row (``space.sample(n)``).
    resolution : int or int array of shape (n,)
        Input resolution of every candidate, or one per candidate.
    convention : str or Convention
        The counting convention of ``mult_adds`` and ``params`` (as :func:`~costmodel.count`).
    profile : DeviceProfile, optional
        With a profile, ``latency_s`` holds each candidate's predicted seconds (batch 1).
    dtype : str
        Element type of ``peak_activation_bytes``.

    Examples
    --------
    >>> import costmodel
    >>> space = costmodel.search_space("mobilenet_v1")
    >>> genes = space.sample(3, seed=0)
    >>> pop = costmodel.cost_population(space, genes, resolution=[224, 161, 193])
    >>> int(pop.mult_adds[1]) == costmodel.count(space.build(genes[1], 161)).mult_adds
    True
    """
    import numpy as np

    if not isinstance(space, SearchSpace):
        raise SpecError(f"cost_population() needs a SearchSpace, got {type(space).__name__}")
    arr = space.check_genes(genes)
    n = len(arr)
    conv = get_convention(convention)
    elem_bytes = dtype_bytes(dtype)
    if profile is not None:
        from ..latency.profiles import DeviceProfile

        if not isinstance(profile, DeviceProfile):
            raise SpecError(f"profile must be a DeviceProfile, got {type(profile).__name__}")
    res_index, distinct = _resolutions(space, resolution, n)
    check_memory(n * _BYTES_PER_CANDIDATE, f"costing {n:,} candidates", hint="cost fewer candidates per call")
    comp = space.blocks
    tables = _tables(comp, distinct, conv, profile)
    # int64 is exact unless the largest counts of every block together exceed it (Python integers: no wrap)
    exact = all(sum(m[k] for m in tables.most) <= INT64_MAX for k in range(2)) and not any(
        t is not None for t in tables.too_big
    )
    overflow = None if exact else np.zeros(n, dtype=bool)  # candidates whose counts exceed int64
    mult_adds = np.zeros(n, dtype=np.int64)
    params = np.zeros(n, dtype=np.int64)
    peak = np.zeros(n, dtype=np.int64)
    seconds = np.zeros(n, dtype=np.float64) if profile is not None else None
    compensated = python_sum_is_compensated(tables.kind)
    failed = np.zeros(n, dtype=bool)  # candidates with a block that cannot be built or costed
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        g = arr[lo:hi].T.astype(np.intp)  # one row per gene, contiguous and in cache, as table indices
        state = res_index[lo:hi]
        ma, pa, pk = mult_adds[lo:hi], params[lo:hi], peak[lo:hi]
        s = None if seconds is None else seconds[lo:hi]
        c = np.zeros(hi - lo) if (s is not None and compensated) else None
        tmp, row = np.empty(hi - lo, dtype=np.intp), np.empty(hi - lo, dtype=np.intp)
        ints, x = np.empty(hi - lo, dtype=np.int64), np.empty(hi - lo)  # gather buffers, reused
        for j in range(len(tables.rows)):
            np.multiply(state, tables.rows[j], out=row)
            for col, m in zip(tables.cols[j], tables.mults[j], strict=True):
                if m == 1:
                    row += g[col]
                else:
                    np.multiply(g[col], m, out=tmp)
                    row += tmp
            ma += tables.mult_adds[j].take(row, out=ints)
            pa += tables.params[j].take(row, out=ints)
            if overflow is not None:  # non-negative terms below 2**63: a sum past int64 wraps to a negative
                too_big = tables.too_big[j]
                overflow[lo:hi] |= (ma < 0) | (pa < 0) | (False if too_big is None else too_big.take(row))
                np.maximum(ma, 0, out=ma)  # keep later sums from wrapping back to positive
                np.maximum(pa, 0, out=pa)
            np.maximum(pk, tables.peak[j].take(row, out=ints), out=pk)
            if s is not None:
                for column in tables.seconds[j]:
                    column.take(row, out=x)
                    if c is None:
                        s += x
                    else:
                        _neumaier_add(s, c, x)
            invalid = tables.invalid[j]
            if invalid is not None:
                failed[lo:hi] |= invalid.take(row)
            state = tables.next_state[j].take(row)
        if c is not None and s is not None:
            np.add(s, c, out=s, where=(c != 0) & np.isfinite(c))
        if s is not None and tables.network_s:
            s += tables.network_s  # predict: sum(layers) + the per-network term
    if failed.any():  # the first such candidate's own build and costing say what is wrong with it
        _raise_for(space, arr, int(np.argmax(failed)), distinct[res_index[int(np.argmax(failed))]], conv, profile)
    if overflow is not None and overflow.any():
        i = int(np.argmax(overflow))
        _raise_too_big(space, arr[i], i, distinct[res_index[i]], conv)
    if n and int(peak.max()) > INT64_MAX // elem_bytes:
        i = int(peak.argmax())
        raise SpecError(
            f"candidate {i} at resolution {distinct[res_index[i]]}: a peak of {int(peak[i]):,} live activations "
            f"of {elem_bytes} bytes does not fit in the population's int64 columns"
        )
    if seconds is not None and n and not np.isfinite(seconds).all():  # as predict(): an error, never inf
        i = int(np.argmin(np.isfinite(seconds)))
        _raise_for(space, arr, i, distinct[res_index[i]], conv, profile)
        raise ProfileError(f"candidate {i} at resolution {distinct[res_index[i]]}: predicted latency is not finite")
    return PopulationCost(
        mult_adds,
        params,
        peak * elem_bytes,
        seconds,
        np.asarray(distinct, dtype=np.int64)[res_index] if n else np.zeros(0, dtype=np.int64),
        conv.name,
        dtype,
    )


def _raise_for(space: SearchSpace, genes: Any, i: int, resolution: int, conv: Convention, profile: Any) -> None:
    """Build candidate ``i`` and cost it as :func:`cost_population` promises to; raise its error, naming it."""
    try:
        net = space.build(genes[i], resolution)
        count(net, conv), memory(net)
        if profile is not None:
            from ..latency.model import predict

            predict(net, profile)
    except CostModelError as exc:
        raise type(exc)(f"candidate {i} at resolution {resolution}: {exc}") from None
    raise SpecError(f"candidate {i} at resolution {resolution}: a block of it cannot be costed")  # not reached


def _raise_too_big(space: SearchSpace, genes: Any, i: int, resolution: int, conv: Convention) -> None:
    """Candidate ``i``'s exact counts (Python integers, from the engine) in an error: they exceed int64."""
    cost = count(space.build(genes, resolution), conv)
    raise SpecError(
        f"candidate {i} at resolution {resolution} costs {cost.mult_adds:,} Mult-Adds and {cost.params:,} "
        "parameters: too large for the population's int64 counts (costmodel.count counts it exactly)"
    )


def _neumaier_add(s: np.ndarray, c: np.ndarray, x: np.ndarray) -> None:
    """One step of CPython's float ``sum`` (Neumaier), in place over arrays: s += x, c += the lost low part."""
    import numpy as np

    t = s + x
    big = np.abs(s) >= np.abs(x)
    c += np.where(big, (s - t) + x, (x - t) + s)
    s[...] = t
