"""Issue 18 point 6: one builder writes the record of a fit, for model files and evaluation results alike."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import joblib
import pytest

from deepfeat_iqa.api import fit, head_record, upgrade_record
from deepfeat_iqa.evaluation._evaluate import evaluate, evaluate_cross
from deepfeat_iqa.features._sets import LayerFeatures
from deepfeat_iqa.persist import FORMAT, load, save

#: The keys head_record writes; fit and both evaluations must agree on every one of them.
SHARED = ("head", "head_params", "consumes", "feature_key", "blocks", "dataset", "head_seeds", "versions")


def test_fit_and_evaluate_record_a_fit_under_the_same_keys(feats: LayerFeatures, make_feats) -> None:  # noqa: ANN001
    model = fit(feats, head="svr", random_state=3)
    result = evaluate(feats, head="svr", n_splits=2, random_state=3, progress=False)
    with pytest.warns(UserWarning):  # a tiny test database
        cross = evaluate_cross(feats, make_feats(n_groups=5, seed=1, name="other"), head="svr", random_state=3, progress=False)
    assert set(SHARED) <= set(model.info) and set(SHARED) <= set(result.info) and set(SHARED) <= set(cross.info)
    for key in ("head", "consumes", "feature_key", "blocks", "head_seeds", "versions"):
        assert model.info[key] == result.info[key] == cross.info[key], key
    # fit records the fitted head's parameters (blocks= set from the features), evaluate the template's
    assert set(model.info["head_params"]) == set(result.info["head_params"]) == set(cross.info["head_params"])
    assert model.info["feature_key"]["layer"] == "layer3" and model.info["head_seeds"] == {"random_state": 3}
    assert model.info["dataset"] == result.info["dataset"] == feats.dataset.name
    assert "input" not in model.info and "seeds" not in model.info


def test_head_record_is_what_fit_records(feats: LayerFeatures) -> None:
    from deepfeat_iqa.heads._adapter import head_inputs

    model = fit(feats, head="svr")
    assert {k: v for k, v in model.info.items() if k != "n_train"} == head_record(model.estimator, "svr", head_inputs(model.estimator, feats))


def _with_old_keys(info: dict) -> dict:
    """A record as model files of 0.1/0.2 wrote it: ``input`` and ``seeds`` for ``feature_key`` and ``head_seeds``."""
    old = {("input" if k == "feature_key" else "seeds" if k == "head_seeds" else k): v for k, v in info.items()}
    assert "input" in old and "seeds" in old
    return old


def test_model_files_with_the_old_keys_still_load_under_the_new_ones(feats: LayerFeatures, tmp_path: Path) -> None:
    model = fit(feats, head="svr", random_state=3)
    path = save(model, tmp_path / "new.dfi")
    old = tmp_path / "old.dfi"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                manifest["info"] = _with_old_keys(manifest["info"])
                data = json.dumps(manifest).encode()
            target.writestr(name, data)
    loaded = load(old)
    assert loaded.info["feature_key"] == model.info["feature_key"] and loaded.info["head_seeds"] == {"random_state": 3}
    assert "input" not in loaded.info and "seeds" not in loaded.info
    model.info = _with_old_keys(model.info)
    pickled = tmp_path / "old.pkl"
    joblib.dump({"format": FORMAT, "format_version": 1, "versions": {}, "model": model}, pickled)
    assert load(pickled, trusted=True).info["head_seeds"] == {"random_state": 3}


def test_upgrade_record_renames_only_the_old_keys() -> None:
    assert upgrade_record({"input": {"layer": "x"}, "seeds": {}, "n_train": 3}) == {"feature_key": {"layer": "x"}, "head_seeds": {}, "n_train": 3}
