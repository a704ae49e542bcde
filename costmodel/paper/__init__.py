"""The paper: its published numbers (``data/``), Tables 1-9 published against computed, the TF-slim model card
and accuracy fits, and Figures 4-5."""

from __future__ import annotations

from .tables import TABLES, TITLES, Comparison, all_tables, compare, paper_table, separable_savings, table3_network

__all__ = [
    "TABLES",
    "TITLES",
    "Comparison",
    "all_tables",
    "compare",
    "paper_table",
    "separable_savings",
    "table3_network",
]
