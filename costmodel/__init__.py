"""costmodel: an exact analytical cost calculator for MobileNetV1 (Howard et al., 2017) and its variants.

>>> import costmodel
>>> c = costmodel.count(costmodel.mobilenet_v1(alpha=0.5, resolution=160))
>>> c.mult_adds, c.params
(76524800, 1319648)

Many configurations at once, exactly and vectorised (module :mod:`costmodel.sweeps`):

>>> costmodel.sweep([0.5, 1.0], [160, 224])["mult_adds"].tolist()
[76524800, 149497088, 290675200, 568740352]

Importing costmodel imports neither NumPy, pandas nor matplotlib; they load when a sweep, a table or a plot is
asked for (the reference and latency commands set the BLAS threads before NumPy loads).
"""

from __future__ import annotations

from .conventions import CONVENTIONS, Convention, get_convention
from .engine import Cost, LayerCost, count, formula
from .errors import (
    ConventionError,
    CostModelError,
    DataError,
    InputError,
    ProfileError,
    SpecError,
    WeightsError,
)
from .layers import AdaptiveAvgPool, Concat, Conv2d, GlobalAvgPool, Linear, Pool2d, Residual, Softmax
from .mobilenet import mobilenet_v1
from .presets import PRESETS, preset_names  # importing registers the tool presets (a few dataclasses)
from .spec import Network, Node
from .sweeps import sweep, sweep_arrays
from .zoo import network

__version__ = "0.1.0"

__all__ = [
    "mobilenet_v1",
    "network",
    "count",
    "sweep",
    "sweep_arrays",
    "formula",
    "Cost",
    "LayerCost",
    "Network",
    "Node",
    "Conv2d",
    "Pool2d",
    "GlobalAvgPool",
    "Linear",
    "Softmax",
    "AdaptiveAvgPool",
    "Concat",
    "Residual",
    "Convention",
    "PRESETS",
    "preset_names",
    "CONVENTIONS",
    "get_convention",
    "CostModelError",
    "SpecError",
    "ConventionError",
    "DataError",
    "WeightsError",
    "InputError",
    "ProfileError",
]
