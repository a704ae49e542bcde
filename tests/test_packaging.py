"""Packaging: every subpackage ships, the data files are found through importlib.resources."""

from importlib import resources
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "costmodel").rglob("__init__.py")} | {
        "costmodel.data"
    }
    assert on_disk == listed
    assert config["package-dir"]["costmodel.data"] == "data"


def test_data_files_are_resources():
    names = {p.name for p in (ROOT / "data").iterdir() if p.suffix in (".csv", ".md", ".json")}
    shipped = {f.name for f in resources.files("costmodel.data").iterdir()}
    assert names <= shipped
