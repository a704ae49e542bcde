"""Latency: a roofline model per layer on a device profile, its calibration and its validation.

``model`` (:func:`predict`), ``profiles`` (:class:`DeviceProfile`, JSON/TOML files), ``calibrate`` (measure a
profile), ``validate`` (held-out networks), ``report`` and ``plots`` (tables and figures; they never predict).
"""

from __future__ import annotations

from .model import LatencyPrediction, LayerLatency, predict
from .profiles import DeviceProfile, load_profile, profile_from_dict, save_profile

__all__ = [
    "LatencyPrediction",
    "LayerLatency",
    "predict",
    "DeviceProfile",
    "load_profile",
    "profile_from_dict",
    "save_profile",
]
