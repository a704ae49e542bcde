"""A roofline latency model per layer: from Mult-Adds and bytes moved to seconds, on one device profile.

For each layer (batch ``N`` images, one after another, as the reference executor runs them):

- FLOPs = 2 x Mult-Adds (the paper's convention, :func:`costmodel.counting.engine.count`; pooling and softmax do none);
- bytes moved = (weights + N x input + N x output activations) x the profile dtype's size, from
  :func:`costmodel.counting.memory.layer_memory` (weights are read once per batch, activations once per image);
- arithmetic intensity = FLOPs / bytes moved;
- compute time = FLOPs / peak FLOP/s, memory time = bytes / bandwidth;
- predicted time = max(compute time, memory time) / efficiency(layer type) + overhead(layer type), the
  overhead being the profile's per-layer ``overhead_s`` plus its optional per-type extra;
- the layer is ``"compute"``-bound when compute time >= memory time, else ``"memory"``-bound.

The model returns floats and small dataclasses and never formats (see :mod:`costmodel.latency.report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING

from .._hooks import table as _table
from ..checks import positive_int
from ..counting.engine import count
from ..counting.kinds import layer_kind
from ..counting.memory import dtype_bytes, layer_memory
from ..errors import SpecError
from ..spec.layers import (
    AdaptiveAvgPool,
    Add,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Linear,
    Mul,
    Pool2d,
    Residual,
    Scale,
    Softmax,
)
from ..spec.network import Network, Node
from .profiles import DeviceProfile

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LayerLatency", "LatencyPrediction", "predict", "roofline_seconds", "latency_kind"]


@dataclass(frozen=True, slots=True)
class LayerLatency:
    """One layer's roofline on one profile."""

    node: Node
    kind: str  # costmodel.counting.kinds.layer_kind: "Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC", ...
    mult_adds: int
    flops: int  # 2 x mult_adds
    bytes_moved: int  # weights + input + output activations at the profile's dtype
    compute_s: float  # flops / peak
    memory_s: float  # bytes_moved / bandwidth
    efficiency: float
    overhead_s: float
    seconds: float  # max(compute_s, memory_s) / efficiency + overhead_s

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


@dataclass(frozen=True, slots=True, eq=False)
class LatencyPrediction:
    """Predicted latency of a network: one :class:`LayerLatency` per layer, adding up to :attr:`seconds`."""

    network: Network
    profile: DeviceProfile
    batch: int
    layers: tuple[LayerLatency, ...]

    @property
    def seconds(self) -> float:
        return sum(lat.seconds for lat in self.layers)

    @property
    def mult_adds(self) -> int:
        return sum(lat.mult_adds for lat in self.layers)

    def by_kind(self) -> dict[str, float]:
        """{layer type: predicted seconds}, summed over layers, in first-seen order."""
        out: dict[str, float] = {}
        for lat in self.layers:
            out[lat.kind] = out.get(lat.kind, 0.0) + lat.seconds
        return out

    def table(self) -> pd.DataFrame:
        """One row per layer (pandas DataFrame): Mult-Adds, FLOPs, bytes, intensity, times, bound."""
        return _table(self)  # costmodel.latency.report.prediction_table, through costmodel._hooks

    def __repr__(self) -> str:
        return (
            f"LatencyPrediction({self.network.name!r}, profile={self.profile.name!r}, batch={self.batch}, "
            f"seconds={self.seconds:.6g})"
        )


@singledispatch
def latency_kind(layer: object) -> str:
    """The kind under which a profile holds a layer's efficiency and overhead (one rule per layer type).

    Today the paper's Table 2 kinds (:func:`costmodel.counting.kinds.layer_kind`): "Conv 1x1", "Conv DW 3x3"...
    """
    raise SpecError(f"{getattr(layer, 'name', layer)}: no latency kind for layer type {type(layer).__name__}")


@latency_kind.register(Conv2d)
@latency_kind.register(Pool2d)
@latency_kind.register(GlobalAvgPool)
@latency_kind.register(AdaptiveAvgPool)
@latency_kind.register(Linear)
@latency_kind.register(Softmax)
@latency_kind.register(Concat)
@latency_kind.register(Residual)
@latency_kind.register(Scale)
@latency_kind.register(Add)
@latency_kind.register(Mul)
def _(layer: object) -> str:
    return layer_kind(layer)


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
        Peak FLOP/s, bandwidth, per-layer-type efficiency and per-layer overhead; see
        :mod:`costmodel.latency.profiles` and ``costmodel calibrate``.
    batch : int
        Images per forward pass (the paper's latency is batch 1).

    Examples
    --------
    >>> from costmodel import mobilenet_v1
    >>> p = DeviceProfile(peak_flops_per_s=1e11, bandwidth_bytes_per_s=1e10)
    >>> pred = predict(mobilenet_v1(), p)
    >>> pred.layers[1].name, pred.layers[1].bound, pred.layers[2].bound
    ('conv_dw_1', 'memory', 'compute')
    """
    if not isinstance(network, Network):
        raise SpecError(f"predict() needs a Network, got {type(network).__name__}")
    positive_int(batch, "batch")
    elem_bytes = dtype_bytes(profile.dtype)
    layers = []
    for lc in count(network, "paper").layers:
        mem = layer_memory(lc.node)
        mult_adds = batch * lc.mult_adds
        bytes_moved = elem_bytes * (mem.weight_elements + batch * (mem.input_elements + mem.output_elements))
        compute_s, memory_s = roofline_seconds(2 * mult_adds, bytes_moved, profile)
        kind = latency_kind(lc.node.layer)
        efficiency = profile.efficiency_of(kind)
        overhead_s = profile.overhead_of(kind)
        seconds = max(compute_s, memory_s) / efficiency + overhead_s
        layers.append(
            LayerLatency(
                lc.node,
                kind,
                mult_adds,
                2 * mult_adds,
                bytes_moved,
                compute_s,
                memory_s,
                efficiency,
                overhead_s,
                seconds,
            )
        )
    return LatencyPrediction(network, profile, batch, tuple(layers))
