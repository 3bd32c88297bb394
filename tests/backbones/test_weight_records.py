"""Issue 18 point 6: fine-tuned and pretrained weights save and load under one contract.

One ``.safetensors`` file, the record as JSON metadata under the class's own key, a wrong suffix refused on
save and on load (never silently changed), files of another kind and changed tensors refused on load.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from deepfeat_iqa.backbones import FineTunedWeights, fingerprint_state_dict
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.pretrain import PretrainedWeights


def _tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=generator), "bn.num_batches_tracked": torch.tensor(7)}


def _finetuned() -> FineTunedWeights:
    tensors = _tensors()
    return FineTunedWeights("resnet18", tensors, fingerprint_state_dict(tensors), {"dataset": "clive", "best_val_srocc": 0.81})


def _pretrained() -> PretrainedWeights:
    tensors = _tensors()
    record = {"classes": ["blur/1", "noise/2"], "loss": [1.5, 0.9]}
    return PretrainedWeights("resnet18", "multi", tensors, ("ref1", "ref2"), fingerprint_state_dict(tensors), record)


MAKERS = {"finetuned": _finetuned, "pretrained": _pretrained}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_round_trip_keeps_tensors_and_record(kind: str, tmp_path: Path) -> None:
    weights = MAKERS[kind]()
    path = weights.save(tmp_path / "sub" / "w.safetensors")
    assert path == tmp_path / "sub" / "w.safetensors" and not path.with_name("w.safetensors.part").exists()
    again = type(weights).load(path)
    assert type(again) is type(weights) and again.fingerprint == weights.fingerprint
    assert again.tensors.keys() == weights.tensors.keys()
    assert all(torch.equal(again.tensors[k], weights.tensors[k]) for k in weights.tensors)
    for name in ("backbone", "info", "variant", "references", "record"):
        if hasattr(weights, name):
            assert getattr(again, name) == getattr(weights, name), name


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_a_wrong_suffix_is_refused_naming_the_path_and_the_suffix(kind: str, tmp_path: Path) -> None:
    weights = MAKERS[kind]()
    for wrong in ("w", "w.pt"):
        with pytest.raises(ConfigError, match=rf"saved as \.safetensors files; got '.*{wrong}'\. Use '.*w\.safetensors'"):
            weights.save(tmp_path / wrong)
        assert not (tmp_path / wrong).exists() and not (tmp_path / "w.safetensors").exists()
    weights.save(tmp_path / "w.safetensors").rename(tmp_path / "w.pt")
    with pytest.raises(ConfigError, match=r"\.safetensors"):
        type(weights).load(tmp_path / "w.pt")


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_other_files_are_refused_on_load(kind: str, tmp_path: Path) -> None:
    cls = type(MAKERS[kind]())
    other = MAKERS[next(k for k in MAKERS if k != kind)]()
    with pytest.raises(DataError, match="does not exist"):
        cls.load(tmp_path / "missing.safetensors")
    with pytest.raises(DataError, match=rf"not {cls.__name__} .*weights= to dfi.extract"):
        cls.load(other.save(tmp_path / "other.safetensors"))
    save_file(_tensors(), str(tmp_path / "plain.safetensors"))
    with pytest.raises(DataError, match="no '.*' record"):
        cls.load(tmp_path / "plain.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match="not a readable safetensors file"):
        cls.load(tmp_path / "junk.safetensors")


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_tensors_changed_after_saving_are_refused(kind: str, tmp_path: Path) -> None:
    weights = MAKERS[kind]()
    path = weights.save(tmp_path / "w.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    changed = {k: v + 1 if v.is_floating_point() else v for k, v in weights.tensors.items()}
    save_file(changed, str(path), metadata=metadata)
    with pytest.raises(DataError, match="do not match the fingerprint"):
        type(weights).load(path)


def test_pretrained_files_of_the_previous_writer_still_load(tmp_path: Path) -> None:
    """The stage-1 file layout is unchanged: the record's fields as JSON under ``deepfeat_iqa.pretrain``."""
    tensors = _tensors()
    meta = {"backbone": "resnet18", "variant": "reg", "references": ["a"], "fingerprint": fingerprint_state_dict(tensors), "record": {}}
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata={"deepfeat_iqa.pretrain": json.dumps(meta)})
    loaded = PretrainedWeights.load(tmp_path / "old.safetensors")
    assert loaded.references == ("a",) and loaded.variant == "reg"
