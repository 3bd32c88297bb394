"""``deepfeat-iqa synth``: build a synthetic distorted set with pseudo-MOS (seed 002) to fit or evaluate on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepfeat_iqa.cli._app import app
from deepfeat_iqa.cli._errors import user_errors
from deepfeat_iqa.cli._options import Seed


@app.command("synth")
def synth_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the set (default: <cache>/synth/<kind>-seed<S>, printed at the end).")
    ] = None,
    references: Annotated[
        Path | None, typer.Option("--references", help="Folder of pristine photos (default: the 7 scikit-image/scikit-learn photos).")
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="synthetic (39 type-levels) or authentic (mixtures).")] = "synthetic",
    per_image: Annotated[int | None, typer.Option("--per-image", help="Distorted versions per reference (default: all 39 / 20).")] = None,
    max_side: Annotated[int, typer.Option("--max-side", help="Downscale references to this long side first.")] = 512,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel workers over references (-1: every core).")] = 1,
    seed: Seed = 0,
) -> None:
    """Distort reference photos and score them with six full-reference metrics; resumable, prints the folder.

    Fit or evaluate on the result with `--dataset synth --root FOLDER`.
    """
    from deepfeat_iqa import synth
    from deepfeat_iqa.paths import cache_dir

    folder = out if out is not None else cache_dir() / "synth" / f"{kind}-seed{seed}"
    with user_errors():
        refs = references if references is not None else synth.reference_photos(cache_dir() / "references")
        ds = synth.build(refs, folder, kind=kind, per_image=per_image, seed=seed, max_side=max_side, n_jobs=jobs)
    groups = len(set(ds.group_ids)) if ds.groups is not None else len(ds)
    typer.echo(f"{len(ds)} images of {groups} references, pseudo-MOS 0-100 -> {folder}")
    typer.echo(f"use it: deepfeat-iqa evaluate --dataset synth --root {folder}")
