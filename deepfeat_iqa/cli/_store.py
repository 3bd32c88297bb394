"""``deepfeat-iqa store verify|repair|info PATH``: check every chunk, reset damaged rows, list the arrays.

Exit codes are for scripts (a nightly ``store verify`` in cron): 0 clean, 1 damage found (``verify``;
``repair`` when damage is left that it cannot reset), 2 a usage or other error (no store at PATH).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deepfeat_iqa.cli._app import app
from deepfeat_iqa.errors import DeepfeatError

if TYPE_CHECKING:
    from deepfeat_iqa.store import StoreReport

store_app = typer.Typer(help="Check, repair and list a feature store (checksums of every chunk).", no_args_is_help=True)
app.add_typer(store_app, name="store")

StorePath = Annotated[Path, typer.Argument(help="The feature store folder (e.g. ~/.cache/deepfeat-iqa/features.zarr).")]


@contextmanager
def _exit_2_on_error() -> Iterator[None]:
    """Our deliberate errors as one line with exit code 2 (1 means "damage found" here)."""
    try:
        yield
    except DeepfeatError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=2) from None


def _show_damage(report: StoreReport) -> None:
    from deepfeat_iqa.store._damage import describe_array

    for damage in report.damaged:
        typer.echo(f"DAMAGED {describe_array(damage.array)}: {damage.rows} ({damage.reason})")


@store_app.command("verify")
def verify_command(path: StorePath) -> None:
    """Decode every chunk of every array; list damaged chunks (exit 1) or say the store is clean (exit 0)."""
    from deepfeat_iqa.store import verify

    with _exit_2_on_error():
        report = verify(path)
    typer.echo(report.table().to_string(index=False))
    if report.ok:
        typer.echo(f"{path}: {len(report.arrays)} arrays, every chunk decodes.")
        return
    _show_damage(report)
    rows = sum(a.damaged_rows for a in report.arrays)
    typer.echo(f"{path}: {len(report.damaged)} damaged chunks ({rows} rows). Run `deepfeat-iqa store repair {path}`, then the same extract.")
    raise typer.Exit(code=1)


@store_app.command("repair")
def repair_command(path: StorePath) -> None:
    """Mark the rows of every damaged chunk not done, so the next extract refills exactly those rows."""
    from deepfeat_iqa.store import repair

    with _exit_2_on_error():
        report = repair(path)
    from deepfeat_iqa.store._damage import describe_array

    for damage in report.repaired:
        typer.echo(f"reset {describe_array(damage.array)}: {damage.rows} ({damage.reason})")
    if not report.repaired:
        typer.echo(f"{path}: nothing to repair.")
    else:
        typer.echo(f"{path}: {len(report.repaired)} chunks reset; run the same extract again to fill their rows.")
    if not report.ok:  # index chunks: extract rewrites them from the dataset
        _show_damage(report)
        typer.echo("Damaged index chunks are rewritten by the next extract of that dataset.")
        raise typer.Exit(code=1)


@store_app.command("info")
def info_command(path: StorePath) -> None:
    """List every array: dataset key and feature path, rows, done, failed, checksum, dims, dtype, MB on disk."""
    from deepfeat_iqa.store import info

    with _exit_2_on_error():
        report = info(path)
    typer.echo(report.table().to_string(index=False))
