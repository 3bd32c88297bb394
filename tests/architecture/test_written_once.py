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


def _json_default_hooks(tree: ast.Module) -> list[str]:
    """Names passed as ``default=`` to ``json.dumps``/``json.dump`` other than ``str``: a sanitizer of its own."""
    return [
        ast.unparse(keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("dumps", "dump")
        for keyword in node.keywords
        if keyword.arg == "default" and ast.unparse(keyword.value) != "str"
    ]


def test_json_is_made_safe_by_one_function() -> None:
    """Records go through ``deepfeat_iqa._json.json_safe``; no module hands json its own converter hook."""
    hooks = {module: found for module, tree in _trees().items() if (found := _json_default_hooks(tree))}
    assert hooks == {}
    assert _json_default_hooks(ast.parse("json.dumps(x, default=_plain)\njson.dumps(y, default=str)\n")) == ["_plain"]


def test_json_safe_converts_numpy_and_paths_and_refuses_the_rest() -> None:
    import json

    import numpy as np
    import pytest

    from deepfeat_iqa._json import json_safe

    record = {"srocc": np.float32(0.5), "n": np.int64(3), "ok": np.bool_(True), "path": Path("/a/b.jpg"),
              "rows": np.arange(3), "pair": (1, np.float64(np.nan)), np.int64(7): "seven"}  # fmt: skip
    plain = json_safe(record)
    assert plain == {"srocc": 0.5, "n": 3, "ok": True, "path": "/a/b.jpg", "rows": [0, 1, 2], "pair": [1, plain["pair"][1]], 7: "seven"}
    assert type(plain["n"]) is int and type(plain["ok"]) is bool and np.isnan(plain["pair"][1])
    assert json.loads(json.dumps(json_safe(record, finite=True), allow_nan=False))["pair"] == [1, None]
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        json_safe({"tags": {1, 2}})
    assert json_safe({"tags": {1}}, fallback=str) == {"tags": "{1}"}
