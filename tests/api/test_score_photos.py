"""Every model scores photos: a feature model extracts them as it was fitted; bf16/fp32 features stand in for each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import FeatureKeyError
from deepfeat_iqa.features import FeatureKey
from deepfeat_iqa.runtime import precision as precision_module
from deepfeat_iqa.runtime.precision import accepted_precision

RECIPE = {"backbone": "resnet18", "weights": "random", "layers": ["layer1", "layer2"], "pooling": "avg+std", "views": "center",
          "store": None, "progress": False, "precision": "fp32"}  # fmt: skip


def _labeled(photo_dir: Path) -> dfi.Dataset:
    paths = sorted(photo_dir.iterdir())
    return dfi.Dataset(ids=[p.name for p in paths], paths=paths, mos=np.linspace(20, 80, len(paths)), name="five")


def test_a_feature_model_scores_photos_exactly_as_it_scores_their_features(photo_dir: Path) -> None:
    ds = _labeled(photo_dir)
    feats = dfi.extract(ds, **RECIPE)
    model = dfi.fit(feats, head="svr", layers=["layer1", "layer2"])
    model.info["weights_source"] = "random"
    from_features = model.predict(feats)
    from_folder = model.predict(photo_dir, store=None)
    from_paths = model.predict(sorted(photo_dir.iterdir()), store=None)
    np.testing.assert_array_equal(from_folder, from_features)
    np.testing.assert_array_equal(from_paths, from_features)
    table = dfi.score(photo_dir, model, store=None)
    assert table.columns.tolist() == ["id", "path", "score"]
    np.testing.assert_array_equal(table["score"].to_numpy(), from_features)


def test_bf16_and_fp32_features_stand_in_for_each_other_but_nothing_else_does() -> None:
    fp32 = FeatureKey("efficientnet_lite0", "sha256:0", "blocks.4", "avg", "full", "fp32")
    fp32.check_matches(FeatureKey(**{**fp32.to_dict(), "precision": "bf16"}))
    with pytest.raises(FeatureKeyError, match="precision: fitted on 'fp32', given 'fp16'"):
        fp32.check_matches(FeatureKey(**{**fp32.to_dict(), "precision": "fp16"}))
    with pytest.raises(FeatureKeyError, match="views"):
        fp32.check_matches(FeatureKey(**{**fp32.to_dict(), "views": "center"}))


@pytest.mark.parametrize("native", [True, False])
def test_a_model_extracts_in_its_own_precision_unless_this_machine_would_emulate_it(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    import torch

    monkeypatch.setattr(precision_module, "_cpu_bf16_native", lambda: native)
    cpu = torch.device("cpu")
    assert accepted_precision("bf16", cpu) == ("bf16" if native else "fp32")
    assert accepted_precision("fp32", cpu) == "fp32"


def test_a_model_fitted_on_bf16_features_scores_fp32_features(photo_dir: Path) -> None:
    ds = _labeled(photo_dir)
    bf16 = dfi.extract(ds, **{**RECIPE, "precision": "bf16"})
    model = dfi.fit(bf16, head="gpr", layers=["layer1", "layer2"], max_iter=5)
    scores = model.predict(dfi.extract(ds, **RECIPE))
    assert scores.shape == (len(ds),) and np.isfinite(scores).all()
