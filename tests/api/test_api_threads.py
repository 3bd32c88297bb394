"""Issue 13 item 4: small head fits and predictions run on one thread per library (no oversubscription)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from threadpoolctl import threadpool_info

from deepfeat_iqa.runtime import threads
from deepfeat_iqa.api import fit, fit_estimator
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.evaluation._evaluate import evaluate


class ThreadProbe(RegressorMixin, BaseEstimator):
    """Records the thread counts it sees while fitting and predicting."""

    def fit(self, X, y):  # noqa: N803
        self.seen_fit_ = (torch.get_num_threads(), {p["num_threads"] for p in threadpool_info()})
        return self

    def predict(self, X):  # noqa: N803
        self.seen_predict_ = (torch.get_num_threads(), {p["num_threads"] for p in threadpool_info()})
        return np.zeros(len(X))


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_rule_and_override(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    assert threads.head_threads(273) == 1 and threads.head_threads(threads.SINGLE_THREAD_BELOW) is None
    monkeypatch.setenv(threads.THREADS_ENV, "0")
    assert threads.head_threads(10) is None
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    assert threads.head_threads(10**6) == 3
    monkeypatch.setenv(threads.THREADS_ENV, "many")
    with pytest.raises(ConfigError, match="thread count"):
        threads.head_threads(10)


def test_small_fits_and_predictions_use_one_thread_and_restore(feats, monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    torch.set_num_threads(2)
    before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    model = fit(feats, head=ThreadProbe())
    model.predict(feats)
    assert model.estimator.seen_fit_ == (1, {1}) and model.estimator.seen_predict_ == (1, {1})
    assert torch.get_num_threads() == 2 and {p["filepath"]: p["num_threads"] for p in threadpool_info()} == before


def test_override_zero_keeps_library_defaults(feats, monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "0")
    torch.set_num_threads(2)
    probe = ThreadProbe()
    fit_estimator(probe, feats.X, feats.y, feats.blocks, feats.dataset)
    assert probe.seen_fit_[0] == 2


class ImageThreadProbe(RegressorMixin, BaseEstimator):
    """An image head (it reads the Dataset) that records the thread counts its predictions ran with."""

    _dfi_consumes = "images"
    seen_predict: list = []  # evaluate clones the head per split, so the record is kept on the class

    def fit(self, X, y):  # noqa: N803
        return self

    def predict(self, X):  # noqa: N803
        type(self).seen_predict.append((torch.get_num_threads(), {p["num_threads"] for p in threadpool_info()}))
        return np.arange(len(X), dtype=float)


def test_evaluate_predicts_an_image_head_on_the_threads_quality_model_predict_uses(feats, monkeypatch):
    """One rule decides a head's prediction threads (``head_threads_for``): evaluate used the row rule for every
    head, so an image head predicted on one thread inside evaluate and on every core in QualityModel.predict."""
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    torch.set_num_threads(2)
    ImageThreadProbe.seen_predict = []
    fit(feats, head=ImageThreadProbe()).predict(feats.dataset)
    [from_model] = ImageThreadProbe.seen_predict
    ImageThreadProbe.seen_predict = []
    with pytest.warns(UserWarning):  # small test sets
        evaluate(feats.dataset, head=ImageThreadProbe(), n_splits=2, progress=False)
    assert from_model[0] == 2 and ImageThreadProbe.seen_predict == [from_model, from_model]
