"""``ensemble``: the mean of z-scored predictions of several results on the same splits, as a result itself.

Members' predictions live on their own scales (an SVR on one layer, a GPR on another), so each member's
test predictions are z-scored within each split before averaging; the average is then measured like
any head's predictions. The outcome is an :class:`EvaluationResult` with the members' split
signatures, so ``compare`` and ``significance`` take it like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.evaluation.results import EvaluationResult
from deepfeat_iqa.studies._significance import check_same_splits, labelled


def ensemble(results: Sequence[EvaluationResult] | Mapping[str, EvaluationResult], *, name: str = "ensemble") -> EvaluationResult:
    """Average the z-scored test predictions of ``results`` split by split and evaluate the average.

    Parameters
    ----------
    results:
        Two or more results on identical splits (e.g. ``study.results(head="gpr", layer=...)``).
    name:
        The ensemble's head label in reports.

    Raises
    ------
    DataError
        When the members were evaluated on different splits, or a member predicts a constant in a split.
    """
    from deepfeat_iqa.evaluation.metrics import summary

    members = labelled(results)
    if len(members) < 2:
        raise ConfigError(f"An ensemble needs at least two results; got {len(members)}.")
    check_same_splits(members)
    first = next(iter(members.values()))
    rows, frames = [], []
    for split in first.per_split.index:
        joined = None
        for i, (label, result) in enumerate(members.items()):
            part = result.predictions[result.predictions["split"] == split]
            sd = float(part["y_pred"].std(ddof=0))
            if not np.isfinite(sd) or sd == 0:
                raise DataError(f"{label!r} predicts one constant value in split {split}; it cannot be z-scored into an ensemble.")
            z = part[["id", "y_true"]].assign(**{f"z{i}": (part["y_pred"] - part["y_pred"].mean()) / sd})
            joined = z if joined is None else joined.merge(z.drop(columns="y_true"), on="id", how="inner", validate="one_to_one")
        if len(joined) != len(first.predictions[first.predictions["split"] == split]):
            raise DataError(f"The members' test images differ in split {split}; they were not evaluated on the same splits.")
        y_pred = joined[[f"z{i}" for i in range(len(members))]].mean(axis=1).to_numpy()
        y_true = joined["y_true"].to_numpy()
        counts = first.per_split.loc[split, ["n_train", "n_test"]].astype(int).to_dict()
        rows.append({"split": split, **counts, **summary(y_true, y_pred)})
        frames.append(pd.DataFrame({"id": joined["id"], "split": split, "y_true": y_true, "y_pred": y_pred}))
    info = {
        **{k: first.info.get(k) for k in ("dataset", "protocol", "n_splits", "test_size", "by", "seed", "n_images", "versions")},
        "head": name,
        "members": list(members),
        "member_info": [result.info for result in members.values()],
        "feature_key": {"backbone": "+".join(sorted({r.info.get("feature_key", {}).get("backbone", "?") for r in members.values()})),
                        "layer": f"{len(members)} members"},
        "predictions": "mean of per-split z-scored member predictions",
    }  # fmt: skip
    return EvaluationResult(pd.DataFrame(rows).set_index("split"), pd.concat(frames, ignore_index=True), info, first.signatures)
