"""Issue 13 item 5: one vocabulary for heads, seeds, devices and target scales; old names warn for a release."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.svm

from deepfeat_iqa import heads
from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads import GPR, LinearSVRHead, MultitaskMLP, RBFSVRHead, make_head


def test_registry_names_match_the_classes():
    assert type(make_head("svr")) is type(make_head("linear-svr")) is LinearSVRHead
    assert type(make_head("rbf-svr")) is RBFSVRHead
    assert "LinearSVR" not in heads.__all__ and "SVR" not in heads.__all__


@pytest.mark.parametrize(("old", "new", "registry"), [("LinearSVR", LinearSVRHead, "linear-svr"), ("SVR", RBFSVRHead, "rbf-svr")])
def test_old_class_names_still_work_with_a_deprecation_warning(old, new, registry):
    with pytest.warns(DeprecationWarning, match=rf"{old} is now {new.__name__}.*make_head\('{registry}'\)"):
        cls = getattr(heads, old)
    assert cls is new and cls is not getattr(sklearn.svm, old)


def test_every_head_takes_random_state_and_mlp_seed_is_deprecated():
    for name in ("svr", "rbf-svr", "gpr", "mlp"):
        assert "random_state" in make_head(name).get_params(), name
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    fast = dict(hidden=(4,), max_epochs=3, device="cpu")
    new = MultitaskMLP(random_state=3, **fast).fit(X, y)
    with pytest.warns(DeprecationWarning, match="random_state"):
        old = MultitaskMLP(seed=3, **fast).fit(X, y)
    assert np.array_equal(new.predict(X), old.predict(X))
    assert not np.array_equal(new.predict(X), MultitaskMLP(random_state=4, **fast).fit(X, y).predict(X))


def test_one_target_scale_name_across_heads():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), 10 + 5 * rng.normal(size=30)
    fitted = [LinearSVRHead(C=1.0).fit(X, y), GPR(max_iter=3, device="cpu").fit(X, y), MultitaskMLP(hidden=(4,), max_epochs=2, device="cpu").fit(X, y)]
    for model in fitted:
        assert model.y_mean_ == pytest.approx(y.mean()) and model.y_std_ == pytest.approx(y.std()), type(model).__name__
    with pytest.warns(DeprecationWarning, match="y_std_"):
        assert fitted[2].y_scale_ == fitted[2].y_std_


def test_one_device_default(monkeypatch):
    assert GPR().device is None and MultitaskMLP().device is None
    import torch

    for available, expected in ((False, "cpu"), (True, "cuda")):  # both branches, whatever this machine has
        monkeypatch.setattr(torch.cuda, "is_available", lambda available=available: available)
        assert resolve_device(None) == resolve_device("auto") == resolve_device(" Auto ") == torch.device(expected)
    monkeypatch.undo()
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="is not a torch device"):
        resolve_device("gpu0")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_gpu_is_one_line_that_says_what_was_found():
    with pytest.raises(ConfigError) as error:
        resolve_device("cuda", option="--device")
    message = str(error.value)
    assert "\n" not in message and message.startswith("--device cuda asks for a GPU") and "finds no CUDA device" in message


def test_model_files_databases_and_synthetic_sets_have_distinct_loaders(tmp_path):
    import deepfeat_iqa as dfi
    from deepfeat_iqa import persist, synth

    assert dfi.load_model is persist.load and dfi.save_model is persist.save
    assert "load" not in dfi.__all__ and "load_model" in dfi.__all__
    for old, new in (("load", persist.load), ("save", persist.save)):
        with pytest.warns(DeprecationWarning, match=f"dfi.{old} is now dfi.{old}_model"):
            assert getattr(dfi, old) is new
    assert "synth" in dfi.datasets.list_datasets()
    with pytest.warns(DeprecationWarning, match=r'datasets.load\("synth"'):
        old_loader = synth.load
    with pytest.raises(dfi.errors.DataError, match="labels.csv"):
        dfi.datasets.load("synth", root=tmp_path)
    with pytest.raises(dfi.errors.DataError, match="labels.csv"):
        old_loader(tmp_path)
