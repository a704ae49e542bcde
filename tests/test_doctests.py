"""Run the docstring examples of every costmodel module that imports without optional dependencies."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import costmodel

SKIP = {"costmodel.__main__"}  # running it would run the CLI


def _modules() -> list[str]:
    names = ["costmodel"]
    for info in pkgutil.walk_packages(costmodel.__path__, prefix="costmodel."):
        if info.name not in SKIP and not info.name.startswith("costmodel.data"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional dependency (onnx, h5py...) that is not installed
        if exc.name and not exc.name.startswith("costmodel"):
            pytest.skip(f"{name} needs {exc.name}")
        raise
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize(
    "name",
    ["costmodel", "costmodel.spec.serialize", "costmodel.spec.zoo", "costmodel.counting.presets",
     "costmodel.counting.engine", "costmodel.counting.memory"],
)  # fmt: skip
def test_public_modules_have_examples(name):
    assert doctest.testmod(importlib.import_module(name)).attempted > 0
