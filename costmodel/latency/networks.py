"""The networks the latency model is fitted on and checked against, per runtime.

- **Fitting**: MobileNets at (α, resolution) pairs none of which is held out (:data:`FIT_CONFIGS_BY_RUNTIME`),
  plus, with ``--zoo``, the zoo's other networks at :data:`ZOO_FIT_RESOLUTION`.
- **Held out**: the paper's 16 MobileNets of Tables 6-7 (:data:`HELD_OUT`: α ∈ {1.0, 0.75, 0.5, 0.25} x
  resolution ∈ {224, 192, 160, 128}), whose channel counts are all multiples of 8, plus six
  (:data:`HELD_OUT_MIXED`) with channel counts that are not multiples of 4, which ONNX Runtime runs on its other
  kernel path; with ``--zoo``, the zoo's other networks at :data:`ZOO_HELD_OUT_RESOLUTION`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ProfileError
from ..spec.mobilenet import mobilenet_v1
from ..spec.network import Network
from ..spec.zoo import network as zoo_network

__all__ = [
    "FIT_CONFIGS",
    "FIT_CONFIGS_BY_RUNTIME",
    "HELD_OUT",
    "HELD_OUT_MIXED",
    "HELD_OUT_ALL",
    "held_out_networks",
    "ZOO",
    "ZOO_MOBILE",
    "ZOO_CLASSIC",
    "ZOO_FIT_RESOLUTION",
    "ZOO_HELD_OUT_RESOLUTION",
    "zoo_networks",
]

#: (α, resolution) of the fitting configurations: none of them is one of the 16 held-out pairs
#: (α ∈ {1.0, 0.75, 0.5, 0.25} x resolution ∈ {224, 192, 160, 128}); together they span the same range of
#: sizes (about 14 M to 600 M Mult-Adds), at odd resolutions so that padding corner cases are exercised too.
FIT_CONFIGS: tuple[tuple[float, int], ...] = ((0.3, 117), (0.35, 211), (0.6, 175), (0.85, 143), (1.1, 199))

#: Fitting configurations per runtime: (α, resolution), none of them held out.
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

#: The 16 (α, resolution) pairs of the paper's Tables 6-7, never used for fitting.
HELD_OUT: tuple[tuple[float, int], ...] = tuple(
    (alpha, resolution) for alpha in (1.0, 0.75, 0.5, 0.25) for resolution in (224, 192, 160, 128)
)

#: Held-out MobileNets whose channel counts are not all multiples of 4 (ONNX Runtime's other kernel path);
#: none of them is a fitting configuration of either runtime.
HELD_OUT_MIXED: tuple[tuple[float, int], ...] = (
    (0.35, 224),
    (0.35, 160),
    (0.6, 224),
    (0.6, 128),
    (0.9, 192),
    (0.4, 208),
)

#: The default held-out set: both kernel paths.
HELD_OUT_ALL: tuple[tuple[float, int], ...] = HELD_OUT + HELD_OUT_MIXED


def held_out_networks(configs: Sequence[tuple[float, int]] = HELD_OUT_ALL) -> list[Network]:
    """The held-out MobileNets: one per (α, resolution) of ``configs`` (default :data:`HELD_OUT_ALL`)."""
    return [mobilenet_v1(alpha, resolution) for alpha, resolution in _pairs(configs)]


def _pairs(configs: object) -> list[tuple[Any, Any]]:
    """``configs`` as a list of (α, resolution) pairs, else a :class:`ProfileError` naming the first bad one."""
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Sequence):
        raise ProfileError(f"configs must be a sequence of (alpha, resolution) pairs, got a {type(configs).__name__}")
    out = []
    for pair in configs:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ProfileError(f"configs must be (alpha, resolution) pairs, got a {type(pair).__name__}")
        out.append((pair[0], pair[1]))
    return out


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
