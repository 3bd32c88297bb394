"""Options every command spells the same way (long and short flags), and the image inputs of extract/score.

One definition per option, so ``-l`` is ``--layers`` on every command, and every command that extracts
features takes ``--device``, ``--batch-size``, ``--num-workers``, ``--on-error`` and ``--client``. The flags
use the Python API's names (``--backbone`` for ``backbone=``, ``--views`` for ``views=``); 0.1's flags still
work with a warning (:mod:`deepfeat_iqa.cli._renamed`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

Backbone = Annotated[str, typer.Option("--backbone", "-m", help="Backbone (see list-backbones), e.g. resnet50; any timm name works.")]
Layers = Annotated[
    list[str] | None,
    typer.Option("--layers", "-l", help="Stage name (block4), module path (blocks.4) or index (-2); repeat for several (see list-layers)."),
]
Weights = Annotated[str, typer.Option("--weights", "-w", help="imagenet, random, or a weights file PATH.")]
Pooling = Annotated[str | None, typer.Option("--pooling", help="avg, max, avg+std, center-avg, gridKxK or flatten (default avg).")]
Views = Annotated[str | None, typer.Option("--views", help="center, resize, randomN\\[@seedS], randomNinM, grid, patches, full, fullN, gridN or gridN@center (default center).")]
Precision = Annotated[str | None, typer.Option("--precision", help="auto, fp32 or bf16 (default auto: bf16 only where the CPU/GPU runs it natively, docs/precision.md).")]
Store = Annotated[
    str, typer.Option("--store", help="Feature store directory or fsspec URL; 'cache' is the user cache, 'none' caches nothing.")
]
Device = Annotated[str | None, typer.Option("--device", "-d", help="cpu, cuda, cuda:1, ... (default: CUDA when available).")]
BatchSize = Annotated[
    int | None, typer.Option("--batch-size", "-b", help="Images per batch and crops per forward pass (default: 32 on CPU, 128 on CUDA).")
]
NumWorkers = Annotated[int | None, typer.Option("--num-workers", "-j", help="Decoding processes (default: all cores but one).")]
OnError = Annotated[str, typer.Option("--on-error", help="raise: stop at an unreadable image; skip: record it and go on.")]
Client = Annotated[
    str | None,
    typer.Option("--client", help="Dask scheduler address (tcp://host:8786), or 'local' for a local cluster (one worker per core); "
                 "extraction then runs as Dask tasks writing to --store, which every worker must open. Default: this process."),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of random crops, random weights, splits and distortions.")]

from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE  # noqa: E402 - torch-free, so --help stays fast


def store_arg(store: str) -> str | None:
    """``--store none`` computes without caching."""
    return None if store.lower() == "none" else store


def client_arg(client: str | None) -> str | None:
    """``--client none`` (any case) extracts in this process, as no ``--client`` does."""
    return None if client is None or client.lower() == "none" else client


def layer_arg(text: str) -> str | int:
    """``-2`` on the command line is a stage index, as ``layers=-2`` is in Python."""
    return int(text) if text.lstrip("-").isdigit() else text


def extract_options(
    *, pooling: str | None = None, views: str | None = None, precision: str | None = None, store: str = "cache",
    device: str | None = None, batch_size: int | None = None, num_workers: int | None = None, on_error: str = "raise", client: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``extract`` the user gave; the library's own defaults apply to the rest."""
    given = {"pooling": pooling, "views": views, "precision": precision, "device": device, "num_workers": num_workers,
             "batch_size": batch_size, "client": client_arg(client)}  # fmt: skip
    return {k: v for k, v in given.items() if v is not None} | {"store": store_arg(store), "on_error": on_error}


def images_arg(paths: list[Path], option: str = "PATHS") -> Any:
    """One Dataset of the given photos: a single folder keeps ids relative to it (as everywhere else)."""
    from deepfeat_iqa.datasets import IMAGE_SUFFIXES, Dataset
    from deepfeat_iqa.errors import DataError

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"{len(missing)} paths do not exist (first: {missing[0]!r}).", param_hint=option)
    if len(paths) == 1 and paths[0].is_dir():
        try:
            return Dataset.from_folder(paths[0])
        except DataError as error:  # an empty folder
            raise typer.BadParameter(str(error), param_hint=option) from None
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            files.append(path)
    if not files:
        raise typer.BadParameter(f"No photos ({', '.join(IMAGE_SUFFIXES)}) found in {[str(p) for p in paths]}.", param_hint=option)
    from deepfeat_iqa.extraction._extract import as_dataset

    try:
        return as_dataset(files)
    except DataError as error:  # duplicate paths
        raise typer.BadParameter(str(error), param_hint=option) from None
