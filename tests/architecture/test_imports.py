"""The package's import graph: no cycle (counting imports inside functions), and no stage reaching back.

The graph is read from the source with ``ast`` (every ``import`` / ``from ... import`` at any depth, a
submodule import also importing its parent packages), so a lazy import inside a function counts as an
edge too: a cycle that works today only because of statement order is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deepfeat_iqa

ROOT = Path(deepfeat_iqa.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _target(modules: dict, name: str) -> str:
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (with their parent packages)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {_target(modules, a.name) for a in node.names if a.name.startswith("deepfeat_iqa")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    base = ".".join(anchor[: len(anchor) - node.level + 1] + ([node.module] if node.module else []))
                if base.startswith("deepfeat_iqa"):
                    for alias in node.names:
                        sub = f"{base}.{alias.name}"
                        edges.add(sub if sub in modules else _target(modules, base))
        for edge in list(edges):  # importing a.b.c runs a and a.b first
            parts = edge.split(".")
            edges |= {".".join(parts[:k]) for k in range(1, len(parts))}
        graph[module] = {e for e in edges if e != module and not module.startswith(e + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# What each stage may not import: later stages of the flow (images → views → backbones → store → heads →
# evaluation → studies), and for the packages that hold training machinery or preprocessing, any head.
FORBIDDEN = {
    "deepfeat_iqa.runtime": ("deepfeat_iqa.inputs", "deepfeat_iqa.backbones", "deepfeat_iqa.extraction", "deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.inputs": ("deepfeat_iqa.backbones", "deepfeat_iqa.extraction", "deepfeat_iqa.store", "deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.datasets": ("deepfeat_iqa.synth", "deepfeat_iqa.backbones", "deepfeat_iqa.extraction", "deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.backbones": ("deepfeat_iqa.extraction", "deepfeat_iqa.store", "deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.extraction": ("deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.store": ("deepfeat_iqa.extraction", "deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.training": ("deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.patchcnn": ("deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.pretrain": ("deepfeat_iqa.heads", "deepfeat_iqa.evaluation", "deepfeat_iqa.studies"),
    "deepfeat_iqa.heads": ("deepfeat_iqa.evaluation", "deepfeat_iqa.studies", "deepfeat_iqa.cli"),
    "deepfeat_iqa.evaluation": ("deepfeat_iqa.studies", "deepfeat_iqa.cli"),
}


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_no_stage_imports_a_later_one(stage: str) -> None:
    graph = import_graph()
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module == stage or module.startswith(stage + ".")
        for target in targets
        if any(target == banned or target.startswith(banned + ".") for banned in FORBIDDEN[stage])
    )
    assert offending == []
