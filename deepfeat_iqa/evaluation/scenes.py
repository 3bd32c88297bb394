"""SCPQD2020's score (seed 000): SROCC within each scene, where ranks compare photos only inside a scene."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import DataError
from deepfeat_iqa.evaluation.metrics import per_group_srocc
from deepfeat_iqa.evaluation.results import EvaluationResult


def within_scene_srocc(result: EvaluationResult, dataset: Dataset, min_size: int = 3) -> pd.Series:
    """Seed 000's score: per split, the SROCC of predictions against the ranks inside each scene, averaged.

    ``dataset`` is the one evaluated (its groups are the scenes). Ranks compare photos only within a
    scene, so this is the number to quote for SCPQD2020; the global SROCC of ``result`` mixes scenes.
    """
    scene = pd.Series(np.asarray(dataset.group_ids), index=pd.Index(dataset.ids, name="id"))
    predictions = result.predictions
    unknown = sorted(set(predictions["id"]) - set(scene.index))
    if unknown:
        raise DataError(f"{len(unknown)} predicted ids are not in dataset {dataset.name!r} (first: {unknown[:3]}); pass the dataset that was evaluated.")
    values = {
        split: per_group_srocc(rows["y_true"], rows["y_pred"], scene.loc[rows["id"]].to_numpy(), min_size=min_size)
        for split, rows in predictions.groupby("split")
    }
    return pd.Series(values, name="within_scene_srocc")
