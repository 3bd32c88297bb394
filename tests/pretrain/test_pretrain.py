"""Seed 002's two stages on tiny sets: variants, weights files, the content rule, bad labels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.backbones._trunk import build_trunk
from deepfeat_iqa.pretrain import (
    FineTuneNet,
    PretrainedWeights,
    QualityAwareFineTune,
    QualityAwareNet,
    pretrain,
)

from .conftest import TRUNK

FAST = {"backbone": TRUNK, "weights": "random", "epochs": 1, "batch_size": 4, "crop_size": 64, "resize": 72,
        "num_workers": 0, "progress": False}  # fmt: skip
FINETUNE = {"backbone": TRUNK, "epochs": 1, "batch_size": 4, "crops_per_image": 2, "test_views": "random3", "crop_size": 64,
            "num_workers": 0, "progress": False}  # fmt: skip


def test_two_branch_head_shapes() -> None:
    trunk, _, dims = build_trunk(TRUNK, "random", None, 0)
    x = torch.zeros(2, 3, 64, 64)
    out = QualityAwareNet(trunk, dims[0], "multi", n_classes=39)(x)
    assert out["quality"].shape == (2,) and out["distortion"].shape == (2, 39)
    net = QualityAwareNet(trunk, dims[0], "multi", n_classes=39)
    assert net.rfc2.in_features == 2048 and net.cfc1.out_features == 1024 and net.rfc1.out_features == 1024
    reg = QualityAwareNet(trunk, dims[0], "reg")
    assert "distortion" not in reg(x) and reg.rfc2.in_features == 1024
    assert set(QualityAwareNet(trunk, dims[0], "cls", n_classes=5)(x)) == {"distortion"}
    with pytest.raises(ConfigError, match="variant"):
        QualityAwareNet(trunk, dims[0], "both")
    head = FineTuneNet(trunk, dims[0])
    assert [type(m).__name__ for m in head.head] == ["Dropout", "Linear", "ReLU", "Linear"] and head.head[1].out_features == 256


@pytest.mark.parametrize("variant", ["cls", "reg", "multi"])
def test_pretrain_variants_change_the_trunk(variant, pretrain_set) -> None:
    start = dfi.backbones.build_backbone(TRUNK, "random").model.state_dict()
    weights = pretrain(pretrain_set, variant, **FAST)
    assert weights.variant == variant and weights.references == ("astronaut", "chelsea")
    assert set(weights.tensors) == set(start)
    assert any(not torch.equal(weights.tensors[k], start[k]) for k in start if start[k].is_floating_point())
    assert len(weights.record["history"]) == 1 and np.isfinite(weights.record["history"][0]["loss"])
    if variant != "reg":
        seen = pretrain_set.distortion["type"] + "/" + pretrain_set.distortion["level"].astype(str)
        assert weights.record["classes"] == sorted(set(seen))  # the type/level classes the set holds


def test_weights_file_round_trip_and_extract(pretrain_set, target_set, tmp_path) -> None:
    """Each extraction has its own store (``store=None``), so no comparison below reads a cache hit back: the old
    test extracted both weight sources into one store under one fingerprint and compared a row with itself, and
    passed a pretrain that changed nothing. Features from the pretrained trunk must differ from the start's."""
    weights = pretrain(pretrain_set, "multi", **FAST)
    path = weights.save(tmp_path / "stage1.safetensors")
    again = PretrainedWeights.load(path)
    assert again.fingerprint == weights.fingerprint and again.references == weights.references
    assert again.record["classes"] == weights.record["classes"]
    start = dfi.backbones.build_backbone(TRUNK, "random").weights_sha256
    assert weights.fingerprint != start
    common = {"backbone": TRUNK, "layers": "stage4", "progress": False, "store": None, "precision": "fp32"}
    feats = dfi.extract(target_set.subset([0, 1]), weights=path, **common)
    assert feats.only().key.weights == weights.fingerprint  # the store keys features by the pretrained fingerprint
    in_memory = dfi.extract(target_set.subset([0, 1]), weights=weights, **common)
    np.testing.assert_allclose(in_memory.only().X, feats.only().X, rtol=1e-5)
    untrained = dfi.extract(target_set.subset([0, 1]), weights="random", **common)
    assert untrained.only().key.weights == start
    assert not np.allclose(untrained.only().X, feats.only().X, rtol=1e-3, atol=1e-4)
    with pytest.raises(ConfigError, match=".safetensors"):
        weights.save(tmp_path / "stage1.pt")


def test_finetune_from_stage1_fit_predict_save_load(pretrain_set, target_set, tmp_path) -> None:
    weights = pretrain(pretrain_set, "reg", **FAST)
    model = dfi.fit(target_set, head="quality-aware", weights=weights, **FINETUNE)
    head = model.estimator
    assert head.pretrain_variant_ == "reg" and head.trunk_weights_ == weights.fingerprint
    assert "quality-aware(reg stage-1 sha256:" in QualityAwareFineTune(weights=weights).input_description()["layer"]  # reports name it
    scores = model.predict(target_set)
    assert scores.shape == (len(target_set),) and np.isfinite(scores).all()
    again = dfi.load_model(dfi.save_model(model, tmp_path / "qa.dfi"))
    np.testing.assert_allclose(again.predict(target_set), scores, rtol=1e-4, atol=1e-4)
    assert again.estimator.pretrain_references_ == ["astronaut", "chelsea"]
    from_file = QualityAwareFineTune(weights=weights.save(tmp_path / "w.safetensors"), **FINETUNE).fit(target_set)
    np.testing.assert_allclose(from_file.predict(target_set), scores, rtol=1e-4, atol=1e-4)


def test_finetune_from_imagenet_style_weights_and_seeds(target_set) -> None:
    a = QualityAwareFineTune(weights="random", **FINETUNE).fit(target_set).predict(target_set)
    b = QualityAwareFineTune(weights="random", **FINETUNE).fit(target_set).predict(target_set)
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_content_rule(pretrain_set, target_set) -> None:
    with pytest.raises(DataError, match=r"Content overlap.*'astronaut'"):
        pretrain(pretrain_set, "reg", exclude=pretrain_set.subset([0]), **FAST)
    weights = pretrain(pretrain_set, "reg", exclude=target_set, **FAST)
    head = QualityAwareFineTune(weights=weights, **FINETUNE).fit(target_set)
    with pytest.raises(DataError, match=r"Content overlap.*test images.*'chelsea'"):
        head.predict(pretrain_set.subset([4]))


def test_labels_must_match_the_variant(pretrain_set) -> None:
    no_distortion = replace(pretrain_set, distortion=None)
    with pytest.raises(DataError, match=r"variant 'multi' classifies distortion.*no distortion labels"):
        pretrain(no_distortion, "multi", **FAST)
    with pytest.raises(DataError, match=r"variant 'cls' classifies"):
        pretrain(no_distortion, "cls", **FAST)
    with pytest.raises(DataError, match=r"variant 'reg' regresses pseudo-MOS.*no scores"):
        pretrain(replace(pretrain_set, mos=None), "reg", **FAST)
    with pytest.raises(ConfigError, match="Unknown pretraining variant"):
        pretrain(pretrain_set, "both", **FAST)


def test_authentic_multilabel_pretraining(target_set) -> None:
    weights = pretrain(target_set, "cls", **FAST)
    assert weights.record["multilabel"] and len(weights.record["classes"]) == 26


def test_content_rule_holds_for_ensembles(pretrain_set, target_set, tmp_path) -> None:
    weights = pretrain(pretrain_set, "reg", **FAST)
    model = dfi.fit(target_set, head="quality-aware", weights=weights, ensemble=2, **FINETUNE)
    with pytest.raises(DataError, match="Content overlap"):
        model.predict(pretrain_set.subset([0]))
    again = dfi.load_model(dfi.save_model(model, tmp_path / "ens.dfi"))
    with pytest.raises(DataError, match="Content overlap"):
        again.predict(pretrain_set.subset([0]))


def test_grayscale_image_for_rgb_trunk(tmp_path, target_set) -> None:
    from PIL import Image

    head = QualityAwareFineTune(weights="random", **FINETUNE).fit(target_set)
    gray = tmp_path / "gray.png"
    Image.open(target_set.paths[0]).convert("L").save(gray)
    assert np.isfinite(head.predict(dfi.Dataset.from_paths([gray]))).all()  # replicated to 3 channels


def test_stage1_backbone_must_match(pretrain_set, target_set) -> None:
    weights = pretrain(pretrain_set, "reg", **FAST)
    with pytest.raises(ConfigError, match="stage-1 weights are for 'test_efficientnet'"):
        QualityAwareFineTune(**{**FINETUNE, "backbone": "test_resnet"}, weights=weights).fit(target_set)


@pytest.mark.filterwarnings("ignore:.*test splits hold fewer")
def test_reports_name_the_start_weights(pretrain_set, target_set, tmp_path) -> None:
    """Paired tests and feature keys tell a stage-1 start from ImageNet/random (they once read the same)."""
    from deepfeat_iqa.backbones import fingerprint_state_dict
    from deepfeat_iqa.training._side_tasks import SideTasks

    weights = pretrain(pretrain_set, "multi", **FAST)
    assert "tensor(" not in repr(weights) and weights.fingerprint[:19] in repr(weights)
    head = QualityAwareFineTune(weights=weights, **FINETUNE)
    network, *_ = head.build_network(SideTasks(targets={}), pretrained=True)
    assert fingerprint_state_dict(network.trunk.backbone.state_dict()) == weights.fingerprint  # stage 2 starts there
    splits = dfi.splits.repeated(target_set, n_splits=2, test_size=0.3, seed=0)
    multi = dfi.evaluate(target_set, head="quality-aware", weights=weights, splits=splits, **FINETUNE)
    scratch = dfi.evaluate(target_set, head="quality-aware", weights="random", splits=splits, **FINETUNE)
    key = multi.info["feature_key"]
    assert key["weights"] == weights.fingerprint and key["layer"] == f"end-to-end:quality-aware(multi stage-1 {weights.fingerprint[:19]})"
    assert scratch.info["feature_key"]["layer"] == "end-to-end:quality-aware(random)"
    line = str(dfi.compare(multi, scratch))
    assert f"(multi stage-1 {weights.fingerprint[:19]})]" in line and "(random)]" in line
    fitted = head.fit(target_set)
    assert fitted.input_description() == QualityAwareFineTune(weights=weights, **FINETUNE).input_description()
    path = weights.save(tmp_path / "multi.safetensors")
    assert QualityAwareFineTune(weights=path).input_description()["layer"] == key["layer"]
    again = dfi.load_model(dfi.save_model(dfi.fit(target_set, head=head), tmp_path / "qa.dfi")).estimator
    assert again.input_description()["layer"] == key["layer"]
    other = dfi.backbones.build_backbone(TRUNK, "random", seed=3).model.state_dict()
    assert QualityAwareFineTune(weights=other).input_description()["layer"] == f"end-to-end:quality-aware(in-memory {fingerprint_state_dict(other)[:19]})"
