"""Issue 18 point 6: a responsibility written once. Type aliases have one home; JSON sanitizing is one function."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import deepfeat_iqa

ROOT = Path(deepfeat_iqa.__file__).parent


def _trees() -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT.parent)): ast.parse(path.read_text()) for path in ROOT.rglob("*.py")}


def _union_aliases(tree: ast.Module) -> set[str]:
    """Module-level ``Name = A | B`` assignments: the type aliases a module defines."""
    return {
        node.targets[0].id
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.BitOr)
    }  # fmt: skip


def test_each_type_alias_is_defined_in_one_module() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for module, tree in _trees().items():
        for name in _union_aliases(tree):
            homes[name].append(module)
    assert {name: where for name, where in homes.items() if len(where) > 1} == {}


def test_the_alias_finder_finds_an_alias() -> None:
    assert _union_aliases(ast.parse("HeadSpec = str | int\nx = 1\ny = a | b | c\n")) == {"HeadSpec", "y"}
