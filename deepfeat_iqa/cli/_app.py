"""The ``deepfeat-iqa`` Typer application and its global options; command modules add their commands to it."""

from __future__ import annotations

import logging

import typer

from deepfeat_iqa.cli._renamed import RenamedFlagsGroup

app = typer.Typer(
    name="deepfeat-iqa",
    cls=RenamedFlagsGroup,
    help="No-reference image quality assessment from deep features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each step does.")) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # basicConfig does nothing where the root logger already has a handler (an application or notebook that set up
    # logging, pytest): --verbose sets the library's own logger to INFO too, so it works there as well; without the
    # flag that logger inherits the root's level again (as when nothing set it), so an earlier --verbose does not stick.
    logging.getLogger("deepfeat_iqa").setLevel(logging.INFO if verbose else logging.NOTSET)
    # Progress of long steps: a bar on a terminal, otherwise one log line per stage (see deepfeat_iqa.runtime.progress).
    logging.getLogger("deepfeat_iqa.progress").setLevel(logging.INFO)
