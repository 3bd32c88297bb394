"""``evaluate`` a head over repeated content-separated splits, ``evaluate_cross`` across databases, ``compare`` two results."""

from __future__ import annotations

import inspect
import logging
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from deepfeat_iqa.runtime.progress import Progress, progress as with_progress
from deepfeat_iqa.api import HeadSpec, Inputs, head_record, make_head_for
from deepfeat_iqa.heads._adapter import default_head, fit_estimator, head_inputs, head_name, labels
from deepfeat_iqa.heads._adapter import head_threads_for, predict_side_labels, supports_std
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError, unknown_name_error, user_stacklevel
from deepfeat_iqa.evaluation.results import Comparison, EvaluationResult, split_signature
from deepfeat_iqa._moved import renamed_keywords

logger = logging.getLogger(__name__)

PROTOCOLS = ("repeated", "kfold", "official")
#: Test sets smaller than this get a warning: a correlation of 0.5 measured on 19 images has a 95%
#: interval of 0.06-0.78 (Fisher z), too wide to rank heads.
MIN_TEST_IMAGES = 20
#: What evaluate() does when these split settings are not given (None means "not given").
#: ``n_splits=None`` is the split function's own default (10 repeated splits, 5 folds: ``datasets.splits``).
_SPLIT_DEFAULTS = {"n_splits": None, "by": "group", "seed": 0}
#: Keywords users reach for that evaluate() spells differently (``n=``, the 0.1 name, still works with a warning).
_ALIASES = {"repeats": "n_splits", "n_repeats": "n_splits", "folds": "n_splits", "k": "n_splits", "random_state": "seed",
            "test_fraction": "test_size", "group": "by", "groups": "by", "layer": "layers"}  # fmt: skip
_UNSET: Any = object()
# "repeated-80-20" spells the train/test percentages the papers use; it sets test_size.
_REPEATED_PERCENT = re.compile(r"repeated-(\d+)-(\d+)")


@renamed_keywords(n="n_splits")
def evaluate(
    features: Inputs,
    head: HeadSpec | None = None,
    *,
    protocol: str | None = None,
    n_splits: int | None = None,
    test_size: float | None = None,
    by: str | None = _UNSET,
    seed: int | None = None,
    layers: Sequence[str] | None = None,
    splits: Sequence[Any] | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    **head_options: Any,
) -> EvaluationResult:
    """Fit a fresh head per split, predict its test images and measure SROCC/PLCC/KROCC/RMSE.

    Parameters
    ----------
    features:
        For a feature head, a FeatureSet (one layer, or several joined with ``layers``) or LayerFeatures
        of a labeled dataset; for an image head (``"spaq-bl"``, ...), the labeled Dataset (features are
        accepted too, and their images used). Both kinds get the same splits from the same ``seed``.
    head:
        Registry name (``"gpr"``, ``"svr"``, ``"mlp"``, ``"spaq-bl"``, ``"combination"``, ...) or an unfitted estimator, cloned per split;
        ``None``: ``"gpr"`` for features, the recommended ``"combination"`` for a Dataset of photos.
    protocol:
        ``"repeated"`` (default: ``n_splits`` random content-separated splits, ``test_size`` held out),
        ``"repeated-80-20"`` (the same, with the percentages spelled out), ``"kfold"`` (``n_splits`` folds) or
        ``"official"`` (the publisher's split). Leave it out when passing ``splits``.
    n_splits:
        Number of repeated splits, or of folds for ``"kfold"``; when not given, the split function's own
        default (10 repeated splits, 5 folds, as :mod:`deepfeat_iqa.datasets.splits`). ``"official"`` and
        explicit ``splits`` fix their own splits, so ``n_splits``, ``by`` and ``seed`` are refused with them.
    test_size:
        Fraction of groups held out per repeated split (0.2 when not given).
    by:
        What must not straddle train and test: ``"group"`` (content/reference image, the default) or
        ``None`` (rows), as :mod:`deepfeat_iqa.datasets.splits` documents.
    seed:
        Seed of the split generator (0 when not given); the same seed gives the same splits.
    layers:
        Layers of a FeatureSet to concatenate.
    splits:
        Explicit :class:`~deepfeat_iqa.datasets.splits.Split` list (row indices), e.g. to reuse another study's splits.
    n_jobs:
        Splits run in parallel with joblib when not 1; heads that use threads themselves (GPR on torch)
        are usually fastest serial.
    progress:
        Show progress over splits: a bar on a terminal, else a log line per stage (``deepfeat_iqa.progress``).
    **head_options:
        Passed to the head's constructor. A keyword that is neither evaluate's nor the head's raises a
        ConfigError naming the parameter it most likely meant (``repeats=`` -> ``n_splits=``).

    Returns
    -------
    EvaluationResult
        Per-split metrics, aggregate, every test prediction, and the record (head, key, protocol, seeds;
        ``plcc_mapping`` per split, and ``plcc_raw_fallback_splits`` where no increasing logistic fitted).

    Warns
    -----
    UserWarning
        When a test split holds fewer than :data:`MIN_TEST_IMAGES` images, or PLCC fell back to raw.

    Examples
    --------
    >>> result = dfi.evaluate(feats, head="svr", protocol="repeated", n_splits=10)  # doctest: +SKIP
    >>> result.summary()                                                     # doctest: +SKIP
    """
    head = default_head(features) if head is None else head
    template = make_head_for(head, head_options, "evaluate", inspect.signature(evaluate).parameters, _ALIASES)
    lf = head_inputs(template, features, layers)
    y = labels(lf.dataset)
    if hasattr(template, "prefetch"):  # a head that extracts its own inputs does so once, not once per split
        template.prefetch(lf.dataset)
    given = {name: value for name, value in (("n_splits", n_splits), ("by", by), ("seed", seed)) if value is not None and value is not _UNSET}
    if by is None:
        given["by"] = None
    if splits is not None:
        if protocol is not None:
            raise ConfigError("Pass either protocol= or explicit splits=, not both; explicit splits are their own protocol.")
        _refuse_split_settings("explicit splits=", given, test_size)
        protocol, chosen = "explicit", list(splits)
    else:
        if protocol == "official":
            _refuse_split_settings("protocol='official'", given, None)
        settings = {**_SPLIT_DEFAULTS, **given}
        n_splits, by, seed = settings["n_splits"], settings["by"], settings["seed"]
        protocol, chosen, test_size = _protocol_splits(lf.dataset, protocol or "repeated", n_splits=n_splits, test_size=test_size, by=by, seed=seed)
    if protocol in ("official", "explicit"):
        n_splits, by, seed = None, None, None
    _check_splits(chosen, len(lf))
    _warn_small_tests([np.asarray(split.test).size for split in chosen])
    X = lf.X  # noqa: N806 - read once (a zarr-backed store is not re-read per split)
    jobs = [(clone(template), X, y, lf.blocks, lf.dataset, split, i) for i, split in enumerate(chosen)]
    outcomes = _run(jobs, n_jobs=n_jobs, progress=progress, desc=f"evaluate {head_name(template, head)}")
    info = {
        **head_record(template, head, lf),
        "protocol": protocol,
        "n_splits": len(chosen),
        "test_size": test_size,
        "by": by,
        "seed": seed,
        "scale": scale_record(lf.dataset.scale),
        "n_images": len(lf),
    }
    ids = lf.dataset.ids
    signatures = tuple(split_signature([ids[i] for i in s.train], [ids[i] for i in s.test]) for s in chosen)
    return _result(outcomes, info, signatures)


def evaluate_cross(
    train_features: Inputs,
    test_features: Inputs,
    head: HeadSpec | None = None,
    *,
    layers: Sequence[str] | None = None,
    progress: bool = True,
    **head_options: Any,
) -> EvaluationResult:
    """Train on every image of one database and test on every image of another, on z-scored MOS.

    Each database's scores are standardized on their own (DMOS flipped so higher is better, see
    :func:`deepfeat_iqa.datasets.splits.zscore`), so a head trained on 0-100 MOS is judged on a database that
    scores 0-9, and the RMSE reads in standard deviations of the test database's scores.

    Parameters
    ----------
    train_features, test_features:
        Features of the two databases; they must have the same key (backbone, weights, layers, ...).
    head, layers, progress, **head_options:
        As in :func:`evaluate`.

    Raises
    ------
    FeatureKeyError
        When the two feature sets were made differently.
    """
    from deepfeat_iqa.datasets.splits import zscore

    head = default_head(train_features) if head is None else head
    template = make_head_for(head, head_options, "evaluate_cross", inspect.signature(evaluate_cross).parameters, _ALIASES)
    train_lf = head_inputs(template, train_features, layers)
    test_lf = head_inputs(template, test_features, layers)
    if train_lf.key is not None:
        train_lf.key.check_matches(test_lf.key)
    train_ds, _ = zscore(train_lf.dataset)
    test_ds, _ = zscore(test_lf.dataset)
    estimator = clone(template)
    _warn_small_tests([len(test_lf)])
    with Progress(1, f"cross {train_ds.name} -> {test_ds.name}", "fit", enabled=progress) as bar:
        train_X = train_ds if train_lf.key is None else train_lf.X  # noqa: N806 - images carry the z-scored labels
        fit_estimator(estimator, train_X, labels(train_ds), train_lf.blocks, train_ds)
        y_pred, y_std = _predict(estimator, test_lf.X, test_lf.dataset)
        bar.update()
    from deepfeat_iqa.evaluation.metrics import summary_and_mapping

    y_true = labels(test_ds)
    metrics, kind = summary_and_mapping(y_true, y_pred)
    row = {"split": 0, "n_train": len(train_lf), "n_test": len(test_lf), **metrics, "mapping": kind}
    preds = _prediction_frame(test_ds.ids, 0, y_true, y_pred, y_std, paths=test_ds.paths)
    info = {
        **head_record(template, head, train_lf),
        "protocol": "cross",
        "n_splits": 1,
        "train_dataset": train_ds.name,
        "test_dataset": test_ds.name,
        "dataset": f"{train_ds.name}->{test_ds.name}",
        "labels": "z-scored per database (DMOS flipped)",
        "scale": {"kind": "z-scored MOS", "low": None, "high": None, "higher_is_better": True},
        "seed": None,
    }
    signature = split_signature([f"{train_ds.name}/{i}" for i in train_ds.ids], [f"{test_ds.name}/{i}" for i in test_ds.ids])
    return _result([(row, preds)], info, (signature,))


def compare(result_a: EvaluationResult, result_b: EvaluationResult, metric: str = "srocc", alpha: float = 0.05) -> Comparison:
    """Is A significantly better than B? One-sided paired t-test over the same splits (seed 003 Table 9).

    Parameters
    ----------
    result_a, result_b:
        Results on the same splits (same dataset, protocol and seed; verified image by image).
    metric:
        ``"srocc"``, ``"plcc"``, ``"krocc"`` (higher is better) or ``"rmse"`` (lower is better).
    alpha:
        Significance level of the one-sided test.

    Returns
    -------
    Comparison
        ``statistic``, ``p_value`` and ``verdict`` (1: A better, -1: A worse, 0: indistinguishable),
        as :class:`deepfeat_iqa.evaluation.metrics.SignificanceResult`, plus what was compared; ``str()`` reads as a sentence.

    Raises
    ------
    DataError
        When the two results were not computed on the same splits.
    """
    from deepfeat_iqa.evaluation.metrics import paired_test

    columns = [c for c in result_a.per_split.columns if c not in ("n_train", "n_test")]
    if metric not in columns:
        raise unknown_name_error("metric", metric, columns)
    if result_a.signatures != result_b.signatures:
        differing = sum(a != b for a, b in zip(result_a.signatures, result_b.signatures))
        raise DataError(
            f"The results were computed on different splits ({len(result_a.signatures)} vs {len(result_b.signatures)} "
            f"splits, {differing} of the shared positions differ); a paired test needs the same splits. "
            "Evaluate both with the same dataset, protocol, n_splits, test_size and seed (or the same splits=)."
        )
    lower_is_better = metric.startswith("rmse")
    a = result_a.per_split[metric].to_numpy()
    b = result_b.per_split[metric].to_numpy()
    outcome = paired_test(a, b, alternative="less" if lower_is_better else "greater", alpha=alpha)
    return Comparison(
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        verdict=outcome.verdict,
        metric=metric,
        a=_label(result_a),
        b=_label(result_b),
        mean_a=float(np.mean(a)),
        mean_b=float(np.mean(b)),
        n_splits=len(a),
        alpha=alpha,
    )


# -- helpers ------------------------------------------------------------------------------------------


def _protocol_splits(
    ds: Dataset, protocol: str, *, n_splits: int | None, test_size: float | None, by: str | None, seed: int
) -> tuple[str, list, float | None]:
    """Resolve a protocol name to the name to record, its splits and the test fraction it used."""
    from deepfeat_iqa.datasets import splits as sp

    count = {} if n_splits is None else {"n_splits": n_splits}  # None: the split function's own default

    percent = _REPEATED_PERCENT.fullmatch(protocol)
    if percent:
        train_pct, test_pct = (int(v) for v in percent.groups())
        if train_pct + test_pct != 100:
            raise ConfigError(f"Protocol {protocol!r}: the train and test percentages must add up to 100.")
        if test_size is not None and not np.isclose(test_size, test_pct / 100):
            raise ConfigError(f"Protocol {protocol!r} says test_size={test_pct / 100}, but test_size={test_size} was given; pass one.")
        return protocol, sp.repeated(ds, **count, test_size=test_pct / 100, seed=seed, by=by), test_pct / 100
    if protocol == "repeated":
        test_size = 0.2 if test_size is None else test_size
        return protocol, sp.repeated(ds, **count, test_size=test_size, seed=seed, by=by), test_size
    if test_size is not None:
        raise ConfigError(f"test_size applies to repeated splits only; protocol {protocol!r} fixes its own test sets.")
    if protocol == "kfold":
        return protocol, sp.kfold(ds, **count, by=by, seed=seed), None
    if protocol == "official":
        return protocol, [sp.official(ds)], None
    raise unknown_name_error("protocol", protocol, [*PROTOCOLS, "repeated-80-20"])


def _refuse_split_settings(what: str, given: dict[str, Any], test_size: float | None) -> None:
    """Raise when split settings were given that ``what`` ignores, naming each and what to use instead."""
    if test_size is not None:
        given = {**given, "test_size": test_size}
    if given:
        shown = ", ".join(f"{name}={value!r}" for name, value in given.items())
        raise ConfigError(
            f"{what} fixes its own split, so {shown} would be ignored. Drop {', '.join(f'{k}=' for k in given)}, "
            "or use protocol='repeated' (n_splits random content-separated splits, seed=, test_size=) or protocol='kfold' (n_splits folds)."
        )


def _warn_small_tests(sizes: list[int]) -> None:
    """Warn when some test sets are too small for their correlations to mean much."""
    small = [size for size in sizes if size < MIN_TEST_IMAGES]
    if small:
        warnings.warn(
            f"{len(small)} of {len(sizes)} test splits hold fewer than {MIN_TEST_IMAGES} images (smallest: {min(small)}); "
            "their SROCC/PLCC say little (a correlation of 0.5 on 19 images has a 95% interval of 0.06-0.78). "
            "Evaluate on more images, or use fewer, larger test sets (test_size=, or fewer kfold folds).",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def _check_splits(chosen: list, n_rows: int) -> None:
    """Refuse empty, out-of-range or leaking splits before any head is fitted."""
    if not chosen:
        raise ConfigError("No splits to evaluate on; pass n_splits >= 1 or a non-empty splits= list.")
    for i, split in enumerate(chosen):
        train, test = np.asarray(split.train), np.asarray(split.test)
        if train.size == 0 or test.size == 0:
            raise DataError(f"Split {i} has {train.size} train and {test.size} test images; both must be non-empty.")
        for name, rows in (("train", train), ("test", test)):
            if rows.min() < 0 or rows.max() >= n_rows:
                raise DataError(f"Split {i} {name} rows reach {int(rows.max())}, but the features have {n_rows} rows.")
        overlap = np.intersect1d(train, test)
        if overlap.size:
            raise DataError(f"Split {i} puts {overlap.size} images in both train and test (first rows: {overlap[:5].tolist()}).")


def _run(jobs: list[tuple], *, n_jobs: int, progress: bool, desc: str) -> list[tuple[dict, pd.DataFrame]]:
    bar = {"total": len(jobs), "desc": desc, "unit": "split", "enabled": progress}
    if n_jobs == 1:
        return [_one_split(*job) for job in with_progress(jobs, **bar)]
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    return list(with_progress(parallel(delayed(_one_split)(*job) for job in jobs), **bar))


def _one_split(
    estimator: BaseEstimator,
    X: Any,  # noqa: N803
    y: np.ndarray,
    blocks: Sequence[tuple[str, int]],
    dataset: Dataset,
    split: Any,
    index: int,
) -> tuple[dict, pd.DataFrame]:
    """Fit on the split's train rows, predict its test rows; return the metric row and the predictions.

    Takes the feature matrix (or, for an image head, the Dataset, which ``X[rows]`` subsets the same
    way) rather than the LayerFeatures, so parallel workers are sent plain arrays and never a handle
    on the feature store.
    """
    from deepfeat_iqa.evaluation.metrics import summary_and_mapping

    train, test = np.asarray(split.train), np.asarray(split.test)
    fit_estimator(estimator, X[train], y[train], blocks, dataset.subset(train))
    y_pred, y_std = _predict(estimator, X[test], dataset.subset(test))
    metrics, kind = summary_and_mapping(y[test], y_pred)
    row = {"split": index, "n_train": int(train.size), "n_test": int(test.size), **metrics, "mapping": kind}
    return row, _prediction_frame([dataset.ids[i] for i in test], index, y[test], y_pred, y_std,
                                  paths=[dataset.paths[i] for i in test])


def _predict(estimator: BaseEstimator, X: Any, dataset: Dataset) -> tuple[np.ndarray, np.ndarray | None]:  # noqa: N803
    """Predictions (and sd where the head has one), using test-time side labels the head accepts (EXIF).

    Threads as ``QualityModel.predict`` and the fit decide them (:func:`head_threads_for`): an image head keeps
    every core here too, where a row count alone would have held its convolutions to one thread.
    """
    with head_threads_for(estimator, len(X)):
        if supports_std(estimator):
            mean, std = estimator.predict(X, return_std=True)
            return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        return np.asarray(estimator.predict(X, **predict_side_labels(estimator, dataset)), dtype=np.float64), None


def _prediction_frame(ids: Sequence[str], split: int, y_true: np.ndarray, y_pred: np.ndarray, y_std: np.ndarray | None,
                      *, paths: Sequence[Any] | None = None) -> pd.DataFrame:
    """One row per test image; ``path`` lets a report show the photos the head misjudges most."""
    frame = pd.DataFrame({"id": list(ids), "split": split, "y_true": y_true, "y_pred": y_pred})
    if paths is not None:
        frame.insert(1, "path", [str(p) for p in paths])
    if y_std is not None:
        frame["y_std"] = y_std
    return frame


def scale_record(scale: Any) -> dict[str, Any] | None:
    """The dataset's score scale as JSON-ready fields, so plots and reports can name the units of MOS."""
    if scale is None:
        return None
    return {"kind": scale.kind, "low": float(scale.low), "high": float(scale.high), "higher_is_better": bool(scale.higher_is_better)}


def _result(outcomes: list[tuple[dict, pd.DataFrame]], info: dict, signatures: tuple[str, ...]) -> EvaluationResult:
    """Assemble the result; the mapping each split's PLCC used goes into ``info``, not the metric table."""
    rows = [dict(row) for row, _ in outcomes]
    info["plcc_mapping"] = [row.pop("mapping") for row in rows]
    fallback = [row["split"] for row, kind in zip(rows, info["plcc_mapping"]) if kind == "raw"]
    info["plcc_raw_fallback_splits"] = fallback
    if fallback:
        warnings.warn(
            f"In {len(fallback)} of {len(rows)} splits (splits {fallback[:10]}) no increasing logistic fitted the "
            "predictions (they do not rise with the scores), so PLCC and RMSE there are the raw values.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    per_split = pd.DataFrame(rows).set_index("split")
    predictions = pd.concat([frame for _, frame in outcomes], ignore_index=True)
    logger.info("Evaluated %s on %s over %d splits", info["head"], info["dataset"], len(per_split))
    return EvaluationResult(per_split, predictions, info, signatures)


def _label(result: EvaluationResult) -> str:
    key = result.info.get("feature_key", {})
    return f"{result.info.get('head', '?')} [{key.get('backbone', '?')}/{key.get('layer', '?')}]"


__all__ = ["evaluate", "evaluate_cross", "compare"]
