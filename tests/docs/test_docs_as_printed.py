"""The README and every docs page, as printed: their code must parse and call the API and CLI as they are.

The snippets need databases and weights this test cannot fetch, so it checks what it can without running
them: every ```python block parses; every call of a ``dfi.`` function binds to that function's signature
(a renamed or misspelled keyword fails here instead of in a reader's hands); every ``deepfeat-iqa`` command
line in a ```bash block names a real command and only flags that command has. The blocks that can run
offline (the README's first two commands) are run by CI and ``tests/demo``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) == kind:
                line = text[: match.start()].count("\n") + 2
                found.append((f"{page.relative_to(ROOT)}:{line}", line, match.group(2)))
    return found


PYTHON = _blocks("python")
BASH = [b for b in _blocks("bash") + _blocks("") if "deepfeat-iqa " in b[2]]


def _resolve(node: ast.expr) -> object | None:
    """The object ``dfi.a.b`` names (``None`` for anything not rooted at ``dfi``)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not (isinstance(node, ast.Name) and node.id == "dfi") or not parts:
        return None
    obj: object = importlib.import_module("deepfeat_iqa")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # an old path in the docs fails, too
        for part in parts:
            obj = getattr(obj, part)
    return obj


def test_there_are_snippets_to_check():
    assert len(PYTHON) >= 15 and len(BASH) >= 5


@pytest.mark.parametrize(("where", "line", "code"), PYTHON, ids=[b[0] for b in PYTHON])
def test_python_snippets_parse_and_call_the_api_as_it_is(where: str, line: int, code: str) -> None:
    tree = ast.parse(code, filename=where)  # a SyntaxError names the page and line
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        target = _resolve(call.func)
        if target is None or not callable(target):
            continue
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
            names = {k.arg for k in call.keywords if k.arg}
            retired = names & {"model", "models", "layer", "crops", "repeats", "n", "k"}
            assert not retired, f"{where}: {ast.unparse(call.func)}() takes **kwargs; retired keywords {retired}"
            continue
        args = [object()] * len(call.args) if not any(isinstance(a, ast.Starred) for a in call.args) else []
        kwargs = {k.arg: object() for k in call.keywords if k.arg}
        try:
            signature.bind_partial(*args, **kwargs)
        except TypeError as error:
            raise AssertionError(f"{where} (line {line + call.lineno - 1}): {ast.unparse(call)[:120]}: {error}") from None


def _command_lines(code: str) -> list[list[str]]:
    lines = []
    for raw in code.replace("\\\n", " ").splitlines():
        text = raw.split(" #")[0].strip()
        for part in re.split(r"&&|;|\|", text):
            words = shlex.split(part.strip()) if part.strip() else []
            if "deepfeat-iqa" in words:
                lines.append(words[words.index("deepfeat-iqa") + 1:])
    return lines


@pytest.mark.parametrize(("where", "line", "code"), BASH, ids=[b[0] for b in BASH])
def test_cli_lines_name_real_commands_and_flags(where: str, line: int, code: str) -> None:
    import typer.main

    from deepfeat_iqa.cli import app

    group = typer.main.get_command(app)
    for words in _command_lines(code):
        words = [w for w in words if w not in ("-v", "--verbose")]
        if not words or words[0].startswith("-") or "..." in words[0]:
            continue
        command = group.commands.get(words[0])
        assert command is not None, f"{where}: unknown command {words[0]!r}"
        flags = {opt for param in command.params for opt in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ()))}
        flags |= {"--help"}
        for word in words[1:]:
            if word.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", word):
                flag = word.split("=")[0]
                assert flag in flags, f"{where}: `deepfeat-iqa {words[0]}` has no flag {flag!r}"
