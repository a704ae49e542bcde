"""Latency: a roofline model per layer on a device profile, its calibration and its validation.

``model`` (:func:`predict`), ``kinds`` (latency kinds), ``profiles`` (:class:`DeviceProfile`, JSON/TOML files);
calibration by job: ``microbench`` (peak FLOP/s, bandwidth), ``measure`` and ``runtimes`` (timing networks on the
NumPy executor or ONNX Runtime), ``paths`` (kernel-path rules), ``fit`` (the least-squares fit), ``networks``
(fitting, held-out and zoo lists), ``calibrate`` (all of it in one call); ``validate`` (held-out networks),
``report`` and ``plots`` (tables and figures; they never predict).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import LatencyPrediction, LayerLatency, predict
    from .profiles import DeviceProfile, load_profile, profile_from_dict, save_profile

_MODEL = ("LatencyPrediction", "LayerLatency", "predict")
_PROFILES = ("DeviceProfile", "load_profile", "profile_from_dict", "save_profile")


def __getattr__(name: str) -> object:
    """``predict``, ``load_profile``... loaded on first use: ``import costmodel`` (which imports the latency
    stage's report module to register its tables) does not load the model."""
    if name in _MODEL:
        from . import model

        return getattr(model, name)
    if name in _PROFILES:
        from . import profiles

        return getattr(profiles, name)
    raise AttributeError(f"module 'costmodel.latency' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's own names and the lazily loaded ones, as ``dir()`` and tab completion should show them."""
    return sorted(set(globals()) | set(_MODEL) | set(_PROFILES))


__all__ = [
    "LatencyPrediction",
    "LayerLatency",
    "predict",
    "DeviceProfile",
    "load_profile",
    "profile_from_dict",
    "save_profile",
]
