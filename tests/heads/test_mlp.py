"""MultitaskMLP: scikit-learn conformance, each seed-001/002 task on synthetic data, determinism, errors."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.heads._mlp import MultitaskMLP
from deepfeat_iqa.training._side_tasks import ExifEncoder

torch.set_num_threads(1)

# Small and quick, but enough epochs to pass check_regressors_train's R^2 > 0.5.
FAST = dict(hidden=(32,), max_epochs=40, batch_size=32, lr=1e-2, patience=10, device="cpu")


@parametrize_with_checks([MultitaskMLP(**FAST)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _features(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _quality(X: np.ndarray) -> np.ndarray:
    return 50.0 + 10.0 * X[:, 0] - 5.0 * X[:, 1] + 3.0 * np.tanh(X[:, 2])


def _exif(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "exposure_time": np.exp(rng.uniform(np.log(1 / 2000), np.log(1 / 4), n)),
            "iso": np.exp(rng.uniform(np.log(50), np.log(3200), n)).round(),
            "f_number": rng.choice([1.8, 2.2, 2.8], n),
            "flash": rng.integers(0, 2, n),
        }
    )


def _exif_effect(exif: pd.DataFrame) -> np.ndarray:
    # Long exposures and high ISO (dim scenes, shake, noise) lower quality; the offset is linear in the logs.
    return -4.0 * (np.log(exif["exposure_time"]) + 4.5) - 3.0 * (np.log(exif["iso"]) - 5.8)


def test_exif_offset_beats_no_exif_and_falls_back_to_generic():
    X, exif = _features(500), _exif(500)
    y = _quality(X) + _exif_effect(exif)
    train, test = slice(0, 400), slice(400, None)
    with_exif = MultitaskMLP(**FAST).fit(X[train], y[train], exif=exif.iloc[train])
    without = MultitaskMLP(**FAST).fit(X[train], y[train])

    mae_exif = np.abs(with_exif.predict(X[test], exif=exif.iloc[test]) - y[test]).mean()
    mae_plain = np.abs(without.predict(X[test]) - y[test]).mean()
    assert mae_exif < 0.6 * mae_plain
    assert with_exif.tasks_ == ("quality", "exif")

    generic = with_exif.predict(X[test])
    tasks = with_exif.predict_tasks(X[test], exif=exif.iloc[test])
    assert np.isfinite(generic).all()
    np.testing.assert_allclose(generic, tasks["generic"])
    np.testing.assert_allclose(tasks["quality"], tasks["generic"] + tasks["offset"])
    # The generic score tracks the image part of quality as well as a model trained without EXIF does.
    assert np.corrcoef(generic, _quality(X[test]))[0, 1] > 0.9


def test_exif_missing_values_and_text_are_encoded():
    table = pd.DataFrame(
        {
            "ExposureTime": ["1/125", "1/30 s", None, "0.5"],
            "ISOSpeedRatings": [100, 800, np.nan, 0],
            "Flash": ["Fired", "Did not fire", "no", None],
            "DateTimeOriginal": ["2018:08:23 06:00:00", "2018:08:23 18:00:00", None, "2019:01:01 12:30:00"],
        }
    )
    encoder = ExifEncoder.fit(table)
    assert encoder.kinds == ("log", "log", "linear", "hour")
    encoded = encoder.transform(table)
    assert encoded.shape == (4, encoder.n_outputs) == (4, 9)
    assert np.isfinite(encoded).all()
    present = encoded[:, [1, 3, 5, 8]]  # one mask column after each tag's values
    np.testing.assert_array_equal(present, [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 0], [1, 0, 0, 1]])
    np.testing.assert_allclose(encoded[:2, 6:8], [[1, 0], [-1, 0]], atol=1e-6)  # 6 h and 18 h on the clock
    with pytest.raises(DataError, match="lacks the columns"):
        encoder.transform(table.drop(columns="Flash"))


def test_scene_uncertainty_weights_are_learned():
    X = _features(300)
    rng = np.random.default_rng(6)
    # Half the scene labels follow the features, half are noise: a task the model should learn to down-weight.
    labels = np.where(rng.random(300) < 0.5, (X[:, 3] > 0).astype(int) + 2 * (X[:, 4] > 0), rng.integers(0, 9, 300))
    scenes = np.zeros((300, 9))
    scenes[np.arange(300), labels] = 1
    scenes[:50, 8] = 1  # some images carry two labels (1/2 each)
    model = MultitaskMLP(**FAST).fit(X, _quality(X), scenes=scenes)

    history = model.task_log_sigma_history_
    assert history.shape == (model.n_epochs_, 2)
    np.testing.assert_allclose(history[model.best_epoch_ - 1], list(model.task_log_sigma_.values()))
    # Both start at log sigma = 0; the well-fit quality task sharpens (sigma_1 ~ its L1), the noisy scenes relax.
    assert model.task_log_sigma_["quality"] < -0.5
    assert model.task_log_sigma_["scenes"] > 0.3
    probabilities = model.predict_tasks(X)["scenes"]
    assert probabilities.shape == (300, 9)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_attribute_outputs_track_true_attributes():
    X = _features(500)
    rng = np.random.default_rng(2)
    names = ["brightness", "colorfulness", "contrast", "noisiness", "sharpness"]
    attributes = pd.DataFrame(50 + 10 * X[:, :5] + rng.normal(scale=2, size=(500, 5)), columns=names)
    model = MultitaskMLP(**FAST).fit(X[:400], _quality(X[:400]), attributes=attributes.iloc[:400])

    predicted = model.predict_tasks(X[400:])["attributes"]
    assert list(predicted.columns) == names
    for name in names:
        assert np.corrcoef(predicted[name], attributes[name].iloc[400:])[0, 1] > 0.8, name


def test_distortion_type_level_classification():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, 400)
    centers = rng.normal(scale=3.0, size=(6, 8))
    X = centers[labels] + rng.normal(size=(400, 8))
    table = pd.DataFrame({"type": np.array(["blur", "noise", "jpeg"])[labels // 2], "level": 1 + labels % 2})
    model = MultitaskMLP(**FAST).fit(X[:300], _quality(X[:300]), distortion=table.iloc[:300])

    assert len(model.distortion_classes_) == 6 and not model.distortion_multilabel_
    predicted = model.predict_tasks(X[300:])["distortion_class"]
    truth = (table["type"] + "/" + table["level"].astype(str)).to_numpy()[300:]
    assert (predicted == truth).mean() > 0.8  # chance is 1/6


def test_distortion_multi_hot_classification():
    X = _features(400)
    multi_hot = (X[:, :4] > 0).astype(int)
    model = MultitaskMLP(**FAST).fit(X[:300], _quality(X[:300]), distortion=multi_hot[:300])

    assert model.distortion_multilabel_
    probabilities = model.predict_tasks(X[300:])["distortion"].to_numpy()
    assert ((probabilities > 0.5) == multi_hot[300:]).mean() > 0.85  # chance is 1/2


def test_seeded_fits_are_identical_and_pickle_round_trips(tmp_path):
    X = _features(200)
    y = _quality(X)
    scenes = (X[:, 3:6] > 0).astype(int)
    scenes[scenes.sum(axis=1) == 0, 0] = 1
    first = MultitaskMLP(**FAST).fit(X, y, scenes=scenes)
    second = MultitaskMLP(**FAST).fit(X, y, scenes=scenes)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    other_seed = MultitaskMLP(**{**FAST, "random_state": 1}).fit(X, y, scenes=scenes)
    assert not np.array_equal(first.predict(X), other_seed.predict(X))

    joblib.dump(first, tmp_path / "mlp.joblib")
    loaded = joblib.load(tmp_path / "mlp.joblib")
    np.testing.assert_array_equal(loaded.predict(X), first.predict(X))
    pd.testing.assert_frame_equal(loaded.predict_tasks(X)["scenes"], first.predict_tasks(X)["scenes"])


def test_early_stopping_on_a_plateau():
    X = _features(200)
    noise = np.random.default_rng(4).normal(size=200)
    model = MultitaskMLP(**{**FAST, "max_epochs": 200, "patience": 5}).fit(X, noise)
    assert model.n_epochs_ < 200
    assert model.best_epoch_ <= model.n_epochs_ - 5
    assert len(model.val_loss_history_) == model.n_epochs_


def test_blocks_are_standardized_separately():
    X = np.hstack([_features(200, 6), 100 * _features(200, 2, seed=5)])
    model = MultitaskMLP(**{**FAST, "blocks": (6, 2)}).fit(X, _quality(X))
    assert model.standardizer_.blocks_ == (6, 2)
    with pytest.raises(ConfigError, match="blocks"):
        MultitaskMLP(**{**FAST, "blocks": (6, 3)}).fit(X, _quality(X))


@pytest.mark.parametrize(
    ("side", "value", "message"),
    [
        ("attributes", np.ones((10, 5)), "`attributes` has 10 rows but X has 40"),
        ("scenes", np.ones((39, 9)), "`scenes` has 39 rows"),
        ("exif", np.ones((41, 3)), "`exif` has 41 rows"),
        ("attributes", np.where(np.eye(40, 5) > 0, np.nan, 1.0), "`attributes` column 'attribute0' has 1 missing"),
        ("scenes", np.zeros((40, 9)), "`scenes`: 40 images have no scene label"),
        ("distortion", pd.DataFrame({"type": [None] * 40}), "`distortion` column 'type' is missing"),
        ("distortion", np.full((40, 3), 2.0), "multi-hot 0/1"),
    ],
)
def test_bad_side_labels_name_the_field(side, value, message):
    X = _features(40)
    with pytest.raises(DataError, match=message):
        MultitaskMLP(**FAST).fit(X, _quality(X), **{side: value})


def test_bad_inputs_and_settings_raise_clear_errors():
    X = _features(40)
    y = _quality(X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MultitaskMLP(**FAST).fit(np.where(np.eye(40, 8) > 0, np.nan, X), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MultitaskMLP(**FAST).fit(X, y[:30])
    model = MultitaskMLP(**FAST).fit(X, y)
    with pytest.raises(ConfigError, match="fitted without exif"):
        model.predict(X, exif=_exif(40))
    with pytest.raises(ConfigError, match="hidden"):
        MultitaskMLP(**{**FAST, "hidden": (0,)}).fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="finds no CUDA device"):
            MultitaskMLP(**{**FAST, "device": "cuda"}).fit(X, y)


def test_linear_heads_without_trunk_serve_every_task():
    X = _features(120)
    table = pd.DataFrame({"type": np.where(X[:, 5] > 0, "blur", "noise")})
    model = MultitaskMLP(**{**FAST, "hidden": ()}).fit(
        X, _quality(X), attributes=X[:, :2], exif=_exif(120), scenes=np.eye(3)[np.arange(120) % 3], distortion=table
    )
    assert model.tasks_ == ("quality", "attributes", "exif", "scenes", "distortion")
    tasks = model.predict_tasks(X, exif=_exif(120))
    assert set(tasks) == {"quality", "generic", "offset", "attributes", "scenes", "distortion", "distortion_class"}
    assert np.corrcoef(tasks["generic"], _quality(X))[0, 1] > 0.9
