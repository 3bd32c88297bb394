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
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Progress of long steps: a bar on a terminal, otherwise one log line per stage (see deepfeat_iqa.runtime.progress).
    logging.getLogger("deepfeat_iqa.progress").setLevel(logging.INFO)
