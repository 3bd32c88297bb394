"""Our deliberate errors as one line in the CLI's own vocabulary (``--on-error skip``, not ``on_error='skip'``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import typer

from deepfeat_iqa.errors import DeepfeatError


def cli_vocabulary(message: str, options: dict[str, str]) -> str:
    """Rewrite Python spellings of the command's options in ``message`` as its flags.

    ``options`` maps parameter names to flags (``{"on_error": "--on-error"}``): ``on_error='skip'``
    becomes ``--on-error skip``, ``weights=PATH`` becomes ``--weights PATH`` and a bare ``image_col=``
    becomes ``--image-col``.
    """
    for name, flag in sorted(options.items(), key=lambda item: -len(item[0])):
        message = re.sub(rf"(?<![\w.-]){name}=(['\"]?)([^'\"\s,;)]+)\1", lambda m, f=flag: f"{f} {m.group(2)}", message)
        message = re.sub(rf"(?<![\w.-]){name}=", f"{flag} ", message)
    return message


@lru_cache(maxsize=1)
def _command_options() -> dict[str, str]:
    """Parameter name -> long flag, over every command (each option is spelled the same on all of them)."""
    import typer.main

    from deepfeat_iqa.cli._app import app

    flags: dict[str, str] = {}
    for command in typer.main.get_command(app).commands.values():
        for param in command.params:
            long = [opt for opt in getattr(param, "opts", []) if opt.startswith("--")]
            if getattr(param, "param_type_name", "") == "option" and param.name and long:
                flags.setdefault(param.name, long[0])
    return flags


@contextmanager
def user_errors() -> Iterator[None]:
    """Show deliberate errors (which say the fix) as one line and exit 1; Ctrl-C says what was saved, exit 130."""
    try:
        yield
    except DeepfeatError as error:
        typer.echo(f"Error: {cli_vocabulary(str(error), _command_options())}", err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt as interrupt:
        detail = f": {cli_vocabulary(str(interrupt), _command_options())}" if str(interrupt) else ""
        typer.echo(f"Interrupted{detail}", err=True)
        raise typer.Exit(code=130) from None
