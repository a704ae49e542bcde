"""The import graph runs with the data flow: spec -> counting -> reference -> latency -> search -> reports -> CLI.

Every ``import`` in every module counts, at the top, inside functions and under ``TYPE_CHECKING`` alike (a lazy
import is still a dependency). The test fails on a cycle between modules, and on an import that runs against the
flow (a stage importing a later one). Implicit imports of parent packages (Python runs ``costmodel/__init__``
before any submodule) are not edges: only what a module names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "costmodel"

#: Each stage's rank: a module may import modules of its own rank or lower. The longest prefix wins.
STAGES: dict[str, int] = {
    "costmodel.errors": 0,
    "costmodel.checks": 0,
    "costmodel._files": 0,
    "costmodel._limits": 0,
    "costmodel._random": 0,
    "costmodel._hooks": 0,
    "costmodel.data": 0,
    "costmodel.spec": 1,
    "costmodel.counting": 2,
    "costmodel.reference": 3,
    "costmodel.latency": 4,
    "costmodel.search": 5,
    "costmodel.report": 6,
    "costmodel.paper": 6,
    "costmodel.latency.report": 6,  # the latency stage's own reports and figures
    "costmodel.latency.plots": 6,
    "costmodel": 7,  # the package root: the public facade re-exports every stage but the CLI
    "costmodel.cli": 7,
    "costmodel.__main__": 8,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level else []
    return ".".join([*base, *(name.split(".") if name else [])])


def imports(module: str) -> set[str]:
    """The costmodel modules ``module`` imports anywhere in its source (lazy and type-only imports included)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module) if node.level else (node.module or "")
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
            # ``from . import kernels`` names the submodule only; ``from .x import y`` names the module x
            targets = submodules if len(submodules) == len(node.names) else [base, *submodules]
        for target in targets:
            while target and target not in MODULES:  # costmodel.spec.layers.Conv2d -> costmodel.spec.layers
                target = target.rpartition(".")[0]
            if target and target != module and target.startswith("costmodel"):
                out.add(target)
    return out


def rank(module: str) -> int:
    prefix = max((p for p in STAGES if module == p or module.startswith(p + ".")), key=len)
    return STAGES[prefix]


GRAPH = {m: imports(m) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_every_module_has_a_stage():
    assert all(any(m == p or m.startswith(p + ".") for p in STAGES) for m in MODULES)


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles (lazy and type-only imports counted): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_imports_run_with_the_flow():
    against = sorted(
        f"{m} (stage {rank(m)}) imports {t} (stage {rank(t)})" for m, targets in GRAPH.items() for t in targets
        if rank(t) > rank(m)
    )  # fmt: skip
    assert not against, "imports against the data flow:\n" + "\n".join(against)


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"a"}}, ["a", "b"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, ["a", "b", "c"]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert _cycles(graph) == [cycle]


def test_lazy_and_type_only_imports_are_edges(tmp_path):
    """The walker sees an import inside a function and one under TYPE_CHECKING (checked on a real module)."""
    assert "costmodel.counting.engine" in GRAPH["costmodel.report.tables"]  # top-level
    lazy = {t for m, ts in GRAPH.items() for t in ts if m.startswith("costmodel.cli.")}
    assert "costmodel.report.tables" in lazy  # the CLI commands import the reports inside run()


def test_the_root_keeps_to_a_few_modules():
    root_modules = [p for p in ROOT.glob("*.py")]
    assert len(root_modules) <= 8, sorted(p.name for p in root_modules)
