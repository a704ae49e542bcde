"""A roofline latency model per layer: from Mult-Adds and bytes moved to seconds, on one device profile.

For each leaf layer (batch ``N`` images, one after another, as the runtimes run them):

- FLOPs = 2 x Mult-Adds (the paper's convention, :func:`costmodel.counting.engine.count`; pooling and softmax do none);
- bytes moved = (weights + N x input + N x output activations) x the profile dtype's size, from
  :func:`costmodel.counting.memory.layer_memory` (weights are read once per batch, activations once per image);
- on a runtime with several kernel paths (the profile's ``paths``), the path the layer runs on is the one the
  profile learned from the runtime's profiler (:meth:`~costmodel.latency.profiles.DeviceProfile.path_of`), and
  the channels are padded to that path's block before counting (ONNX Runtime's NCHWc kernels compute whole
  blocks of 16 channels on AVX-512);
- compute time = FLOPs / peak FLOP/s, memory time = bytes / bandwidth;
- predicted time = max(compute time, memory time) / efficiency(kind, path) + overhead(kind, path)
  + groups x per-group overhead(kind, path) + spill(kind, path) x (bytes beyond the cache) / bandwidth
  + the layout change from the previous layer's path, if any, + the activation's own pass if the runtime
  does not fuse it (the profile's ``activations``)
  (a memory-bound copy of the input: 2 x input bytes / bandwidth / its efficiency + its overhead);
- the layer is ``"compute"``-bound when compute time >= memory time, else ``"memory"``-bound.

A block (``Residual``, ``Concat``) is predicted as its leaf layers, one by one, plus its own elementwise work
(the residual add, the concatenation copy: :func:`costmodel.latency.kinds.block_op`) as a memory-bound
operation of its own kind. A kind the profile does not cover raises :class:`~costmodel.errors.ProfileError`,
unless the profile declares the fallback ``default_efficiency``; the layer is then marked ``extrapolated``.
The whole network adds the profile's ``overhead_network_s`` once (it is not a layer's).

The model returns floats and small dataclasses and never formats (see :mod:`costmodel.latency.report`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._hooks import table as _table
from ..checks import dump_json, positive_int
from ..counting.engine import LayerCost, count
from ..counting.memory import dtype_bytes, layer_memory
from ..errors import ProfileError, SpecError
from ..spec.layers import Graph
from ..spec.network import Network, Node
from .kinds import block_op, kernel_groups, latency_kind
from .profiles import INPUT_PATH, DeviceProfile, KindTerms

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LayerLatency",
    "LatencyPrediction",
    "LayerGeometry",
    "predict",
    "geometry",
    "roofline_seconds",
    "latency_kind",
]


@dataclass(frozen=True, slots=True)
class LayerLatency:
    """One layer's roofline on one profile (a block: the sum of its ``parts``)."""

    node: Node
    kind: str  # costmodel.latency.kinds.latency_kind: "Conv 1x1", "Conv DW 3x3", "FC", "Add", ...
    mult_adds: int  # as counted (the paper's convention), without channel padding
    flops: int  # 2 x mult_adds
    bytes_moved: int  # weights + input + output activations at the profile's dtype (padded on a blocked path)
    compute_s: float  # FLOPs actually computed (padded) / peak
    memory_s: float  # bytes_moved / bandwidth
    efficiency: float
    overhead_s: float  # fixed and per-group overheads, and the layout change before the layer
    seconds: float  # max(compute_s, memory_s) / efficiency + overhead_s
    path: str = ""  # the runtime's kernel path ("nchwc", "Conv"...); "" for a one-path runtime
    extrapolated: bool = False  # the profile does not cover this kind; its default_efficiency was used
    parts: tuple[LayerLatency, ...] = ()  # a block's leaf layers and its own elementwise operation

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def intensity_flops_per_byte(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved (0 for a layer that moves nothing)."""
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0

    @property
    def roofline_s(self) -> float:
        """max(compute, memory): the time at 100 % efficiency and no overhead."""
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        """``"compute"`` when the compute time is at least the memory time, else ``"memory"``."""
        return "compute" if self.compute_s >= self.memory_s else "memory"

    def leaves(self) -> tuple[LayerLatency, ...]:
        """This layer, or a block's parts, recursively: the rows a per-layer table shows."""
        if not self.parts:
            return (self,)
        return tuple(leaf for part in self.parts for leaf in part.leaves())


@dataclass(frozen=True, slots=True, eq=False)
class LatencyPrediction:
    """Predicted latency of a network: one :class:`LayerLatency` per layer of ``network.nodes``.

    :attr:`seconds` is the sum of the layers plus the profile's per-network overhead.
    """

    network: Network
    profile: DeviceProfile
    batch: int
    layers: tuple[LayerLatency, ...]

    @property
    def network_overhead_s(self) -> float:
        return self.profile.overhead_network_s

    @property
    def seconds(self) -> float:
        return sum(lat.seconds for lat in self.layers) + self.network_overhead_s

    @property
    def mult_adds(self) -> int:
        return sum(lat.mult_adds for lat in self.layers)

    @property
    def extrapolated(self) -> bool:
        """True when some layer's kind is not in the profile and was predicted at its default efficiency."""
        return any(leaf.extrapolated for lat in self.layers for leaf in lat.leaves())

    def leaves(self) -> tuple[LayerLatency, ...]:
        """Every leaf layer and block operation, in order (blocks opened up)."""
        return tuple(leaf for lat in self.layers for leaf in lat.leaves())

    def by_kind(self) -> dict[str, float]:
        """{kind: predicted seconds}, summed over leaf layers, in first-seen order."""
        out: dict[str, float] = {}
        for lat in self.leaves():
            out[lat.kind] = out.get(lat.kind, 0.0) + lat.seconds
        return out

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        """A small JSON-compatible record: network name and input, profile name, batch, predicted seconds,
        Mult-Adds, seconds per layer type, and with ``layers=True`` one row per layer (name, kind, seconds,
        compute and memory seconds, bound, efficiency, overhead, bytes moved, Mult-Adds). Not the network."""
        net = self.network
        out: dict[str, Any] = {
            "network": net.name,
            "input_size": net.input_size,
            "in_ch": net.in_ch,
            "profile": self.profile.name,
            "batch": self.batch,
            "seconds": self.seconds,
            "mult_adds": self.mult_adds,
            "by_kind_s": self.by_kind(),
            "extrapolated": self.extrapolated,  # a kind the profile did not cover, at its declared fallback
        }
        if layers:
            out["layers"] = [
                {
                    "name": lat.name,
                    "kind": lat.kind,
                    "seconds": lat.seconds,
                    "compute_s": lat.compute_s,
                    "memory_s": lat.memory_s,
                    "bound": lat.bound,
                    "efficiency": lat.efficiency,
                    "overhead_s": lat.overhead_s,
                    "bytes_moved": lat.bytes_moved,
                    "mult_adds": lat.mult_adds,
                    "extrapolated": any(leaf.extrapolated for leaf in lat.leaves()),
                }
                for lat in self.layers
            ]
        return out

    def to_json(self, layers: bool = False, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string."""
        return dump_json(self.to_dict(layers), indent=indent)

    def table(self) -> pd.DataFrame:
        """One row per leaf layer (pandas DataFrame): Mult-Adds, FLOPs, bytes, intensity, times, bound."""
        return _table(self)  # costmodel.latency.report.prediction_table, through costmodel._hooks

    def __repr__(self) -> str:
        return (
            f"LatencyPrediction({self.network.name!r}, profile={self.profile.name!r}, batch={self.batch}, "
            f"seconds={self.seconds:.6g})"
        )


def roofline_seconds(flops: int, bytes_moved: int, profile: DeviceProfile) -> tuple[float, float]:
    """(compute seconds, memory seconds) of ``flops`` operations and ``bytes_moved`` bytes on ``profile``.

    >>> p = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10)
    >>> roofline_seconds(2 * 10**9, 10**8, p)
    (0.02, 0.01)
    """
    return flops / profile.peak_flops_per_s, bytes_moved / profile.bandwidth_bytes_per_s


def predict(network: Network, profile: DeviceProfile, batch: int = 1) -> LatencyPrediction:
    """Predict the latency of every layer of ``network`` on ``profile``, for a batch of ``batch`` images.

    Parameters
    ----------
    network : Network
        For example ``costmodel.mobilenet_v1(alpha=0.5, resolution=160)``.
    profile : DeviceProfile
        Peak FLOP/s, bandwidth, per-kind efficiency and overheads (and, for a runtime with several kernel
        paths, the paths); see :mod:`costmodel.latency.profiles` and ``costmodel calibrate``.
    batch : int
        Images per forward pass (the paper's latency is batch 1).

    Raises
    ------
    ProfileError
        A layer kind the profile does not cover (and no ``default_efficiency``), or a prediction that is not a
        finite number of seconds (extreme profile values).

    Examples
    --------
    >>> from costmodel import mobilenet_v1
    >>> p = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10, default_efficiency=1.0)
    >>> pred = predict(mobilenet_v1(), p)
    >>> pred.layers[1].name, pred.layers[1].bound, pred.layers[2].bound, pred.extrapolated
    ('conv_dw_1', 'memory', 'compute', True)
    """
    if not isinstance(network, Network):
        raise SpecError(f"predict() needs a Network, got {type(network).__name__}")
    if not isinstance(profile, DeviceProfile):
        raise ProfileError(
            f"predict() needs a DeviceProfile (costmodel.latency.load_profile), got {type(profile).__name__}"
        )
    positive_int(batch, "batch")
    walker = _Walker(profile, dtype_bytes(profile.dtype), batch)
    layers = tuple(walker.layer(lc) for lc in count(network, "paper").layers)
    pred = LatencyPrediction(network, profile, batch, layers)
    if not math.isfinite(pred.seconds):
        raise ProfileError(
            f"profile {profile.name!r}: the predicted latency of {network.name!r} is not finite "
            f"({pred.seconds!r} s); check its extreme values (overheads, efficiencies, peak, bandwidth)"
        )
    return pred


@dataclass(frozen=True, slots=True)
class LayerGeometry:
    """What the model knows of one leaf layer (or block operation) before the profile's terms apply.

    Calibration fits the terms to these; :func:`predict` applies them.
    """

    name: str
    kind: str
    path: str
    compute_s: float  # padded FLOPs / peak
    memory_s: float  # padded bytes / bandwidth
    groups: int  # convolution groups (0 for a block's elementwise operation)
    transition: str | None  # "FROM->TO" when the layer's path differs from the layer before's
    transition_s: float  # 2 x input bytes / bandwidth: the layout change's roofline time
    spill_s: float = 0.0  # bytes beyond the profile's cache_bytes / bandwidth
    activation: str | None = None  # the layer's activation (its own pass when the runtime does not fuse it)
    activation_s: float = 0.0  # 2 x output bytes / bandwidth: that pass's roofline time

    @property
    def roofline_s(self) -> float:
        return max(self.compute_s, self.memory_s)


def geometry(network: Network, profile: DeviceProfile, batch: int = 1) -> list[LayerGeometry]:
    """Every leaf layer and block operation of ``network`` in order, placed on ``profile``'s kernel paths.

    Needs only the profile's peak, bandwidth, paths and channel blocks (not its efficiencies).
    """
    walker = _Walker(profile, dtype_bytes(profile.dtype), batch, fit=True)
    for lc in count(network, "paper").layers:
        walker.layer(lc)
    return walker.seen


_UNIT = KindTerms(1.0, 0.0, 0.0, False)  # calibration's placeholder: geometry only


class _Walker:
    """Predicts layers in network order, carrying the kernel path of the layer before.

    With ``fit=True`` only the geometry is recorded (in :attr:`seen`); the profile's terms are not looked up.
    """

    def __init__(self, profile: DeviceProfile, elem_bytes: int, batch: int, fit: bool = False) -> None:
        self.profile, self.elem_bytes, self.batch, self.fit = profile, elem_bytes, batch, fit
        self.previous = INPUT_PATH
        self.seen: list[LayerGeometry] = []
        self._cache: dict[tuple[str, str], KindTerms] = {}  # the profile's terms, looked up once per kind and path

    def layer(self, lc: LayerCost) -> LayerLatency:
        node = lc.node
        if not lc.parts:
            return self._leaf(lc)
        entry = self.previous
        parts: list[LayerLatency] = []
        costs = iter(lc.parts)  # the engine's parts: the branches' layers, branch after branch
        if isinstance(node.layer, Graph):  # each node starts from the path its first input ended on
            exits = {-1: entry}
            for i, sub in enumerate(node.branches[0]):
                self.previous = exits[sub.sources[0]]
                parts.append(self.layer(next(costs)))
                exits[i] = self.previous
            return _block(node, parts)
        for branch in node.branches:
            self.previous = entry  # every branch starts from the block's input
            parts += [self.layer(next(costs)) for _ in branch]
        own = block_op(node.layer, node)
        if own is not None:  # named after the block's merge layer (``block3.add``), as the runtimes name it
            kind, elements = own
            parts.append(self._elementwise(node.merge or node, kind, elements))
        return _block(node, parts)

    def _terms(self, kind: str, path: str, name: str) -> KindTerms:
        if self.fit:
            return _UNIT
        terms = self._cache.get((kind, path))
        if terms is None:
            try:
                terms = self._cache[kind, path] = self.profile.terms(kind, path)
            except ProfileError as exc:
                raise ProfileError(f"{exc} (layer {name!r})") from None
        return terms

    def _leaf(self, lc: LayerCost) -> LayerLatency:
        profile, batch, node = self.profile, self.batch, lc.node
        name = node.name
        kind = latency_kind(node.layer)
        path = profile.path_of(kind, node.in_ch, self.previous)
        mem = layer_memory(node)
        in_p, out_p = profile.padded(node.in_ch, path, "input"), profile.padded(node.out_ch, path, "output")
        groups = kernel_groups(node.layer)
        # Channel padding on a blocked path: activations and the work grow with the padded channel counts.
        if groups > 1:  # depthwise and grouped: the work scales with the (padded) output channels
            computed = lc.mult_adds * out_p // node.out_ch
        else:
            computed = lc.mult_adds * in_p * out_p // (node.in_ch * node.out_ch)
        in_elems = mem.input_elements * in_p // node.in_ch
        out_elems = mem.output_elements * out_p // node.out_ch
        bytes_moved = self.elem_bytes * (mem.weight_elements + batch * (in_elems + out_elems))
        compute_s, memory_s = roofline_seconds(2 * batch * computed, bytes_moved, profile)
        change_key = f"{self.previous}->{path}" if path and self.previous != path else None
        change_s = 2 * self.elem_bytes * batch * mem.input_elements / profile.bandwidth_bytes_per_s
        spill_s = _spill_s(bytes_moved, profile)
        activation = getattr(node.layer, "activation", None)
        act_s = 2 * self.elem_bytes * batch * out_elems / profile.bandwidth_bytes_per_s
        if self.fit:
            self.seen.append(
                LayerGeometry(
                    name, kind, path, compute_s, memory_s, groups, change_key, change_s, spill_s, activation, act_s
                )
            )
        self.previous = path if path else self.previous
        terms = self._terms(kind, path, name)
        overhead_s = terms.overhead_s + groups * terms.per_group_s + terms.spill * spill_s
        act = profile.activations.get(activation) if activation and not self.fit else None
        if act is not None:  # an activation the runtime runs on its own: one more pass over the output
            overhead_s += act_s / act["efficiency"] + act.get("overhead_s", 0.0)
        change = profile.transitions.get(change_key) if change_key and not self.fit else None
        if change is not None:  # the layout change: read and write the input once
            overhead_s += change_s / change["efficiency"] + change.get("overhead_s", 0.0)
        seconds = max(compute_s, memory_s) / terms.efficiency + overhead_s
        _finite(seconds, name, kind, profile)
        return LayerLatency(
            node, kind, batch * lc.mult_adds, 2 * batch * lc.mult_adds, bytes_moved, compute_s, memory_s,
            terms.efficiency, overhead_s, seconds, path, terms.extrapolated,
        )  # fmt: skip

    def _elementwise(self, node: Node, kind: str, elements: int) -> LayerLatency:
        """A block's own memory-bound operation over ``elements`` elements read and written per image."""
        profile = self.profile
        bytes_moved = self.elem_bytes * self.batch * elements
        memory_s = bytes_moved / profile.bandwidth_bytes_per_s
        path = profile.path_of(kind, node.out_ch, self.previous)
        spill_s = _spill_s(bytes_moved, profile)
        if self.fit:
            self.seen.append(LayerGeometry(node.name, kind, path, 0.0, memory_s, 0, None, 0.0, spill_s))
        terms = self._terms(kind, path, node.name)
        seconds = memory_s / terms.efficiency + terms.overhead_s + terms.spill * spill_s
        _finite(seconds, node.name, kind, profile)
        return LayerLatency(
            node, kind, 0, 0, bytes_moved, 0.0, memory_s, terms.efficiency, terms.overhead_s, seconds, path,
            terms.extrapolated,
        )  # fmt: skip


def _spill_s(bytes_moved: int, profile: DeviceProfile) -> float:
    """Seconds to stream the bytes beyond the profile's cache size (0 without one)."""
    if not profile.cache_bytes:
        return 0.0
    return max(bytes_moved - profile.cache_bytes, 0) / profile.bandwidth_bytes_per_s


def _block(node: Node, parts: list[LayerLatency]) -> LayerLatency:
    """A block's row: sums of its parts; its efficiency is the parts' roofline over their scaled time."""
    roofline = sum(p.roofline_s for p in parts)
    scaled = sum(p.roofline_s / p.efficiency for p in parts)
    return LayerLatency(
        node,
        latency_kind(node.layer),
        sum(p.mult_adds for p in parts),
        sum(p.flops for p in parts),
        sum(p.bytes_moved for p in parts),
        sum(p.compute_s for p in parts),
        sum(p.memory_s for p in parts),
        roofline / scaled if scaled else 1.0,
        sum(p.overhead_s for p in parts),
        sum(p.seconds for p in parts),
        parts[-1].path,
        any(p.extrapolated for p in parts),
        tuple(parts),
    )


def _finite(seconds: float, name: str, kind: str, profile: DeviceProfile) -> None:
    if not math.isfinite(seconds):
        raise ProfileError(
            f"profile {profile.name!r}: layer {name!r} ({kind}) is predicted at {seconds!r} s; an efficiency, "
            f"overhead, peak ({profile.peak_flops_per_s:g} FLOP/s) or bandwidth "
            f"({profile.bandwidth_bytes_per_s:g} bytes/s) is too extreme"
        )
