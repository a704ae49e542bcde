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


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_license_file_is_the_license_the_metadata_names():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    project = _project()
    assert project["license"] == {"text": "MIT"}
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text  # the MIT grant itself, not just its name
    assert "License :: OSI Approved :: MIT License" in project["classifiers"]


def test_classifiers_cover_the_supported_pythons():
    project = _project()
    minimum = tuple(int(x) for x in project["requires-python"].removeprefix(">=").split("."))
    versions = {
        tuple(int(x) for x in c.rsplit(" :: ", 1)[1].split("."))
        for c in project["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    }
    assert min(versions) == minimum  # the oldest Python classified is the oldest one required


def test_the_changelog_has_the_current_version():
    import costmodel

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert _project()["version"] == costmodel.__version__
    headings = [line for line in changelog.splitlines() if line.startswith("## ")]
    assert headings[0].startswith("## [Unreleased]")
    assert any(h.startswith(f"## [{costmodel.__version__}] - ") for h in headings)


@pytest.mark.parametrize("module_name", ["costmodel", "costmodel.latency"])
def test_dir_lists_the_lazily_loaded_names(module_name):
    """``dir(module)`` (tab completion, help()) shows every public name, those loaded on first use included, and
    every name it shows resolves."""
    import importlib

    module = importlib.import_module(module_name)
    listed = dir(module)
    assert set(module.__all__) <= set(listed)
    assert listed == sorted(listed)
    for name in module.__all__:
        assert getattr(module, name) is not None
