"""``deepfeat-iqa extract``, ``list-backbones`` and ``list-layers``: parse options, call the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepfeat_iqa.cli._app import app
from deepfeat_iqa.cli._errors import user_errors
from deepfeat_iqa.cli._options import (
    DEFAULT_BACKBONE, Backbone, BatchSize, Client, Device, Layers, NumWorkers, OnError, Pooling, Precision, Seed, Store, Views,
    Weights, extract_options, images_arg, layer_arg,
)  # fmt: skip


@app.command()
def extract(
    paths: Annotated[list[Path], typer.Argument(help="Image files and/or folders (folders are searched recursively).")],
    backbone: Backbone = DEFAULT_BACKBONE,
    layers: Layers = None,
    pooling: Pooling = None,
    views: Views = None,
    weights: Weights = "imagenet",
    store: Store = "cache",
    batch_size: BatchSize = None,
    precision: Precision = None,
    device: Device = None,
    num_workers: NumWorkers = None,
    on_error: OnError = "raise",
    client: Client = None,
    seed: Seed = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the features: .npz (for fit/evaluate --features) or .csv (mean over views).")
    ] = None,
) -> None:
    """Extract deep features of images into the feature store (re-runs read them back)."""
    from deepfeat_iqa.extraction._extract import extract as run_extract
    from deepfeat_iqa.features.files import save_features

    images = images_arg(paths)
    if out is not None and out.suffix not in (".npz", ".csv"):
        raise typer.BadParameter(f"--out must end in .npz or .csv, got {out.name!r}.", param_hint="--out")
    with user_errors():
        options = extract_options(pooling=pooling, views=views, precision=precision, store=store, device=device,
                                  batch_size=batch_size, num_workers=num_workers, on_error=on_error, client=client)  # fmt: skip
        feats = run_extract(images, backbone=backbone, layers=[layer_arg(x) for x in layers] if layers else None, weights=weights,
                            seed=seed, **options)  # fmt: skip
        for name, lf in feats.items():
            shown = name if name == lf.key.layer else f"{name} ({lf.key.layer})"
            typer.echo(f"{shown}: {len(lf)} images x {lf.per_view.shape[1]} views x {lf.dim} dims  [{lf.key.views}, {lf.key.pooling}, {lf.key.precision}]")
        if out is not None:
            save_features(feats, out, source={"weights": str(weights), "seed": seed})
            typer.echo(f"wrote {out}")


@app.command("list-backbones")
def list_backbones_command() -> None:
    """List the registered backbones (any timm model name works too)."""
    from deepfeat_iqa.backbones import list_backbones

    for name in list_backbones():
        typer.echo(name)


@app.command("list-layers")
def list_layers_command(
    backbone: Annotated[str, typer.Argument(help="Backbone name.")] = DEFAULT_BACKBONE,
    full: Annotated[bool, typer.Option("--full", help="Every module, not only the stages and paper layers.")] = False,
) -> None:
    """List a backbone's stages (stage name and module path side by side, paper names, output shapes)."""
    from deepfeat_iqa.backbones import list_layers

    with user_errors():
        table = list_layers(backbone, full=full)
    typer.echo(table.to_string(index=False))
    if not full:
        typer.echo("A stage name and its module path name the same layer; --full lists every module.")
