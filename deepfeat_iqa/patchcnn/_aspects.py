"""SCPQD2020's per-aspect targets (seed 000): within-scene ranks per aspect (scored by
:func:`deepfeat_iqa.evaluation.within_scene_srocc`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError

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
