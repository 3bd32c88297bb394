"""Tiny inputs of each report kind, without torch: a score table, an EvaluationResult over real photo files, a recorded Study."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def score_table(photo_dir: Path, *, with_sd: bool = True) -> pd.DataFrame:
    """Scores (and sds) for every JPEG of ``photo_dir``, as ``dfi.score`` returns them."""
    paths = sorted(photo_dir.glob("*.jpg"))
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"id": [p.name for p in paths], "path": [str(p) for p in paths],
                          "score": rng.uniform(20, 80, len(paths))})  # fmt: skip
    if with_sd:
        table["sd"] = rng.uniform(2, 9, len(paths))
    return table


def evaluation_result(photo_dir: Path, *, n_splits: int = 2, seed: int = 1):  # noqa: ANN201 - EvaluationResult, imported lazily
    """An :class:`EvaluationResult` whose test predictions are the photos of ``photo_dir`` (each split tests all)."""
    from deepfeat_iqa.evaluation.results import EvaluationResult

    paths = sorted(photo_dir.glob("*.jpg"))
    rng = np.random.default_rng(seed)
    y_true = np.linspace(1.5, 4.5, len(paths))
    frames, rows = [], []
    for split in range(n_splits):
        y_pred = y_true + rng.normal(0, 0.5, len(paths))
        frames.append(pd.DataFrame({"id": [p.name for p in paths], "path": [str(p) for p in paths], "split": split,
                                    "y_true": y_true, "y_pred": y_pred}))  # fmt: skip
        rmse = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
        rows.append({"split": split, "n_train": 20, "n_test": len(paths), "srocc": stats.spearmanr(y_true, y_pred).statistic,
                     "plcc": stats.pearsonr(y_true, y_pred).statistic, "krocc": stats.kendalltau(y_true, y_pred).statistic,
                     "rmse": rmse, "plcc_raw": stats.pearsonr(y_true, y_pred).statistic, "rmse_raw": rmse})  # fmt: skip
    info = {"head": "gpr", "dataset": "tiny-photos", "protocol": "repeated", "seed": 0, "test_size": 0.2,
            "feature_key": {"backbone": "resnet18", "layer": "layer3", "pooling": "avg", "views": "full384"},
            "scale": {"kind": "MOS", "low": 1.0, "high": 5.0, "higher_is_better": True},
            "versions": {"deepfeat_iqa": "test"}}  # fmt: skip
    return EvaluationResult(pd.DataFrame(rows).set_index("split"), pd.concat(frames, ignore_index=True), info)


def recorded_study(results: Path, photo_dir: Path, *, backbones: Sequence[str] = ("resnet18", "resnet50"),
                   layers: Sequence[str] = ("layer2", "layer3"), heads: Sequence[str] = ("svr", "gpr"), failed: int = 1):  # noqa: ANN201 - Study
    """A :class:`Study` of ``backbones x layers x heads`` cells recorded in ``results`` without computing anything:
    each done cell holds :func:`evaluation_result` (its own noise), the last ``failed`` cells are failures."""
    from deepfeat_iqa.studies._cells import Cell, Protocol
    from deepfeat_iqa.studies._results_store import ResultsStore
    from deepfeat_iqa.studies._study import Study

    cells = [Cell("tiny-photos", "fp", b, "imagenet", layer, "avg", "center", "fp32", head, Protocol(n_splits=2), layer_label=layer)
             for b in backbones for layer in layers for head in heads]  # fmt: skip
    displays = [{"dataset": c.dataset, "backbone": c.backbone, "weights": c.weights, "layer": c.layer, "pooling": c.pooling,
                 "views": c.views, "head": c.head, "random_weights": False} for c in cells]  # fmt: skip
    db = ResultsStore(results)
    db.register("fake", {"models": list(backbones)}, cells, displays, extend=False)
    for number, cell in enumerate(cells):
        if number >= len(cells) - failed:
            db.write_failure(cell, "RuntimeError: out of memory")
            continue
        result = evaluation_result(photo_dir, seed=number)
        result.info["feature_key"] = {**result.info["feature_key"], "backbone": cell.backbone, "layer": cell.layer}
        db.write_result(cell, result, dim=64, weights_sha256="sha", fit_seconds=0.1)
    return Study(db, "fake")
