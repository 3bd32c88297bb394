"""SPAQ's variants on a tiny trunk, and model-file state without pickle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

from deepfeat_iqa.errors import DataError
from deepfeat_iqa.heads import SpaqHead, make_head

from .conftest import FAST


def _with_side_labels(ds):
    rng = np.random.default_rng(0)
    n = len(ds)
    ds.attributes = pd.DataFrame(rng.normal(size=(n, 5)), columns=["bright", "color", "contrast", "noise", "sharp"])
    ds.exif = pd.DataFrame({"ExposureTime": ["1/125"] * (n - 1) + [None], "ISO": rng.integers(50, 800, n)})
    scenes = np.zeros((n, 3))
    scenes[np.arange(n), np.arange(n) % 3] = 1
    ds.scenes = pd.DataFrame(scenes, columns=["portrait", "night", "sky"])
    return ds


@pytest.mark.parametrize("name", ["spaq-mt-e", "spaq-mt-a", "spaq-mt-s"])
def test_multitask_variants_train_on_their_side_label(images, name):
    from dataclasses import replace

    ds = _with_side_labels(replace(images))
    model = make_head(name, epochs=1, **FAST)
    model.fit(ds, exif=ds.exif, attributes=ds.attributes, scenes=ds.scenes)
    out = model._outputs(ds, exif=ds.exif if name == "spaq-mt-e" else None)
    assert np.isfinite(out["quality"]).all()
    if name == "spaq-mt-e":  # without EXIF, MT-E gives the generic score (it reduces to BL)
        assert np.allclose(model.predict(ds), out["generic"] * model.y_std_ + model.y_mean_)
        assert not np.allclose(model.predict(ds, exif=ds.exif), model.predict(ds))
    if name == "spaq-mt-a":
        assert out["attributes"].shape == (len(ds), 5)
    if name == "spaq-mt-s":
        assert out["scenes"].shape == (len(ds), 3) and model.network_.head.log_sigma is not None


def test_mt_e_fitted_without_exif_is_bl(images):
    mte = make_head("spaq-mt-e", epochs=1, freeze_trunk_epochs=0, **FAST).fit(images)
    bl = make_head("spaq-bl", epochs=1, freeze_trunk_epochs=0, **FAST).fit(images)
    assert mte.network_.head.exif_offset is None
    assert np.allclose(mte.predict(images), bl.predict(images))


def test_a_multitask_variant_without_its_side_label_says_so(images):
    with pytest.raises(DataError, match="MT-A learns from 'attributes'"):
        make_head("spaq-mt-a", **FAST).fit(images)


def test_model_state_round_trips_through_json_and_safetensors(images, tmp_path):
    import json
    from dataclasses import replace

    ds = _with_side_labels(replace(images))
    model = make_head("spaq-mt-e", epochs=1, **FAST).fit(ds, exif=ds.exif)
    config, arrays = model._dfi_state()
    text = json.dumps(config)
    save_file({k: np.asarray(v) for k, v in arrays.items()}, str(tmp_path / "t.safetensors"))
    again = SpaqHead._dfi_from_state(json.loads(text), load_file(str(tmp_path / "t.safetensors")))
    assert np.allclose(again.predict(ds, exif=ds.exif), model.predict(ds, exif=ds.exif))
    assert np.allclose(again.predict(ds), model.predict(ds))


def test_an_ensemble_averages_members_with_consecutive_seeds_and_round_trips(images, tmp_path):
    from safetensors.numpy import load_file, save_file

    model = make_head("spaq-bl", epochs=1, ensemble=2, random_state=4, **FAST).fit(images)
    assert [m.random_state for m in model.members_] == [4, 5]
    expected = np.mean([m.predict(images) for m in model.members_], axis=0)
    assert np.allclose(model.predict(images), expected)
    config, arrays = model._dfi_state()
    save_file({k: np.asarray(v) for k, v in arrays.items()}, str(tmp_path / "e.safetensors"))
    again = SpaqHead._dfi_from_state(config, load_file(str(tmp_path / "e.safetensors")))
    assert np.allclose(again.predict(images), expected)
