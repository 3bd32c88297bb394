"""SCPQD2020's per-aspect protocol (seed 000): rank targets per aspect, SROCC within each scene."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..datasets import Dataset
from ..errors import ConfigError, DataError
from ..metrics import per_group_srocc
from ..results import EvaluationResult

#: SCPQD2020's four aspects (seed 000 trains one model per aspect).
ASPECTS = ("texture", "color", "noise", "exposure")


def aspect_targets(dataset: Dataset, aspect: str, head: str) -> np.ndarray:
    """One SCPQD2020 aspect's within-scene ranks (1 = best) as training targets, or an error naming the fix."""
    if aspect not in ASPECTS:
        raise ConfigError(f"aspect={aspect!r}; SCPQD2020 aspects are {', '.join(ASPECTS)}.")
    table = dataset.aspects
    if table is None or aspect not in table.columns:
        have = "no aspect ranks" if table is None else f"aspect ranks for {', '.join(map(str, table.columns))} only"
        raise DataError(
            f"{head}(aspect={aspect!r}) trains on SCPQD2020-style within-scene ranks, but dataset {dataset.name!r} "
            f"has {have}. Load it with dfi.datasets.load('scpqd2020', root, target={aspect!r}) (its label table "
            f"needs a {aspect!r} column), or fit with aspect=None."
        )
    values = pd.to_numeric(table[aspect], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.flatnonzero(~np.isfinite(values))
    if missing.size:
        raise DataError(f"{head}: {missing.size} images of {dataset.name!r} have no {aspect!r} rank (first: {dataset.ids[missing[0]]!r}).")
    return values


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
