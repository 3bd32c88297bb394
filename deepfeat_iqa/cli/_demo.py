"""``deepfeat-iqa demo``: the offline end-to-end run that the README opens with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepfeat_iqa.cli._app import app
from deepfeat_iqa.cli._errors import user_errors
from deepfeat_iqa.cli._options import BatchSize, Device, NumWorkers


@app.command()
def demo(
    out: Annotated[
        Path | None, typer.Option("--out", help="Where report.md, results.json and plots/ go (default: <cache>/demo).")
    ] = None,
    references: Annotated[
        Path | None, typer.Option("--references", help="Folder of your own pristine photos (default: bundled photos).")
    ] = None,
    weights: Annotated[str, typer.Option("--weights", "-w", help="imagenet (offline EfficientNet-Lite), random (control), or a file.")] = "imagenet",
    n_splits: Annotated[int, typer.Option("--n-splits", "-n", help="Content-separated 80/20 splits per evaluation.")] = 5,
    per_image: Annotated[
        int | None, typer.Option("--per-image", help="Distorted versions per reference (default: all 39 type-levels).")
    ] = None,
    max_side: Annotated[int, typer.Option("--max-side", help="Downscale references to this long side first.")] = 384,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Cache for images and features (default $DEEPFEAT_IQA_CACHE or ~/.cache/deepfeat-iqa).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for distortions, crops and splits.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress (bars or log lines).")] = False,
    device: Device = None,
    batch_size: BatchSize = None,
    num_workers: NumWorkers = None,
) -> None:
    """Distort bundled photos, extract real ImageNet features, fit SVR and GPR, print and write a report."""
    from deepfeat_iqa.demo import run_demo

    with user_errors():
        report = run_demo(
            out,
            references=references,
            weights=weights,
            n_splits=n_splits,
            per_image=per_image,
            max_side=max_side,
            cache_dir=cache_dir,
            seed=seed,
            progress=not quiet,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
        )
    typer.echo(report.to_markdown())
    typer.echo("")
    typer.echo("time: " + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.seconds.items()))
    typer.echo(f"report: {report.out_dir / 'report.md'}")
