"""The paper: its published numbers (``data/``), Tables 1-9 published against computed, the TF-slim model card
and accuracy fits, Figures 4-5, and torchvision's documented parameters and GFLOPS against the zoo."""

from __future__ import annotations

from .tables import TABLES, TITLES, Comparison, all_tables, compare, paper_table, separable_savings, table3_network
from .torchvision import compare_torchvision, torchvision_table

__all__ = [
    "TABLES",
    "TITLES",
    "Comparison",
    "all_tables",
    "compare",
    "paper_table",
    "separable_savings",
    "table3_network",
    "compare_torchvision",
    "torchvision_table",
]
