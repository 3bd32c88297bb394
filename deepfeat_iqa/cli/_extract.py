"""``deepfeat-iqa extract``, ``list-backbones`` and ``list-layers``: parse options, call the API."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app

_STORE_HELP = "Feature store directory or fsspec URL; 'cache' is the user cache, 'none' computes without caching."


@app.command()
def extract(
    paths: list[Path] = typer.Argument(..., help="Image files and/or folders (folders are searched recursively)."),
    model: str = typer.Option("efficientnet_lite0", "--model", "-m", help="Backbone name (see list-backbones) or any timm name, e.g. resnet50."),
    layer: list[str] = typer.Option(None, "--layer", "-l", help="Layer to extract; repeat for several (see list-layers)."),
    pooling: str = typer.Option("avg", help="avg, max, avg+std, gridKxK or flatten."),
    crops: str = typer.Option("center", help="center, resize, randomN[@seedS], grid, patches or full."),
    weights: str = typer.Option("imagenet", help="imagenet, random, or a weights file."),
    store: str = typer.Option("cache", help=_STORE_HELP),
    batch_size: int = typer.Option(32, help="Images per batch (and crops per forward pass)."),
    precision: str = typer.Option(None, help="fp32 or bf16 (default: the library default, see docs/precision.md)."),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1, ... (default: CUDA when available)."),
    num_workers: int = typer.Option(None, help="Decoding processes (default: all cores but one)."),
    on_error: str = typer.Option("raise", help="raise: stop at an unreadable image; skip: record it and go on."),
    seed: int = typer.Option(0, help="Seed of random crops and random weights."),
    out: Path = typer.Option(None, help="Also write the features to a .npz (per-view arrays) or .csv (mean over views)."),
) -> None:
    """Extract deep features of images into the feature store (re-runs read them back)."""
    from ..extraction import DEFAULT_PRECISION, as_dataset
    from ..extraction import extract as run_extract
    from ..errors import DataError, DeepfeatError

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"{len(missing)} paths do not exist (first: {missing[0]!r}).", param_hint="PATHS")
    try:
        images = as_dataset(paths[0]) if len(paths) == 1 and paths[0].is_dir() else _collect_paths(paths)
    except DataError as error:
        raise typer.BadParameter(str(error), param_hint="PATHS") from None
    try:
        feats = run_extract(
            images, model=model, layer=[_layer_arg(x) for x in layer] if layer else None, pooling=pooling, crops=crops, weights=weights,
            store=None if store.lower() == "none" else store, batch_size=batch_size, num_workers=num_workers,
            device=device, precision=precision or DEFAULT_PRECISION, seed=seed, on_error=on_error,
        )  # fmt: skip
    except DeepfeatError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(1) from None
    for name, lf in feats.items():
        typer.echo(f"{name}: {len(lf)} images x {lf.per_view.shape[1]} views x {lf.dim} dims  [{lf.key.views}, {lf.key.pooling}, {lf.key.precision}]")
    if out is not None:
        _write_out(feats, out)
        typer.echo(f"wrote {out}")


def _layer_arg(text: str) -> str | int:
    """``-2`` on the command line is a stage index, as ``layer=-2`` is in Python."""
    return int(text) if text.lstrip("-").isdigit() else text


def _collect_paths(paths: list[Path]) -> list[Path]:
    """Expand folders into their images, keeping files as given (duplicates are caught by extract)."""
    from ..datasets import Dataset

    collected: list[Path] = []
    for path in paths:
        collected.extend(Dataset.from_folder(path).paths if path.is_dir() else [path])
    return collected


def _write_out(feats, out: Path) -> None:  # noqa: ANN001 - a FeatureSet; imported lazily to keep --help fast
    import numpy as np
    import pandas as pd

    ids = np.asarray(feats.dataset.ids)
    if out.suffix == ".npz":
        arrays = {f"{name}": np.asarray(lf.per_view, dtype=np.float32) for name, lf in feats.items()}
        np.savez_compressed(out, ids=ids, **arrays)
    elif out.suffix == ".csv":
        frames = [pd.DataFrame(lf.X, index=pd.Index(lf.dataset.ids, name="id")).add_prefix(f"{name}.") for name, lf in feats.items()]
        pd.concat(frames, axis=1).to_csv(out)
    else:
        raise typer.BadParameter(f"--out must end in .npz or .csv, got {out.name!r}.", param_hint="--out")


@app.command("list-backbones")
def list_backbones_command() -> None:
    """List the registered backbones (any timm model name works too)."""
    from ..backbones import list_backbones

    for name in list_backbones():
        typer.echo(name)


@app.command("list-layers")
def list_layers_command(
    model: str = typer.Argument("efficientnet_lite0", help="Backbone name."),
    full: bool = typer.Option(False, "--full", help="Every module, not only the stages and paper layers."),
) -> None:
    """List a backbone's stages (stage name and module path side by side, paper names, output shapes)."""
    from ..backbones import list_layers

    typer.echo(list_layers(model, full=full).to_string(index=False))
    if not full:
        typer.echo("A stage name and its module path name the same layer; --full lists every module.")
