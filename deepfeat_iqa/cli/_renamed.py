"""0.1's command-line flags, rewritten to today's before parsing, with a warning on stderr.

The flags follow the Python API's names (``--backbone`` for ``backbone=``, docs/vocabulary.md); scripts
written for 0.1 keep working for one release. Rewriting the arguments once, before click parses them,
keeps one declaration per option (no hidden duplicates whose values would have to be merged).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer.core

#: old flag -> new flag (exact tokens, and ``--old=value``); removed in 0.3.
RENAMED_FLAGS = {
    "--model": "--backbone",
    "--models": "--backbones",
    "--layer": "--layers",
    "--crops": "--views",
    "--n": "--n-splits",
    "--repeats": "--n-splits",
}


def rewrite(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``args`` with 0.1 flags renamed (up to a ``--`` separator), and the warnings to print."""
    out: list[str] = []
    warned: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        flag, sep, value = arg.partition("=")
        new = RENAMED_FLAGS.get(flag)
        if new is None:
            out.append(arg)
            continue
        out.append(new + sep + value)
        note = f"warning: {flag} is now {new}; the old flag goes in 0.3."
        if note not in warned:
            warned.append(note)
    return out, warned


class RenamedFlagsGroup(typer.core.TyperGroup):
    """The application's click group: renames 0.1 flags before any command parses them."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        rewritten, warnings = rewrite(sys.argv[1:] if args is None else list(args))
        for note in warnings:
            print(note, file=sys.stderr)
        return super().main(rewritten, *rest, **kwargs)
