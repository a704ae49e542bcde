"""Reports: per-layer DataFrames, formula strings, and rendering as table, CSV, JSON or Markdown.

Reports never count. Importing this package registers the table builders of the result objects on
:func:`costmodel._hooks.table` (pandas itself loads only when a table is built).
"""

from __future__ import annotations

from ..latency import report as _latency_report  # noqa: F401  (registers LatencyPrediction's table)
from .tables import FORMATS, cost_table, formula, memory_table, render

__all__ = ["FORMATS", "cost_table", "formula", "memory_table", "render"]
