"""Architecture search on top of the cost engine: search spaces, whole populations costed at once, Pareto fronts.

Data flow: spec -> counting -> latency -> **search** -> reports / CLI. A space builds its candidates with the
spec's own builders; :func:`cost_population` costs thousands to millions of them per second from per-block
tables that the real engine fills (:mod:`costmodel.search.population`).
"""

from __future__ import annotations

from .ofa import ofa_config, ofa_genes
from .pareto import pareto_front
from .population import PopulationCost, cost_population
from .space import Block, Gene, SearchSpace, Stage
from .spaces import SPACES, search_space

__all__ = [
    "ofa_config",
    "ofa_genes",
    "search_space",
    "SPACES",
    "SearchSpace",
    "Block",
    "Stage",
    "Gene",
    "cost_population",
    "PopulationCost",
    "pareto_front",
]
