"""dfi.evaluate / evaluate_cross / compare and EvaluationResult reports on synthetic features."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor

from deepfeat_iqa.datasets import Scale
from deepfeat_iqa.errors import ConfigError, DataError, FeatureKeyError
from deepfeat_iqa.evaluation._evaluate import compare, evaluate, evaluate_cross
from deepfeat_iqa.features._sets import LayerFeatures
from deepfeat_iqa.evaluation.results import EvaluationResult
from deepfeat_iqa.datasets.splits import Split
from helpers.plots import assert_png_not_blank, captured_figures


def test_repeated_is_deterministic_and_content_separated(feats: LayerFeatures) -> None:
    result = evaluate(feats, head=Ridge(), n_splits=4, seed=3, progress=False)
    again = evaluate(feats, head=Ridge(), n_splits=4, seed=3, progress=False)
    pd.testing.assert_frame_equal(result.per_split, again.per_split)
    assert result.n_splits == 4 and result.signatures == again.signatures
    assert list(result.aggregate.index) == ["mean", "sd", "median"]
    assert result.aggregate.loc["mean", "srocc"] > 0.9
    group_of = dict(zip(feats.dataset.ids, feats.groups))
    for split, frame in result.predictions.groupby("split"):
        test_groups = {group_of[i] for i in frame["id"]}
        train_groups = set(feats.groups) - test_groups
        assert result.per_split.loc[split, "n_train"] == sum(group_of[i] in train_groups for i in feats.dataset.ids)
        assert len(frame) == result.per_split.loc[split, "n_test"] == 3 * len(test_groups)
    assert result.info["protocol"] == "repeated" and result.info["seed"] == 3
    assert result.info["feature_key"]["backbone"] == "resnet50" and result.info["head"] == "Ridge"


def test_reports_are_written(feats: LayerFeatures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = evaluate(feats, head=Ridge(), n_splits=3, progress=False)
    line = result.summary()
    assert line.startswith("SROCC 0.") and "| PLCC" in line and "| RMSE" in line and "3 splits, test size 0.2)" in line
    markdown = result.to_markdown()
    assert "## Per split" in markdown and "| mean" in markdown and "|   split |   n_train |" in markdown
    assert "- head parameters: alpha=1.0, copy_X=True" in markdown and "\"'" not in markdown
    document = json.loads(result.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == document
    assert set(document["aggregate"]) == {"mean", "sd", "median"} and len(document["per_split"]) == 3
    written = result.plot(tmp_path / "plots")
    assert [p.name.rsplit("_", 1)[-1] for p in written] == ["scatter.png", "residuals.png", "qq.png"]
    # By content, not "a PNG over 1000 bytes": the scatter holds every pooled test prediction, and the title
    # names the head, the dataset, the backbone/layer and that count (helpers/plots.py).
    figures = captured_figures(monkeypatch)
    written = result.plot(tmp_path / "plots2")
    scatter = figures[written[0].name].axes[0]
    np.testing.assert_array_equal(scatter.collections[0].get_offsets(), result.predictions[["y_pred", "y_true"]].to_numpy())
    title = " ".join(scatter.get_title().split())
    key = result.info["feature_key"]
    assert title.startswith(f"Ridge on {result.info['dataset']}, {key['backbone']}") and key["layer"] in title, title
    assert f"{len(result.predictions)} test predictions, 3 splits" in title
    for path in written:
        assert_png_not_blank(path)


def test_kfold_tests_every_image_once(feats: LayerFeatures) -> None:
    result = evaluate(feats, head=Ridge(), protocol="kfold", n_splits=4, progress=False)
    assert sorted(result.predictions["id"]) == sorted(feats.dataset.ids)


def test_explicit_and_spelled_out_protocols(feats: LayerFeatures) -> None:
    splits = [Split(np.arange(0, 45), np.arange(45, 60)), Split(np.arange(15, 60), np.arange(0, 15))]
    result = evaluate(feats, head=Ridge(), splits=splits, progress=False)
    assert result.info["protocol"] == "explicit" and result.per_split["n_test"].tolist() == [15, 15]
    with pytest.raises(ConfigError, match="either protocol= or explicit splits="):
        evaluate(feats, head=Ridge(), protocol="kfold", splits=splits)
    with pytest.raises(DataError, match="both train and test"):
        evaluate(feats, head=Ridge(), splits=[Split(np.arange(0, 40), np.arange(30, 60))])
    a = evaluate(feats, head=Ridge(), protocol="repeated-75-25", n_splits=2, progress=False)
    b = evaluate(feats, head=Ridge(), protocol="repeated", test_size=0.25, n_splits=2, progress=False)
    assert a.signatures == b.signatures
    with pytest.raises(ConfigError, match="Did you mean 'kfold'"):
        evaluate(feats, head=Ridge(), protocol="kfolds")


def test_official_split(feats: LayerFeatures) -> None:
    marks = np.where(np.arange(len(feats)) < 45, "train", "test")
    lf = replace(feats, dataset=replace(feats.dataset, official_split=marks))
    result = evaluate(lf, head=Ridge(), protocol="official", progress=False)
    assert result.n_splits == 1 and result.per_split.loc[0, "n_test"] == 15


def test_parallel_matches_serial(feats: LayerFeatures) -> None:
    serial = evaluate(feats, head=Ridge(), n_splits=2, progress=False)
    with joblib.parallel_config(backend="threading"):  # the same code path, without spawning processes
        parallel = evaluate(feats, head=Ridge(), n_splits=2, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial.per_split, parallel.per_split)


@pytest.mark.slow
def test_parallel_in_real_worker_processes_matches_serial(feats: LayerFeatures) -> None:
    """Once with loky's worker processes: estimators, features and datasets must survive pickling."""
    serial = evaluate(feats, head="svr", n_splits=2, progress=False)
    with joblib.parallel_config(backend="loky"):
        parallel = evaluate(feats, head="svr", n_splits=2, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial.per_split, parallel.per_split)
    pd.testing.assert_frame_equal(serial.predictions, parallel.predictions)


def test_compare_on_the_same_splits(feats: LayerFeatures) -> None:
    good = evaluate(feats, head=Ridge(), n_splits=5, progress=False)
    poor = evaluate(feats, head=KNeighborsRegressor(n_neighbors=1), n_splits=5, progress=False)
    outcome = compare(good, poor)
    assert outcome.verdict == 1 and outcome.p_value < 0.05
    assert str(outcome).startswith("Ridge [resnet50/layer3] is significantly better than KNeighborsRegressor")
    assert compare(poor, good, metric="rmse").verdict == -1
    statistic, p_value, verdict = compare(good, good)[:3]
    assert verdict == 0
    other_seed = evaluate(feats, head=Ridge(), n_splits=5, seed=1, progress=False)
    with pytest.raises(DataError, match="different splits"):
        compare(good, other_seed)
    with pytest.raises(ConfigError, match="Unknown metric"):
        compare(good, poor, metric="accuracy")


def test_compare_constructed_results() -> None:
    def result(values: list[float]) -> EvaluationResult:
        table = pd.DataFrame({"n_train": 8, "n_test": 2, "srocc": values, "plcc": values, "krocc": values, "rmse": values})
        return EvaluationResult(table.rename_axis("split"), pd.DataFrame(), {"head": "h"}, ("s1", "s2", "s3", "s4"))

    a, b = result([0.91, 0.92, 0.90, 0.93]), result([0.85, 0.86, 0.85, 0.88])
    assert compare(a, b).verdict == 1 and compare(b, a).verdict == -1
    assert "indistinguishable" in str(compare(a, result([0.92, 0.90, 0.93, 0.91])))


def test_cross_dataset_uses_z_scores(make_feats) -> None:
    train = make_feats(seed=0, name="mosdb")
    test = make_feats(seed=1, name="dmosdb", scale=Scale(0, 100, False, "DMOS"))
    result = evaluate_cross(train, test, head=Ridge(), progress=False)
    assert result.info["protocol"] == "cross" and result.info["dataset"] == "mosdb->dmosdb"
    y_true = result.predictions["y_true"]
    assert abs(y_true.mean()) < 1e-9 and abs(y_true.std(ddof=0) - 1) < 1e-9
    assert result.per_split.loc[0, "srocc"] > 0.9  # DMOS flipped, so agreement reads positive
    other = LayerFeatures(key=replace(test.key, backbone="vgg16"), per_view=test.per_view, dataset=test.dataset)
    with pytest.raises(FeatureKeyError, match="backbone"):
        evaluate_cross(train, other, head=Ridge())


def test_summaries_read_as_tables_with_splits_and_test_size(make_feats) -> None:
    from deepfeat_iqa.evaluation.results import markdown_table, summary_table

    a, b = make_feats(seed=0, name="a"), make_feats(seed=1, name="b")
    repeated = evaluate(a, head=Ridge(), n_splits=3, test_size=0.25, progress=False)
    cross = evaluate_cross(a, b, head=Ridge(), progress=False)
    line = cross.summary()
    assert "±" not in line and "n/a" not in line and line.endswith("(Ridge, resnet50/layer3, 1 split: train on a, test on b)")
    table = summary_table([repeated, cross])
    assert list(table.columns[:8]) == ["head", "backbone", "layer", "pooling", "dim", "dataset", "splits", "test_size"]
    assert table["dim"].tolist() == [8, 8] and table["splits"].tolist() == [3, 1]
    assert table.loc[0, "test_size"] == 0.25 and pd.isna(table.loc[1, "srocc_sd"])
    text = markdown_table(table)
    assert "|     8 |" in text and "8.000" not in text and "('" not in text
    assert "## Aggregate over splits" not in cross.to_markdown()
