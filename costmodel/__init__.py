"""costmodel: an exact analytical cost calculator for MobileNetV1 (Howard et al., 2017) and its variants.

>>> import costmodel
>>> c = costmodel.count(costmodel.mobilenet_v1(alpha=0.5, resolution=160))
>>> c.mult_adds, c.params
(76524800, 1319648)

Many configurations at once, exactly and vectorised (module :mod:`costmodel.counting.sweeps`):

>>> costmodel.sweep([0.5, 1.0], [160, 224])["mult_adds"].tolist()
[76524800, 149497088, 290675200, 568740352]

Importing costmodel imports neither NumPy, pandas nor matplotlib; they load when a sweep, a table or a plot is
asked for (the reference and latency commands set the BLAS threads before NumPy loads).
"""

from __future__ import annotations

from . import report as _report  # noqa: F401  (registers the table builders; pandas loads only when used)
from .counting.conventions import CONVENTIONS, Convention, get_convention
from .counting.dtypes import DtypeCost, dtype_cost
from .counting.engine import Cost, LayerCost, count
from .counting.presets import PRESETS, preset_names  # importing registers the tool presets (a few dataclasses)
from .counting.sweeps import sweep, sweep_arrays
from .errors import (
    ConventionError,
    CostModelError,
    DataError,
    InputError,
    ProfileError,
    SpecError,
    WeightsError,
)
from .report.tables import formula
from .spec.blocks import inverted_residual, squeeze_excite
from .spec.layers import AdaptiveAvgPool, Concat, Conv2d, GlobalAvgPool, Linear, Pool2d, Residual, Scale, Softmax
from .spec.mobilenet import mobilenet_v1
from .spec.network import Network, Node
from .spec.timm_arch import from_timm_arch, timm_network
from .spec.zoo import network

__version__ = "0.1.0"

_SEARCH = ("search_space", "cost_population", "pareto_front", "SearchSpace", "Block", "Stage")


def __getattr__(name: str) -> object:
    """The search-space API, loaded on first use (``import costmodel`` stays small for the counting API)."""
    if name in _SEARCH:
        from . import search

        return getattr(search, name)
    raise AttributeError(f"module 'costmodel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SEARCH))


__all__ = [
    "mobilenet_v1",
    "network",
    "from_timm_arch",
    "timm_network",
    "search_space",
    "cost_population",
    "pareto_front",
    "SearchSpace",
    "Block",
    "Stage",
    "count",
    "dtype_cost",
    "DtypeCost",
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
    "Scale",
    "inverted_residual",
    "squeeze_excite",
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
