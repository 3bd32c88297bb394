"""dfi.cross (z-scored matrix, unions), dfi.significance (Table 9 matrix) and dfi.ensemble on synthetic features."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers.plots import assert_png_not_blank
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import Dataset, Scale
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.features._sets import FeatureKey, LayerFeatures

KEY = FeatureKey("efficientnet_lite0", "sha256:00ff", "blocks.4", "avg", "center", "fp32")


def features(name: str, *, n_groups: int = 12, per_group: int = 3, dmos: bool = False, scale_to: float = 100.0, seed: int = 0,
             constant: bool = False) -> LayerFeatures:  # fmt: skip
    """Features whose first coordinates carry the score; each database on its own scale (and direction)."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    X = rng.normal(size=(n, 1, 6)).astype(np.float32)  # noqa: N806
    quality = X[:, 0, :2] @ np.array([1.0, 0.5]) + 0.1 * rng.normal(size=n)
    mos = np.full(n, 5.0) if constant else scale_to * (quality - quality.min()) / np.ptp(quality)
    if dmos:
        mos = scale_to - mos
    ids = [f"{name}_{i:03d}.png" for i in range(n)]
    ds = Dataset(ids=ids, paths=ids, mos=mos, scale=Scale(0, scale_to, not dmos, "DMOS" if dmos else "MOS"),
                 groups=np.repeat(np.arange(n_groups), per_group), name=name)  # fmt: skip
    return LayerFeatures(key=KEY, per_view=X, dataset=ds)


def test_cross_matrix_with_a_union(tmp_path: Path) -> None:
    sets = {"live": features("live", dmos=True, seed=1), "csiq": features("csiq", scale_to=1.0, dmos=True, seed=2),
            "tid": features("tid", scale_to=9.0, seed=3)}  # fmt: skip
    study = dfi.cross(sets, head=Ridge(), unions={"category": ["live", "csiq"]}, progress=False)
    matrix = study.matrix("srocc")
    assert list(matrix.index) == ["live", "csiq", "tid", "category"] and list(matrix.columns) == ["csiq", "tid", "live"]
    assert np.isnan(matrix.loc["live", "live"]) and np.isnan(matrix.loc["category", "csiq"])
    # z-scoring (DMOS flipped) puts every database on one footing: the signal transfers
    assert (matrix.stack().dropna() > 0.9).all(), matrix
    result = study.results["category", "tid"]
    assert result.per_split["n_train"].iloc[0] == 72 and result.info["labels"].startswith("z-scored")
    assert "SROCC (rows: trained on" in study.to_markdown()
    assert len(json.loads(study.to_json(tmp_path / "cross.json"))["pairs"]) == len(study.results)
    assert_png_not_blank(study.heatmap(tmp_path / "cross.png"))


def test_cross_refuses_constant_scores_and_unknown_names() -> None:
    sets = {"live": features("live"), "flat": features("flat", constant=True)}
    with pytest.raises(DataError, match=r"'flat': all 36 scores are equal \(5\), so they cannot be z-scored"):
        dfi.cross(sets, head=Ridge(), progress=False)
    with pytest.raises(ConfigError, match="Unknown dataset in union 'u' 'lvie'.*Did you mean 'live'"):
        dfi.cross({"live": features("live"), "tid": features("tid")}, head=Ridge(), unions={"u": ["lvie"]}, progress=False)


def test_significance_matrix_and_split_check() -> None:
    lf = features("tid", n_groups=20, seed=4)
    results = {
        "ridge": dfi.evaluate(lf, head=Ridge(), n_splits=8, seed=0, progress=False),
        "knn": dfi.evaluate(lf, head=KNeighborsRegressor(n_neighbors=15), n_splits=8, seed=0, progress=False),
        "noise": dfi.evaluate(replace(lf, per_view=np.random.default_rng(0).normal(size=lf.per_view.shape)), head=Ridge(), n_splits=8, seed=0, progress=False),
    }
    matrix = dfi.significance(results)
    verdict = matrix.verdict
    assert np.all(np.diag(verdict) == 0) and (verdict.to_numpy() == -verdict.to_numpy().T).all()
    assert verdict.loc["ridge", "noise"] == 1 and verdict.loc["noise", "ridge"] == -1
    assert "1 = row significantly better" in matrix.to_markdown()
    assert json.loads(matrix.to_json())["labels"] == ["ridge", "knn", "noise"]
    other = dfi.evaluate(lf, head=Ridge(), n_splits=8, seed=1, progress=False)
    with pytest.raises(DataError, match=r"'other' and 'ridge' were evaluated on different splits \(seed 0 vs 1\)"):
        dfi.significance({"ridge": results["ridge"], "other": other})


def test_ensemble_is_a_result_on_the_same_splits() -> None:
    lf = features("tid", n_groups=20, seed=5)
    half_a = replace(lf, per_view=lf.per_view[:, :, [0, 2, 3]])
    half_b = replace(lf, per_view=lf.per_view[:, :, [1, 4, 5]])
    a = dfi.evaluate(half_a, head=Ridge(), n_splits=5, progress=False)
    b = dfi.evaluate(half_b, head=Ridge(), n_splits=5, progress=False)
    joined = dfi.ensemble([a, b], name="a+b")
    assert joined.signatures == a.signatures and joined.n_splits == 5 and joined.info["head"] == "a+b"
    # each half sees one of the two informative coordinates; their average sees both
    assert joined.aggregate.loc["mean", "srocc"] > max(a.aggregate.loc["mean", "srocc"], b.aggregate.loc["mean", "srocc"])
    assert dfi.compare(joined, a).verdict == 1
    assert dfi.significance({"ens": joined, "a": a, "b": b}).verdict.loc["ens", "b"] == 1
    with pytest.raises(DataError, match="different splits"):
        dfi.ensemble([a, dfi.evaluate(half_b, head=Ridge(), n_splits=5, seed=9, progress=False)])
