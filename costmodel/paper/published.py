"""Published numbers shipped with the package (``costmodel.data``), read through ``importlib.resources``.

Data files are CSV with ``#`` comment lines at the top saying where every number came from; see the data
folder's README.md. This module only reads them: no pandas, no interpretation.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

from ..errors import DataError

__all__ = ["read_csv", "data_text"]


def data_text(name: str) -> str:
    """The text of the shipped data file ``name`` (e.g. ``"paper_tables.csv"``)."""
    try:
        return resources.files("costmodel.data").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise DataError(f"data file {name!r} is not installed with costmodel ({exc})") from None


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of a shipped CSV file as dictionaries of strings, ``#`` comment lines skipped."""
    lines = [line for line in data_text(name).splitlines() if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    rows = list(reader)
    if not rows or reader.fieldnames is None:
        raise DataError(f"data file {name!r} has no rows")
    return rows
