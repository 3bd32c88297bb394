"""``deepfeat-iqa fit | evaluate | score``: fit a head, evaluate it over splits, score new photos."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from deepfeat_iqa.cli._app import app
from deepfeat_iqa.cli._errors import user_errors
from deepfeat_iqa.cli._options import (
    DEFAULT_BACKBONE, Backbone, BatchSize, Client, Device, Layers, NumWorkers, OnError, Pooling, Precision, Seed, Store, Views,
    Weights, client_arg, extract_options, images_arg, layer_arg, store_arg,
)  # fmt: skip

logger = logging.getLogger(__name__)

# Options of the commands that read a labeled database.
Images = Annotated[Path | None, typer.Option("--images", help="Folder of photos; scores come from --labels.")]
LabelsCsv = Annotated[Path | None, typer.Option("--labels", help="CSV with one row per photo of --images.")]
ImageCol = Annotated[str, typer.Option("--image-col", help="Column of --labels naming the image file.")]
ScoreCol = Annotated[str, typer.Option("--score-col", help="Column of --labels holding the quality score.")]
GroupCol = Annotated[str | None, typer.Option("--group-col", help="Column of --labels with the content group.")]
DatasetName = Annotated[
    str | None, typer.Option("--dataset", help="A database by name with --root: koniq10k, livec, ..., or synth (a set `deepfeat-iqa synth` built).")
]
Root = Annotated[Path | None, typer.Option("--root", help="Where the --dataset files are.")]
Features = Annotated[
    Path | None, typer.Option("--features", help="Features written by `extract --out FILE.npz` (instead of extracting; --backbone etc. are then unused).")
]
Head = Annotated[
    str | None,
    typer.Option("--head", help="Head name: gpr, svr (= linear-svr), rbf-svr, mlp; image heads (train on the photos): spaq-bl, spaq-mt-e, spaq-mt-a, spaq-mt-s, dcnns, cnniqa, quality-aware; combination (several heads averaged). Default: the recommended combination, or gpr when --backbone/--layers/--pooling/--views/--features choose features."),
]
HeadOptions = Annotated[
    list[str] | None, typer.Option("--head-option", "-o", help="KEY=VALUE passed to the head (JSON values); repeatable.")
]


def _dataset(images: Path | None, labels: Path | None, image_col: str, score_col: str, group_col: str | None,
             dataset: str | None, root: Path | None) -> Any:
    """The labeled database from ``--dataset/--root`` or ``--images/--labels`` (exactly one of them)."""
    from deepfeat_iqa import datasets

    if (dataset is None) == (images is None):
        raise typer.BadParameter("Give either --dataset NAME --root DIR, or --images DIR --labels CSV.")
    if dataset is not None:
        if root is None:
            raise typer.BadParameter(f"--dataset {dataset} needs --root, the folder holding its files.")
        return datasets.load(dataset, root=root)
    if labels is None:
        raise typer.BadParameter("--images needs --labels CSV with the scores to fit or evaluate on.")
    return datasets.load_folder(images, labels, image_col=image_col, score_col=score_col, group_col=group_col)


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


def _image_head_options(head: str, options: dict[str, Any], backbone: str, weights: str, seed: int,
                        **runtime: Any) -> dict[str, Any] | None:
    """For an image head (it trains on the photos, no extraction), its options with --backbone/--weights/--seed
    as backbone/weights/random_state, and --precision/--store/--device where given, unless given with -o;
    ``None`` for a feature head. A head takes only the ones it has (the patch CNNs have no backbone; a
    combination names its backbones per member and takes --store for its members' features)."""
    from deepfeat_iqa.heads import make_head
    from deepfeat_iqa.heads._adapter import consumes

    estimator = make_head(head, **options)
    if consumes(estimator) != "images":
        return None
    accepted = estimator.get_params(deep=False)
    defaults = {"backbone": backbone, "weights": weights, "random_state": seed} | {k: v for k, v in runtime.items() if v is not None}
    return {k: v for k, v in defaults.items() if k in accepted} | options


def _no_client_for_images(client: str | None, head: str) -> None:
    """``--client`` sends feature extraction to Dask; a head that trains on the photos has none to send."""
    if client_arg(client) is not None:
        raise typer.BadParameter(
            f"--client sends feature extraction to Dask workers; the image head {head} reads the photos in this process "
            "(drop --client, or choose a feature head with --head).", param_hint="--client",
        )  # fmt: skip


def _chosen_head(head: str | None, *, features: Path | None, layers: list[str] | None, pooling: str | None,
                 views: str | None, backbone: str) -> str:
    """``--head`` as given; without it, the recommended combination unless the features were chosen by hand."""
    if head is not None:
        return head
    from deepfeat_iqa.heads._adapter import DEFAULT_HEADS

    chosen = features is not None or layers or pooling or views or backbone != DEFAULT_BACKBONE
    return DEFAULT_HEADS["features" if chosen else "images"]


def _features(ds: Any, features: Path | None, layers: list[str] | None, backbone: str, weights: str, seed: int,
              options: dict[str, Any]) -> tuple[Any, list[Any] | None]:
    """The features to fit or evaluate on (read from ``--features`` or extracted), and the layers to concatenate."""
    from deepfeat_iqa.extraction._extract import extract
    from deepfeat_iqa.features.files import load_features

    layers = [layer_arg(x) for x in layers] if layers else None
    if features is not None:  # the file's layers: those named with --layers, else all of them
        feats = load_features(features, ds)
        return feats, ([str(x) for x in layers] if layers else list(feats)) if len(feats) > 1 else None
    feats = extract(ds, backbone=backbone, layers=layers, weights=weights, seed=seed, **options)
    return feats, ([str(x) for x in layers] if layers and len(layers) > 1 else None)


@app.command("fit")
def fit_command(
    out: Annotated[Path, typer.Option("--out", help="Model file to write (.dfi: a zip of JSON and safetensors arrays, see docs/trust.md).")],
    images: Images = None,
    labels: LabelsCsv = None,
    image_col: ImageCol = "image",
    score_col: ScoreCol = "mos",
    group_col: GroupCol = None,
    dataset: DatasetName = None,
    root: Root = None,
    features: Features = None,
    backbone: Backbone = DEFAULT_BACKBONE,
    layers: Layers = None,
    pooling: Pooling = None,
    views: Views = None,
    weights: Weights = "imagenet",
    precision: Precision = None,
    store: Store = "cache",
    device: Device = None,
    batch_size: BatchSize = None,
    num_workers: NumWorkers = None,
    on_error: OnError = "raise",
    client: Client = None,
    head: Head = None,
    head_option: HeadOptions = None,
    seed: Seed = 0,
) -> None:
    """Extract features of a labeled database (cached in the store) and fit a quality head on all of it.

    An image head (``--head spaq-bl`` ...) trains on the photos themselves, with --backbone as its backbone.
    """
    from deepfeat_iqa.api import fit
    from deepfeat_iqa.features.files import feature_file_source
    from deepfeat_iqa.persist import save

    with user_errors():
        ds = _dataset(images, labels, image_col, score_col, group_col, dataset, root)
        head = _chosen_head(head, features=features, layers=layers, pooling=pooling, views=views, backbone=backbone)
        image_options = _image_head_options(head, _head_options(head_option), backbone, weights, seed,
                                            precision=precision, store=store_arg(store), device=device)  # fmt: skip
        if image_options is not None:
            _no_client_for_images(client, head)
            fitted = fit(ds, head=head, **image_options)
            save(fitted, out)
            typer.echo(f"{fitted!r} -> {out}")
            return
        options = extract_options(pooling=pooling, views=views, precision=precision, store=store, device=device,
                                  batch_size=batch_size, num_workers=num_workers, on_error=on_error, client=client)  # fmt: skip
        feats, concat = _features(ds, features, layers, backbone, weights, seed, options)
        fitted = fit(feats, head=head, layers=concat, **_head_options(head_option))
        # The key holds only the weights' fingerprint; `score` needs the source to load them again.
        source = feature_file_source(features) if features is not None else {}
        fitted.info["weights_source"] = str(source.get("weights", weights))
        fitted.info["extract_seed"] = int(source.get("seed", seed))
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
    features: Features = None,
    backbone: Backbone = DEFAULT_BACKBONE,
    layers: Layers = None,
    pooling: Pooling = None,
    views: Views = None,
    weights: Weights = "imagenet",
    precision: Precision = None,
    store: Store = "cache",
    device: Device = None,
    batch_size: BatchSize = None,
    num_workers: NumWorkers = None,
    on_error: OnError = "raise",
    client: Client = None,
    head: Head = None,
    head_option: HeadOptions = None,
    protocol: Annotated[str, typer.Option("--protocol", help="repeated, repeated-80-20, kfold or official.")] = "repeated",
    n_splits: Annotated[int | None, typer.Option("--n-splits", "-n", help="Repeated splits (default 10), or folds for kfold (default 5).")] = None,
    test_size: Annotated[float | None, typer.Option("--test-size", help="Held-out fraction (repeated; default 0.2).")] = None,
    seed: Seed = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Folder for index.html (open it in a browser), report.md, results.json, predictions.csv, plots/ and thumbs/.")
    ] = None,
) -> None:
    """Evaluate a head over content-separated splits; print the summary and optionally write a report."""
    from deepfeat_iqa.evaluation._evaluate import evaluate

    with user_errors():
        ds = _dataset(images, labels, image_col, score_col, group_col, dataset, root)
        head = _chosen_head(head, features=features, layers=layers, pooling=pooling, views=views, backbone=backbone)
        image_options = _image_head_options(head, _head_options(head_option), backbone, weights, seed,
                                            precision=precision, store=store_arg(store), device=device)  # fmt: skip
        if image_options is not None:  # an image head: the same splits, on the photos themselves
            _no_client_for_images(client, head)
            result = evaluate(ds, head=head, protocol=protocol, n_splits=n_splits, test_size=test_size, seed=seed, **image_options)
        else:
            options = extract_options(pooling=pooling, views=views, precision=precision, store=store, device=device,
                                      batch_size=batch_size, num_workers=num_workers, on_error=on_error, client=client)  # fmt: skip
            feats, concat = _features(ds, features, layers, backbone, weights, seed, options)
            result = evaluate(
                feats, head=head, protocol=protocol, n_splits=n_splits, test_size=test_size, seed=seed, layers=concat,
                **_head_options(head_option),
            )  # fmt: skip
        result.info["weights_source"] = str(weights)
        if report is not None:
            result.save_report(report)
    typer.echo(result.summary())
    if report is not None:
        typer.echo(f"report: {report / 'index.html'} (and report.md)")


@app.command("score")
def score_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Photos or folders of photos to score.")] = None,
    examples: Annotated[
        bool, typer.Option("--examples", help="Score the seven photos scikit-image and scikit-learn ship (to try it with no photos at hand).")
    ] = False,
    model_file: Annotated[
        Path | None, typer.Option("--model-file", help="Model written by `deepfeat-iqa fit` (default: the bundled model, docs/model-card.md).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="CSV to write: id (as in the dataset), path, score (and sd where the model has one).")] = Path("scores.csv"),
    weights: Annotated[
        str | None, typer.Option("--weights", "-w", help="Weights source (PATH), when the model file does not record it.")
    ] = None,
    store: Store = "cache",
    device: Device = None,
    batch_size: BatchSize = None,
    num_workers: NumWorkers = None,
    on_error: OnError = "raise",
    client: Client = None,
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Also read pickle/joblib model files (they can run code: only files you trust).")
    ] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Folder for index.html: the photos as a contact sheet sorted by score, a histogram, failures (thumbnails cached in DIR/thumbs).")
    ] = None,
) -> None:
    """Score photos with a fitted model (the bundled one by default), extracting features exactly as the model's were."""
    from deepfeat_iqa.persist import load
    from deepfeat_iqa.scoring import score

    if examples:
        from deepfeat_iqa.paths import cache_dir
        from deepfeat_iqa.synth import reference_photos

        paths = [*(paths or []), *reference_photos(cache_dir() / "references")]
    if not paths:
        raise typer.BadParameter("Name photos or folders to score (or --examples).", param_hint="PATHS")
    ds = images_arg(paths)
    with user_errors():
        fitted = None if model_file is None else load(model_file, trusted=trusted)
        options = extract_options(store=store, device=device, batch_size=batch_size, num_workers=num_workers, on_error=on_error,
                                  client=client)  # fmt: skip
        if weights is not None:
            options["weights"] = weights
        table = score(ds, fitted, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    if len(table) <= 20:  # a handful of photos: show them, worst first
        typer.echo(table.sort_values("score").to_string(index=False, columns=[c for c in ("id", "score", "sd") if c in table]))
    typer.echo(f"Scored {len(table)} photos -> {out}")
    if report is not None:
        from deepfeat_iqa.evaluation.report import score_report

        with user_errors():
            page = score_report(table, report, failed=_unscored(ds.paths, table), note=_model_note(model_file))
        typer.echo(f"report: {page}")


def _unscored(paths: list[Path], table: Any) -> dict[str, str]:
    """Photos asked for but missing from the score table (left out by ``--on-error skip``), with the reason."""
    from deepfeat_iqa.errors import DataError
    from deepfeat_iqa.inputs.images import load_rgb

    scored = {str(p) for p in table["path"]}
    missing: dict[str, str] = {}
    for path in paths:
        if str(path) in scored:
            continue
        try:
            load_rgb(path)
            missing[str(path)] = "left out by extraction (see the log)"
        except DataError as error:
            missing[str(path)] = str(error)
    return missing


def _model_note(model_file: Path | None) -> str:
    return f"Scored with {model_file}." if model_file is not None else "Scored with the bundled model (docs/model-card.md)."
