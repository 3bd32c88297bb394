"""``deepfeat-iqa fit | evaluate | score``: fit a head, evaluate it over splits, score new photos."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import DeepfeatError
from . import app

logger = logging.getLogger(__name__)

# Options shared by the commands that read a labeled database and extract its features.
Images = Annotated[Path | None, typer.Option("--images", help="Folder of photos; scores come from --labels.")]
LabelsCsv = Annotated[Path | None, typer.Option("--labels", help="CSV with one row per photo of --images.")]
ImageCol = Annotated[str, typer.Option("--image-col", help="Column of --labels naming the image file.")]
ScoreCol = Annotated[str, typer.Option("--score-col", help="Column of --labels holding the quality score.")]
GroupCol = Annotated[str | None, typer.Option("--group-col", help="Column of --labels with the content group.")]
DatasetName = Annotated[str | None, typer.Option("--dataset", help="A bundled database (e.g. koniq10k), with --root.")]
Root = Annotated[Path | None, typer.Option("--root", help="Where the --dataset files are.")]
Model = Annotated[str, typer.Option("--model", help="Backbone (see `deepfeat-iqa extract --help`).")]
Layers = Annotated[
    list[str] | None, typer.Option("--layer", help="Layer to read (default: the backbone's); repeat to concatenate layers.")
]
Pooling = Annotated[str | None, typer.Option("--pooling", help="Pooling spec (extract's default when left out).")]
Crops = Annotated[str | None, typer.Option("--crops", help="View protocol, e.g. center or random10.")]
Weights = Annotated[str, typer.Option("--weights", help="imagenet, random, or a weights file.")]
Store = Annotated[
    str, typer.Option("--store", help="Feature store directory or fsspec URL; 'cache' is the user cache, 'none' caches nothing.")
]
Precision = Annotated[str | None, typer.Option("--precision", help="fp32 or bf16 (extract's default when left out).")]
Head = Annotated[
    str, typer.Option("--head", help="Head name: gpr, svr, linear-svr, rbf-svr, mlp; image heads: spaq-bl, spaq-mt-e, spaq-mt-a, spaq-mt-s, dcnns, cnniqa, quality-aware.")
]
HeadOptions = Annotated[
    list[str] | None, typer.Option("--head-option", "-o", help="KEY=VALUE passed to the head (JSON values); repeatable.")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for views and splits.")]


def _dataset(images: Path | None, labels: Path | None, image_col: str, score_col: str, group_col: str | None,
             dataset: str | None, root: Path | None) -> Any:
    """The labeled database from ``--dataset/--root`` or ``--images/--labels`` (exactly one of them)."""
    from .. import datasets

    if (dataset is None) == (images is None):
        raise typer.BadParameter("Give either --dataset NAME --root DIR, or --images DIR --labels CSV.")
    if dataset is not None:
        if root is None:
            raise typer.BadParameter(f"--dataset {dataset} needs --root, the folder holding its files.")
        return datasets.load(dataset, root=root)
    if labels is None:
        raise typer.BadParameter("--images needs --labels CSV with the scores to fit or evaluate on.")
    return datasets.load_folder(images, labels, image_col=image_col, score_col=score_col, group_col=group_col)


def _extract_options(pooling: str | None, crops: str | None, precision: str | None, store: str) -> dict[str, Any]:
    """Only the options the user gave, so extract's own defaults apply to the rest."""
    given = {"pooling": pooling, "crops": crops, "precision": precision}
    return {k: v for k, v in given.items() if v is not None} | {"store": None if store.lower() == "none" else store}


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show our deliberate errors (which say the fix) as one line and exit 1, without a traceback."""
    try:
        yield
    except DeepfeatError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=1) from None


def _head_options(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` pairs; values are JSON where they parse (30, 0.1, true) and strings otherwise."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--head-option {pair!r} must read KEY=VALUE, e.g. tune_trials=30.")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _image_head_options(head: str, options: dict[str, Any], model: str, weights: str, seed: int) -> dict[str, Any] | None:
    """For an image head (it trains on the photos, no extraction), its options with --model/--weights/--seed
    as backbone/weights/random_state unless given with -o; ``None`` for a feature head. A head without a
    backbone (the patch CNNs train from scratch) takes only the ones it has."""
    from ..heads import make_head
    from ..heads._adapter import consumes

    estimator = make_head(head, **options)
    if consumes(estimator) != "images":
        return None
    accepted = estimator.get_params(deep=False)
    defaults = {"backbone": model, "weights": weights, "random_state": seed}
    return {k: v for k, v in defaults.items() if k in accepted} | options


def _layers(layer: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """Layers to extract (None: the backbone's default layer), and the ``layers=`` to concatenate."""
    if not layer:
        return None, None
    return list(layer), (list(layer) if len(layer) > 1 else None)


@app.command("fit")
def fit_command(
    out: Annotated[Path, typer.Option("--out", help="Model file to write (.joblib).")],
    images: Images = None,
    labels: LabelsCsv = None,
    image_col: ImageCol = "image",
    score_col: ScoreCol = "mos",
    group_col: GroupCol = None,
    dataset: DatasetName = None,
    root: Root = None,
    model: Model = "resnet50",
    layer: Layers = None,
    pooling: Pooling = None,
    crops: Crops = None,
    weights: Weights = "imagenet",
    precision: Precision = None,
    store: Store = "cache",
    head: Head = "gpr",
    head_option: HeadOptions = None,
    seed: Seed = 0,
) -> None:
    """Extract features of a labeled database (cached in the store) and fit a quality head on all of it.

    An image head (``--head spaq-bl`` ...) trains on the photos themselves, with --model as its backbone.
    """
    from ..api import fit
    from ..extraction import extract
    from ..persist import save

    with _user_errors():
        ds = _dataset(images, labels, image_col, score_col, group_col, dataset, root)
        image_options = _image_head_options(head, _head_options(head_option), model, weights, seed)
        if image_options is not None:
            fitted = fit(ds, head=head, **image_options)
            save(fitted, out)
            typer.echo(f"{fitted!r} -> {out}")
            return
        layer_names, concat = _layers(layer)
        options = _extract_options(pooling, crops, precision, store)
        feats = extract(ds, model=model, layer=layer_names, weights=weights, seed=seed, **options)
        fitted = fit(feats, head=head, layers=concat, **_head_options(head_option))
        # The key holds only the weights' fingerprint; `score` needs the source to load them again.
        fitted.info["weights_source"] = str(weights)
        fitted.info["extract_seed"] = seed
        save(fitted, out)
    typer.echo(f"{fitted!r} -> {out}")


@app.command("evaluate")
def evaluate_command(
    images: Images = None,
    labels: LabelsCsv = None,
    image_col: ImageCol = "image",
    score_col: ScoreCol = "mos",
    group_col: GroupCol = None,
    dataset: DatasetName = None,
    root: Root = None,
    model: Model = "resnet50",
    layer: Layers = None,
    pooling: Pooling = None,
    crops: Crops = None,
    weights: Weights = "imagenet",
    precision: Precision = None,
    store: Store = "cache",
    head: Head = "gpr",
    head_option: HeadOptions = None,
    protocol: Annotated[str, typer.Option("--protocol", help="repeated, repeated-80-20, kfold or official.")] = "repeated",
    n: Annotated[int, typer.Option("--n", help="Repeated splits, or folds for kfold.")] = 10,
    test_size: Annotated[float | None, typer.Option("--test-size", help="Held-out fraction (repeated).")] = None,
    seed: Seed = 0,
    report: Annotated[Path | None, typer.Option("--report", help="Folder for report.md, result.json, predictions.csv, plots.")] = None,
) -> None:
    """Evaluate a head over content-separated splits; print the summary line and optionally write a report."""
    from ..evaluation import evaluate
    from ..extraction import extract

    with _user_errors():
        ds = _dataset(images, labels, image_col, score_col, group_col, dataset, root)
        image_options = _image_head_options(head, _head_options(head_option), model, weights, seed)
        if image_options is not None:  # an image head: the same splits, on the photos themselves
            result = evaluate(ds, head=head, protocol=protocol, n=n, test_size=test_size, seed=seed, **image_options)
        else:
            layer_names, concat = _layers(layer)
            options = _extract_options(pooling, crops, precision, store)
            feats = extract(ds, model=model, layer=layer_names, weights=weights, seed=seed, **options)
            result = evaluate(
                feats, head=head, protocol=protocol, n=n, test_size=test_size, seed=seed, layers=concat,
                **_head_options(head_option),
            )  # fmt: skip
        result.info["weights_source"] = str(weights)
        if report is not None:
            report.mkdir(parents=True, exist_ok=True)
            (report / "report.md").write_text(result.to_markdown())
            result.to_json(report / "result.json")
            result.predictions.to_csv(report / "predictions.csv", index=False)
            result.plot(report / "plots")
    typer.echo(result.summary())


@app.command("score")
def score_command(
    paths: Annotated[list[Path], typer.Argument(help="Photos or folders of photos to score.")],
    model_file: Annotated[Path, typer.Option("--model-file", help="Model written by `deepfeat-iqa fit`.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: id, path, score.")] = Path("scores.csv"),
    weights: Annotated[
        str | None, typer.Option("--weights", help="Weights source, when the model file does not record it.")
    ] = None,
    store: Store = "cache",
) -> None:
    """Score photos with a fitted model, extracting their features exactly as the model's were."""
    import pandas as pd

    from ..extraction import extract
    from ..persist import load

    with _user_errors():
        fitted = load(model_file)
        ds = _photos(paths)
        if fitted.key is None:  # an image head reads the photos directly
            scores = fitted.predict(ds)
            pd.DataFrame({"id": ds.ids, "path": [str(p) for p in ds.paths], "score": scores}).to_csv(out, index=False)
            typer.echo(f"Scored {len(ds)} photos -> {out}")
            return
        options = _extract_options(_pooling_per_layer(fitted), fitted.key.views, fitted.key.precision, store)
        source = weights or fitted.info.get("weights_source", "imagenet")
        seed = fitted.info.get("extract_seed", 0)
        feats = extract(ds, model=fitted.key.backbone, layer=fitted.layers, weights=source, seed=seed, **options)
        scores = fitted.predict(feats)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ds.ids, "path": [str(p) for p in ds.paths], "score": scores}).to_csv(out, index=False)
    typer.echo(f"Scored {len(ds)} photos -> {out}")


def _photos(paths: list[Path]) -> Any:
    """One unlabeled Dataset of the given photo files and every photo under the given folders."""
    from ..datasets import IMAGE_SUFFIXES, Dataset

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise typer.BadParameter(f"{str(path)!r} is neither a photo nor a folder.")
    if not files:
        raise typer.BadParameter(f"No photos ({', '.join(IMAGE_SUFFIXES)}) found in {[str(p) for p in paths]}.")
    return Dataset.from_paths(files, name="scored")


def _pooling_per_layer(model: Any) -> str:
    """The one pooling spec each layer was extracted with (concatenation joins them with '+')."""
    parts = model.key.pooling.split("+")
    n_layers = len(model.layers)
    size = len(parts) // n_layers
    per_layer = {"+".join(parts[i * size:(i + 1) * size]) for i in range(n_layers)}
    if len(parts) % n_layers or len(per_layer) != 1:
        raise typer.BadParameter(
            f"The model's layers were pooled differently ({model.key.pooling!r}); extract its features with "
            "dfi.extract per layer and call model.predict from Python."
        )
    return per_layer.pop()
