"""A griffe extension for the API reference: doctests outside an ``Examples`` section become code blocks.

costmodel's docstrings put runnable examples (``>>>`` lines and their output, checked by
``tests/test_doctests.py``) wherever they explain best, not only in numpydoc's ``Examples`` section, which
griffe already renders as code. Rendered as Markdown, those would read as paragraphs (and a printed list such
as ``['a', 'b']`` as a link). This wraps each run of doctest lines, from a ``>>>`` line to the next blank line,
in a fenced ``pycon`` block at its own indentation. Loaded by mkdocs.yml; nothing in the package imports it.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")


def fence_doctests(text: str) -> str:
    """``text`` with every doctest run outside an ``Examples`` section fenced as a ``pycon`` code block."""
    lines = text.splitlines()
    out: list[str] = []
    in_examples = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _SECTION_RULE.match(lines[i + 1]) and line.strip():
            in_examples = line.strip() == "Examples"
        stripped = line.lstrip()
        if stripped.startswith(">>>") and not in_examples:
            indent = line[: len(line) - len(stripped)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")  # a fence needs a blank line before it inside a paragraph
            out += [f"{indent}```pycon", *block, f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DoctestsAsCode(griffe.Extension):
    """Fence the doctests of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
