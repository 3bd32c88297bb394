"""The combination head: members on their own features, one combiner, a model that scores photos."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import ConfigError, DeepfeatError
from deepfeat_iqa.heads import Combination, Member

from .conftest import FAST, TINY

#: Two random-weight members on different layers of a tiny timm network: seconds to fit.
MEMBERS = (
    Member(backbone=TINY, weights="random", layers=("stage1", "stage2"), pooling="avg", views="center"),
    Member(backbone=TINY, weights="random", layers=("stage3",), pooling="avg+std", views="center", head="svr"),
)
SMALL = {"members": MEMBERS, "store": None, "precision": "fp32"}


def test_a_fitted_combination_predicts_the_weighted_mean_of_its_z_scored_members(images) -> None:
    model = dfi.fit(images, head="combination", **SMALL)
    head = model.estimator
    members = head.member_predictions(images)
    z = np.column_stack([(p - m) / s for p, m, s in zip(members.values(), head.member_mean_, head.member_std_)])
    expected = head.y_mean_ + head.y_std_ * z.mean(axis=1)
    np.testing.assert_allclose(model.predict(images), expected, rtol=1e-10)
    assert list(members) == [m.label() for m in MEMBERS]
    assert np.allclose(head.weights_, 0.5)


def test_member_weights_are_shares_of_the_mean_and_survive_a_model_file(images, tmp_path) -> None:
    weighted = (MEMBERS[0], replace(MEMBERS[1], weight=3.0))
    model = dfi.fit(images, head="combination", **{**SMALL, "members": weighted})
    head = model.estimator
    np.testing.assert_allclose(head.weights_, [0.25, 0.75])
    members = head.member_predictions(images)
    z = np.column_stack([(p - m) / s for p, m, s in zip(members.values(), head.member_mean_, head.member_std_)])
    np.testing.assert_allclose(model.predict(images), head.y_mean_ + head.y_std_ * z @ [0.25, 0.75], rtol=1e-10)
    assert list(members)[1].endswith(" x3")
    loaded = dfi.load_model(dfi.save_model(model, tmp_path / "weighted.dfi"))
    assert loaded.estimator.members[1].weight == 3.0
    np.testing.assert_array_equal(loaded.predict(images), model.predict(images))


@pytest.mark.parametrize(("weight", "combiner", "message"), [(0.0, "mean", "positive number"), (float("nan"), "mean", "positive number"),
                                                             (2.0, "stack", "fits the members' weights itself")])  # fmt: skip
def test_bad_member_weights_are_refused_naming_the_member(images, weight, combiner, message) -> None:
    members = (MEMBERS[0], replace(MEMBERS[1], weight=weight))
    with pytest.raises(ConfigError, match=message) as caught:
        dfi.fit(images, head="combination", members=members, combiner=combiner, store=None, precision="fp32")
    assert "svr@" in str(caught.value)


def test_combination_beats_chance_on_held_out_photos(images) -> None:
    """Blur lowers MOS in the fixture: a combination fitted on 6 textures ranks the 2 held-out ones."""
    train = np.flatnonzero(~np.isin(images.groups, ["g0", "g1"]))
    test = np.flatnonzero(np.isin(images.groups, ["g0", "g1"]))
    model = dfi.fit(images.subset(train), head="combination", **SMALL)
    from scipy.stats import spearmanr

    assert spearmanr(model.predict(images.subset(test)), images.mos[test]).statistic > 0.5


def test_a_saved_combination_loads_without_code_and_predicts_the_same(images, tmp_path) -> None:
    model = dfi.fit(images, head="combination", **SMALL)
    path = dfi.save_model(model, tmp_path / "combo.dfi")
    loaded = dfi.load_model(path)
    np.testing.assert_array_equal(loaded.predict(images), model.predict(images))
    assert [type(h) for h in loaded.estimator.heads_] == [type(h) for h in model.estimator.heads_]


def test_stacking_weights_members_by_their_out_of_fold_predictions(images) -> None:
    useless = Member(backbone=TINY, weights="random", layers=("stage1",), pooling="avg", views="center", head="gpr",
                     options={"max_iter": 3})  # fmt: skip
    model = dfi.fit(images, head="combination", members=(MEMBERS[0], useless), combiner="stack", store=None, precision="fp32")
    weights = model.estimator.weights_
    assert weights.shape == (2,) and np.isclose(weights.sum(), 1.0) and (weights >= 0).all()


def test_combination_is_evaluated_over_the_same_splits_as_a_single_head(images) -> None:
    splits = dfi.splits.repeated(images, n_splits=2, test_size=0.25, seed=0)
    combo = dfi.evaluate(images, head="combination", splits=splits, progress=False, **SMALL)
    single = dfi.evaluate(dfi.extract(images, backbone=TINY, weights="random", layers=["stage1", "stage2"], pooling="avg",
                                      views="center", store=None, precision="fp32", progress=False),
                          head="gpr", layers=["stage1", "stage2"], splits=splits, progress=False)  # fmt: skip
    assert combo.predictions.sort_values(["split", "id"])["id"].tolist() == single.predictions.sort_values(["split", "id"])["id"].tolist()


def test_a_failing_member_names_itself(images, monkeypatch) -> None:
    model = dfi.fit(images, head="combination", **SMALL)
    second = model.estimator.heads_[1]
    monkeypatch.setattr(second, "predict", lambda X: (_ for _ in ()).throw(DeepfeatError("boom")))
    with pytest.raises(DeepfeatError, match=r"Combination member svr@test_efficientnet/stage3/avg\+std/center: boom"):
        model.predict(images)


def test_bad_members_and_combiners_are_refused(images) -> None:
    with pytest.raises(ConfigError, match="unknown field.*'layer'"):
        dfi.fit(images, head="combination", members=[{"layer": "stage1"}], store=None)
    with pytest.raises(ConfigError, match="combiner='median'"):
        dfi.fit(images, head="combination", members=MEMBERS, combiner="median", store=None)


def test_an_image_head_can_be_a_member(images) -> None:
    spaq = {"head": "spaq-bl", "options": {k: v for k, v in FAST.items()} | {"epochs": 1}}
    model = dfi.fit(images, head="combination", members=[MEMBERS[0], spaq], store=None, precision="fp32")
    assert model.estimator.keys_[1] is None and model.predict(images).shape == (len(images),)


def test_api_and_cli_scores_agree_to_the_last_digit(images, tmp_path) -> None:
    from deepfeat_iqa.cli import app

    model = dfi.fit(images, head="combination", **SMALL)
    path = dfi.save_model(model, tmp_path / "combo.dfi")
    folder = images.paths[0].parent
    api = dfi.score(folder, path)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(app, ["score", str(folder), "--model-file", str(path), "--out", str(out), "--store", "none"])
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out)
    assert cli["id"].tolist() == api["id"].tolist()
    np.testing.assert_array_equal(cli["score"].to_numpy(), api["score"].to_numpy())


def test_without_a_head_photos_get_the_recommended_combination_and_features_a_gpr(images) -> None:
    from deepfeat_iqa.cli._heads import _chosen_head
    from deepfeat_iqa.heads._adapter import default_head
    from deepfeat_iqa.heads._combination import DEFAULT_MEMBERS

    assert default_head(images) == "combination"
    feats = dfi.extract(images, backbone=TINY, weights="random", layers="stage1", views="center", store=None, progress=False)
    assert default_head(feats) == default_head(feats["stage1"]) == "gpr"
    assert _chosen_head(None, features=None, layers=None, pooling=None, views=None, backbone="efficientnet_lite0") == "combination"
    assert _chosen_head(None, features=None, layers=["block4"], pooling=None, views=None, backbone="efficientnet_lite0") == "gpr"
    assert _chosen_head("svr", features=None, layers=None, pooling=None, views=None, backbone="efficientnet_lite0") == "svr"
    assert [m.backbone for m in DEFAULT_MEMBERS] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite0"]
    assert [m.views for m in DEFAULT_MEMBERS] == ["full512", "grid512@center", "random9in512@seed0"]  # 12-MP photos brought to 512 px first
    assert [m.pooling for m in DEFAULT_MEMBERS] == ["center-avg", "avg+std", "avg"]
    assert [(m.per_crop, m.crop_summary, m.weight) for m in DEFAULT_MEMBERS] == [
        (False, "mean", 1.0), (False, "mean", 1.0), (True, "center-median", 2.0)]  # fmt: skip


def test_score_examples_scores_the_seven_shipped_photos_worst_first(images, tmp_path) -> None:
    from deepfeat_iqa.cli import app

    path = dfi.save_model(dfi.fit(images, head="combination", **SMALL), tmp_path / "combo.dfi")
    out = tmp_path / "examples.csv"
    result = CliRunner().invoke(app, ["score", "--examples", "--model-file", str(path), "--out", str(out), "--store", "none"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert sorted(Path(p).stem for p in table["path"]) == sorted(["astronaut", "chelsea", "coffee", "rocket", "motorcycle", "china", "flower"])
    shown = [line.split()[0] for line in result.output.splitlines()[1:8]]
    assert shown == table.sort_values("score")["id"].tolist()
    nothing = CliRunner().invoke(app, ["score", "--out", str(out)])
    assert nothing.exit_code != 0 and "--examples" in nothing.output


def test_a_per_crop_member_fits_on_every_crop_and_scores_a_photo_by_its_crops_mean(images, tmp_path) -> None:
    """per_crop=True: the head sees each crop with its photo's score; a photo's score is its crops' mean."""
    from deepfeat_iqa.heads import make_head

    crop = Member(backbone=TINY, weights="random", layers=("stage1", "stage2"), pooling="avg", views="random3@seed1", per_crop=True)
    model = dfi.fit(images, head="combination", members=(crop,), store=None, precision="fp32")
    feats = dfi.extract(images, backbone=TINY, weights="random", layers=["stage1", "stage2"], pooling="avg",
                        views="random3@seed1", precision="fp32", store=None, progress=False)  # fmt: skip
    rows = np.concatenate([np.asarray(feats[layer].per_view) for layer in ("stage1", "stage2")], axis=-1)  # (n, 3, D)
    by_hand = make_head("gpr", blocks=tuple(int(d) for _, d in feats.concat(["stage1", "stage2"]).blocks))
    by_hand.fit(rows.reshape(-1, rows.shape[2]), np.repeat(images.mos, 3))
    expected = by_hand.predict(rows.reshape(-1, rows.shape[2])).reshape(len(images), 3).mean(axis=1)
    (member_scores,) = model.estimator.member_predictions(images).values()
    np.testing.assert_allclose(member_scores, expected, rtol=1e-6)
    scores, sd = model.predict(images, return_std=True)
    assert np.isfinite(scores).all() and (sd > 0).all()
    loaded = dfi.load_model(dfi.save_model(model, tmp_path / "crops.dfi"))
    np.testing.assert_array_equal(loaded.predict(images), model.predict(images))
    assert loaded.estimator.members[0].per_crop


def test_a_center_median_member_scores_a_photo_by_its_crops_weighted_median(images, tmp_path) -> None:
    """crop_summary="center-median": crops nearer the photo's center weigh more, wherever the view cut them."""
    from deepfeat_iqa.backbones import get_config
    from deepfeat_iqa.extraction._block import make_view
    from deepfeat_iqa.heads import make_head
    from deepfeat_iqa.inputs.center_prior import CROP_STRENGTH, center_weights, weighted_median
    from deepfeat_iqa.inputs.images import content_digest, decoded_size

    crop = Member(backbone=TINY, weights="random", layers=("stage2",), pooling="avg", views="random5@seed1", per_crop=True,
                  crop_summary="center-median")  # fmt: skip
    model = dfi.fit(images, head="combination", members=(crop,), store=None, precision="fp32")
    feats = dfi.extract(images, backbone=TINY, weights="random", layers="stage2", pooling="avg", views="random5@seed1",
                        precision="fp32", store=None, progress=False)  # fmt: skip
    rows = np.asarray(feats["stage2"].per_view)  # (n, 5, D)
    by_hand = make_head("gpr").fit(rows.reshape(-1, rows.shape[2]), np.repeat(images.mos, 5))
    per_crop = by_hand.predict(rows.reshape(-1, rows.shape[2])).reshape(len(images), 5)
    view = make_view("random5@seed1", 0, get_config(TINY))
    weights = np.stack([center_weights(view.crop_offsets(*decoded_size(p), content_digest(p)), CROP_STRENGTH) for p in images.paths])
    (member_scores,) = model.estimator.member_predictions(images).values()
    np.testing.assert_allclose(member_scores, weighted_median(per_crop, weights), rtol=1e-6)
    assert not np.allclose(member_scores, per_crop.mean(axis=1))
    scores, sd = model.predict(images, return_std=True)
    assert np.isfinite(scores).all() and (sd > 0).all()
    loaded = dfi.load_model(dfi.save_model(model, tmp_path / "median.dfi"))
    assert loaded.estimator.members[0].crop_summary == "center-median"
    np.testing.assert_array_equal(loaded.predict(images), model.predict(images))


def test_a_member_field_from_a_newer_version_is_a_version_error_naming_the_writer(images, tmp_path) -> None:
    """As this version's ``crop_summary`` would be to 0.2: an unknown member field is refused on load, not ignored."""
    import json
    import zipfile

    from deepfeat_iqa.errors import ModelVersionError

    path = dfi.save_model(dfi.fit(images, head="combination", **SMALL), tmp_path / "newer.dfi")
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    manifest["state"]["params"]["__dict__"]["members"][0]["__dict__"]["crop_rule"] = "something newer"
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(ModelVersionError, match=r"cannot rebuild.*crop_rule.*written with deepfeat-iqa"):
        dfi.load_model(path)


@pytest.mark.parametrize(("spec", "message"), [({"per_crop": True, "crop_summary": "max"}, "not one of"),
                                               ({"crop_summary": "center-median"}, "needs per_crop=True")])  # fmt: skip
def test_bad_crop_summaries_are_refused_naming_the_member(images, spec, message) -> None:
    member = {"backbone": TINY, "weights": "random", "layers": ("stage1",), "pooling": "avg", "views": "random3", **spec}
    with pytest.raises(ConfigError, match=message):
        dfi.fit(images, head="combination", members=(member,), store=None, precision="fp32")


@pytest.mark.parametrize("spec", [{"views": "grid"}, {"views": "random3", "head": "spaq-bl"}])
def test_per_crop_needs_stored_crops_and_a_feature_head(images, spec) -> None:
    member = {"backbone": TINY, "weights": "random", "layers": ("stage1",), "pooling": "avg", "per_crop": True, **spec}
    with pytest.raises(ConfigError, match="per_crop=True"):
        dfi.fit(images, head="combination", members=(member,), store=None, precision="fp32")
