"""Issue 18 point 7: one keyword per thing across the API, the CLI and experiment files; 0.1's names warn.

``backbone=`` (a network's name; ``model`` only ever means a fitted QualityModel), ``layers=``, ``views=``,
``n_splits=`` and the image heads' ``crop_size=``. Each old spelling must give the same result as the new
one, warn with a FutureWarning naming the replacement, and refuse being passed beside it.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import deepfeat_iqa as dfi
from deepfeat_iqa.cli import app
from deepfeat_iqa.cli._renamed import rewrite
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.demo import run_demo
from deepfeat_iqa.heads import make_head

#: public callable -> {old keyword: new keyword}
RENAMED = {
    "extract": {"model": "backbone", "layer": "layers", "crops": "views"},
    "cross": {"model": "backbone", "layer": "layers", "crops": "views"},
    "sweep": {"models": "backbones", "crops": "views", "n": "n_splits"},
    "evaluate": {"n": "n_splits"},
    "finetune": {"model": "backbone"},
}


@pytest.mark.parametrize("name", sorted(RENAMED))
def test_signatures_show_only_the_new_names(name):
    params = inspect.signature(getattr(dfi, name)).parameters
    for old, new in RENAMED[name].items():
        assert new in params and old not in params, (name, old, new)


def test_one_name_per_thing_across_the_public_functions():
    """No public entry point of the flow takes the retired spellings any more."""
    retired = {"model", "models", "layer", "crops", "repeats", "k", "n"}
    functions = [dfi.extract, dfi.cross, dfi.sweep, dfi.evaluate, dfi.finetune, dfi.fit, dfi.pretrain.pretrain,
                 dfi.splits.repeated, dfi.splits.kfold, run_demo]  # fmt: skip
    for function in functions:
        assert not retired & set(inspect.signature(function).parameters), function.__name__
    shared = {"evaluate": dfi.evaluate, "sweep": dfi.sweep}
    assert all("n_splits" in inspect.signature(f).parameters for f in shared.values())


def _ds(n: int = 20) -> Dataset:
    return Dataset(ids=[str(i) for i in range(n)], paths=[f"{i}.png" for i in range(n)], groups=np.arange(n) // 2)


def test_splits_take_n_splits_and_warn_for_n_and_k():
    ds = _ds()
    new = dfi.splits.repeated(ds, n_splits=3, seed=1)
    with pytest.warns(FutureWarning, match=r"repeated\(n=\.\.\.\) is now repeated\(n_splits=\.\.\.\)"):
        old = dfi.splits.repeated(ds, n=3, seed=1)
    assert [s.test.tolist() for s in new] == [s.test.tolist() for s in old]
    with pytest.warns(FutureWarning, match=r"kfold\(k=\.\.\.\) is now kfold\(n_splits=\.\.\.\)"):
        assert len(dfi.splits.kfold(ds, k=4)) == 4
    assert len(dfi.splits.kfold(ds)) == 5  # scikit-learn's KFold default, and evaluate's for protocol="kfold"
    with pytest.raises(TypeError, match=r"both n= .* and n_splits="):
        dfi.splits.repeated(ds, n=3, n_splits=3)


def test_evaluate_n_warns_and_gives_the_same_result():
    rng = np.random.default_rng(0)
    ds = _ds(40).with_scores(rng.normal(size=40)) if hasattr(Dataset, "with_scores") else None
    if ds is None:
        ds = Dataset(ids=[str(i) for i in range(40)], paths=[f"{i}.png" for i in range(40)], mos=rng.normal(size=40),
                     groups=np.arange(40) // 2)  # fmt: skip
    from dataclasses import replace

    from deepfeat_iqa.features._sets import FeatureKey, LayerFeatures

    key = FeatureKey(backbone="net", weights="sha256:00", layer="l", pooling="avg", views="center", precision="fp32")
    lf = LayerFeatures(key=replace(key), per_view=rng.normal(size=(40, 1, 4)), dataset=ds)
    new = dfi.evaluate(lf, head="svr", n_splits=3, progress=False)
    with pytest.warns(FutureWarning, match=r"evaluate\(n=\.\.\.\) is now evaluate\(n_splits=\.\.\.\)"):
        old = dfi.evaluate(lf, head="svr", n=3, progress=False)
    assert len(new.per_split) == len(old.per_split) == 3
    assert np.allclose(new.per_split["srocc"], old.per_split["srocc"])
    kfold = dfi.evaluate(lf, head="svr", protocol="kfold", progress=False)
    assert len(kfold.per_split) == 5  # the split function's own default, not 10


def test_extract_old_keywords_warn_and_match(photo_dir: Path):
    common = dict(weights="random", store=None, progress=False, num_workers=0, precision="fp32")
    new = dfi.extract(photo_dir, backbone="resnet18", layers="layer1", views="center", **common)
    with pytest.warns(FutureWarning, match=r"extract\(model=\.\.\.\) is now extract\(backbone=\.\.\.\)"):
        old = dfi.extract(photo_dir, model="resnet18", layer="layer1", crops="center", **common)
    assert np.array_equal(new["layer1"].X, old["layer1"].X)
    with pytest.raises(TypeError, match="both model="):
        dfi.extract(photo_dir, model="resnet18", backbone="resnet18", **common)


def test_image_heads_take_crop_size_and_warn_for_crop():
    assert make_head("cnniqa").get_params()["crop_size"] == 32
    with pytest.warns(FutureWarning, match=r"CNNIQA\(crop=\.\.\.\) is now CNNIQA\(crop_size=\.\.\.\)"):
        head = make_head("cnniqa", crop=40)
    assert head.crop_size == 40 and "crop" not in head.get_params()


def test_model_files_written_with_crop_are_read_as_crop_size():
    from deepfeat_iqa.heads._state import restore_object
    from deepfeat_iqa.heads.image import CNNIQA

    head = restore_object(CNNIQA, {"crop": 48, "epochs": 2})
    assert head.crop_size == 48 and not hasattr(head, "crop")


def test_cli_rewrites_old_flags_and_says_so(photo_dir: Path):
    args, notes = rewrite(["extract", "x", "--model", "resnet18", "--layer=layer1", "--crops", "center", "--", "--model"])
    assert args == ["extract", "x", "--backbone", "resnet18", "--layers=layer1", "--views", "center", "--", "--model"]
    assert notes == [f"warning: {old} is now {new}; the old flag goes in 0.3." for old, new in
                     (("--model", "--backbone"), ("--layer", "--layers"), ("--crops", "--views"))]  # fmt: skip
    assert rewrite(["score", "--model-file", "m.dfi"]) == (["score", "--model-file", "m.dfi"], [])
    result = CliRunner().invoke(app, ["extract", str(photo_dir), "--model", "resnet18", "--weights", "random", "--layer", "layer1",
                                      "--store", "none", "--num-workers", "0", "--precision", "fp32"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "layer1: " in result.stdout and "warning: --model is now --backbone" in result.stderr
    help_text = CliRunner().invoke(app, ["extract", "--help"]).output
    assert "--backbone" in help_text and "--views" in help_text and "--crops" not in help_text


def test_experiment_files_read_old_keys_with_a_warning(tmp_path: Path):
    from deepfeat_iqa.studies._experiments import load_experiment

    text = '[experiment]\nkind = "sweep"\n[datasets]\nlive = "live"\n[sweep]\nmodels = ["resnet10t"]\ncrops = "center"\nn = 2\n'
    (tmp_path / "old.toml").write_text(text)
    with pytest.warns(FutureWarning, match=r"\[sweep\] models = \.\.\. is now backbones = \.\.\."):
        experiment = load_experiment(tmp_path / "old.toml")
    assert experiment.settings == {"backbones": ["resnet10t"], "views": "center", "n_splits": 2}
    (tmp_path / "both.toml").write_text(text + 'backbones = ["resnet18"]\n')
    with pytest.raises(dfi.errors.ConfigError, match="both models .* and backbones"):
        load_experiment(tmp_path / "both.toml")


def test_warnings_from_a_renamed_function_point_at_the_callers_line():
    """The keyword shim adds a frame; warnings must still name the user's file, not ``_moved.py``."""
    import warnings

    from deepfeat_iqa.features._sets import FeatureKey, LayerFeatures

    rng = np.random.default_rng(0)
    ds = Dataset(ids=[str(i) for i in range(30)], paths=[f"{i}.png" for i in range(30)], mos=rng.normal(size=30),
                 groups=np.arange(30))  # fmt: skip
    key = FeatureKey(backbone="net", weights="sha256:00", layer="l", pooling="avg", views="center", precision="fp32")
    lf = LayerFeatures(key=key, per_view=rng.normal(size=(30, 1, 3)), dataset=ds)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dfi.evaluate(lf, head="svr", n_splits=2, progress=False)  # 6 test images per split: a small-test warning
    small = [w for w in caught if "fewer than 20 images" in str(w.message)]
    assert small and all(w.filename == __file__ for w in small), [w.filename for w in small]
