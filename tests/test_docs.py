"""Every example in the README and the documentation site runs, as a reader would run it.

- Every ```python block of a page runs, in order, in one namespace per page (a page's later snippets may use
  the names its earlier ones made), in a scratch folder. Nothing is given to a page that it does not make
  itself: a snippet that needs a name or a file the text never made fails here.
- Every ``costmodel ...`` line of a ```sh block (and every ``$ costmodel ...`` line of a ```text block) is
  parsed by the real command-line parser, and the cheap commands (counting, tables, sweeps: milliseconds
  each) also run, in the scratch folder, and must exit with status 0 (with ``--spec FILE``: parsed only).
  Commands that measure (``calibrate``, ``run``...) are parsed only: the suite runs them elsewhere on small
  inputs.
- The site's extension that renders doctests as code is checked on a docstring of each shape it handles.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
CHEAP = {"tables", "count", "conventions", "sweep", "formula", "budget", "card"}


def _blocks(page: Path, languages: tuple[str, ...]) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8")) if lang in languages]


def _commands(page: Path) -> list[list[str]]:
    commands = []
    for lang, body in FENCE.findall(page.read_text(encoding="utf-8")):
        for line in body.splitlines():
            line = line.strip()
            if lang == "text" and line.startswith("$ costmodel "):
                line = line[2:]
            elif lang != "sh" or not line.startswith("costmodel "):
                continue
            commands.append(shlex.split(line, comments=True)[1:])
    return commands


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


PYTHON_PAGES = [p for p in PAGES if _blocks(p, ("python",))]
COMMANDS = [(p, argv) for p in PAGES for argv in _commands(p)]


def test_the_pages_have_examples():
    assert (ROOT / "README.md") in PYTHON_PAGES
    assert len(PYTHON_PAGES) >= 10
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_name)
def test_every_python_snippet_runs_in_order(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for i, snippet in enumerate(_blocks(page, ("python",))):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(snippet, f"{_name(page)} python snippet {i}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{_name(page)} python snippet {i} fails: {type(exc).__name__}: {exc}\n{snippet}")


@pytest.mark.parametrize(("page", "argv"), COMMANDS, ids=[f"{_name(p)}: {' '.join(a)}" for p, a in COMMANDS])
def test_every_command_parses_and_the_cheap_ones_run(page, argv, tmp_path, monkeypatch, capsys):
    from costmodel.cli import build_parser, main

    monkeypatch.chdir(tmp_path)
    try:
        build_parser().parse_args(argv)
    except SystemExit:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{_name(page)}: 'costmodel {' '.join(argv)}' does not parse: {capsys.readouterr().err}")
    if argv[0] in CHEAP and "--spec" not in argv:  # a document the text made elsewhere: parsed only
        assert main(argv) == 0, capsys.readouterr().err
        assert capsys.readouterr().out or "--out" in argv


def test_doctests_outside_examples_become_code(monkeypatch):
    import importlib.util
    import types

    if importlib.util.find_spec("griffe") is None:  # the docs extra is installed after the tests in .ci/run: the
        stub = types.ModuleType("griffe")  # pure function under test needs only griffe's base class to exist
        stub.Extension = object  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "griffe", stub)
    monkeypatch.delitem(sys.modules, "doctests_as_code", raising=False)
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        from doctests_as_code import fence_doctests
    finally:
        sys.path.pop(0)
    text = (
        "Summary.\n>>> f(1)\n[1, 2]\n\nParameters\n----------\nx : int\n    Text.\n\n    >>> x\n    2\n\n"
        "Examples\n--------\n>>> g()\n3\n"
    )
    assert fence_doctests(text) == (
        "Summary.\n\n```pycon\n>>> f(1)\n[1, 2]\n```\n\nParameters\n----------\nx : int\n    Text.\n\n"
        "    ```pycon\n    >>> x\n    2\n    ```\n\nExamples\n--------\n>>> g()\n3"
    )
