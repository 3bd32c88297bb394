"""Seed 002 stage 1: pretrain a backbone on a ``dfi.synth`` set to get quality-aware weights (:func:`pretrain`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.backbones import DEFAULT_BACKBONE, fingerprint_state_dict
from deepfeat_iqa.backbones._records import WeightsRecord
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import DataError
from deepfeat_iqa.training._side_tasks import DistortionEncoder
from deepfeat_iqa.backbones._trunk import build_trunk
from deepfeat_iqa.training import Normalize, Pipeline, TrainData, TrainSettings, fit_network
from deepfeat_iqa.inputs.views import Geometry, parse_views
from deepfeat_iqa.pretrain._nets import PretrainLoss, QualityAwareNet, check_variant

#: Marks a safetensors file as stage-1 weights of ours (the metadata key that holds the record).
METADATA_KEY = "deepfeat_iqa.pretrain"
#: Seed 002 §4.1: images are scaled to 256 x 256 and cut to 224 x 224 in stage 1.
STAGE1_RESIZE = 256


@dataclass
class PretrainedWeights(WeightsRecord):
    """Quality-aware backbone weights from :func:`pretrain`, with what they were trained on.

    ``save(path)`` / ``PretrainedWeights.load(path)``: one ``.safetensors`` file with this record in its
    metadata (:class:`~deepfeat_iqa.backbones._records.WeightsRecord`); other weight files are refused on load
    (they carry no references).

    Attributes
    ----------
    backbone:
        Registry name of the backbone (``"efficientnet_lite0"``, ``"resnet50"``, ...).
    variant:
        ``"cls"``, ``"reg"`` or ``"multi"``.
    tensors:
        Every tensor of the backbone as registered (its unused ImageNet classifier included), so the
        weights load wherever that backbone's weights do: ``dfi.extract(..., weights=...)`` (this object
        or its saved file) and the fine-tuning head's ``weights=``.
    references:
        The content groups (reference photos) the pretraining set was made from; the content rule
        refuses to evaluate on test images of these groups.
    fingerprint:
        ``sha256:`` of the state dict, as the feature store keys weights.
    record:
        Settings, classes, per-epoch loss, and the starting weights.
    """

    metadata_key: ClassVar[str] = METADATA_KEY
    made_by: ClassVar[str] = "dfi.pretrain"

    backbone: str
    variant: str
    tensors: dict[str, torch.Tensor]
    references: tuple[str, ...]
    fingerprint: str
    record: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # the tensors stay out of reports (evaluate records head parameters by repr)
        return (f"PretrainedWeights(backbone={self.backbone!r}, variant={self.variant!r}, "
                f"fingerprint={self.fingerprint[:19]}..., references={len(self.references)})")

    def __post_init__(self) -> None:
        self.references = tuple(self.references)  # a saved record holds them as a JSON list

    def check_content(self, dataset: Dataset, role: str = "test") -> None:
        """Seed 002 §4.1: refuse ``dataset`` (e.g. the target's test split) when it shares reference content."""
        check_disjoint(self.references, dataset, role)


def check_disjoint(references: Iterable[str], dataset: Dataset, role: str = "test") -> None:
    """Raise :class:`DataError` naming the shared content groups of pretraining data and ``dataset``."""
    if dataset.groups is None:
        return
    shared = sorted(set(map(str, references)) & set(map(str, dataset.groups)))
    if shared:
        raise DataError(
            f"Content overlap: the pretraining set was made from {len(shared)} reference(s) that are also content "
            f"groups of the {role} images of {dataset.name!r} (first: {shared[:5]}). Seed 002 keeps pretraining "
            "content out of the target's test split: build the pretraining set from other photos, or drop those groups."
        )


def stage1_labels(dataset: Dataset, variant: str) -> tuple[np.ndarray | None, np.ndarray | None, DistortionEncoder | None]:
    """Pseudo-MOS (regression) and distortion classes (classification) the variant trains on, checked.

    Raises
    ------
    DataError
        When the dataset lacks the labels the variant needs (e.g. ``"multi"`` without distortion labels).
    """
    variant = check_variant(variant)
    scores = classes = encoder = None
    if variant in ("reg", "multi"):
        if dataset.mos is None or not np.isfinite(dataset.mos).all():
            raise DataError(
                f"Pretraining variant {variant!r} regresses pseudo-MOS, but dataset {dataset.name!r} has "
                f"{'no scores' if dataset.mos is None else 'missing scores'}; build it with dfi.synth.build, or use variant='cls'."
            )
        scores = np.asarray(dataset.mos, dtype=np.float64)
    if variant in ("cls", "multi"):
        if dataset.distortion is None:
            raise DataError(
                f"Pretraining variant {variant!r} classifies distortion type/level, but dataset {dataset.name!r} has "
                "no distortion labels (its `distortion` table); build it with dfi.synth.build, or use variant='reg'."
            )
        encoder = DistortionEncoder.fit(dataset.distortion)
        classes = encoder.transform(dataset.distortion)
        if not encoder.multilabel and len(encoder.classes) < 2:
            raise DataError(f"Dataset {dataset.name!r} has a single distortion class ({encoder.classes[0]!r}); nothing to classify.")
    return scores, classes, encoder


@renamed_keywords(model="backbone", crop="crop_size")
def pretrain(
    dataset: Dataset,
    variant: str = "multi",
    *,
    backbone: str = DEFAULT_BACKBONE,
    weights: Any = "imagenet",
    epochs: int = 30,
    batch_size: int = 64,
    accumulate: int = 1,
    lr: float = 1e-5,
    trunk_lr: float = 1e-4,
    crop_size: int = 224,
    resize: int | None = STAGE1_RESIZE,
    precision: str = "auto",
    exclude: Dataset | Iterable[Dataset] = (),
    checkpoint_dir: str | Path | None = None,
    seed: int = 0,
    device: str | None = None,
    num_workers: int | None = None,
    progress: bool = True,
) -> PretrainedWeights:
    """Seed 002 stage 1: train a backbone on distortion type/level and/or pseudo-MOS of a synthetic set.

    Runs on the shared training engine (:func:`deepfeat_iqa.training.fit_network`): fresh random crops
    each epoch, decoding in worker processes, bf16 where the CPU/GPU has it, resumable checkpoints.

    Parameters
    ----------
    dataset:
        A ``dfi.synth.build`` set (or any Dataset with ``mos`` and/or a ``distortion`` table).
    variant:
        ``"multi"`` (seed 002: ``L = L_s + L_c``), ``"reg"`` (pseudo-MOS only, L1), ``"cls"`` (type/level
        only: softmax cross-entropy for one class per image, BCE for multi-hot authentic labels).
    backbone, weights:
        The backbone and its starting weights (seed 002: ImageNet ResNet-50; default EfficientNet-Lite0).
    epochs, batch_size, accumulate:
        Seed 002: 30 epochs, mini-batch 256 (e.g. ``batch_size=64, accumulate=4``).
    lr, trunk_lr:
        Adam learning rates of the two FC branches and of the backbone. Seed 002: backbone 1e-4;
        classification FCs 1e-5 (synthetic) or 1e-4 (authentic); regression FCs 1e-6. The engine has one
        rate for everything outside the trunk, so both branches share ``lr`` (default 1e-5).
    crop_size, resize:
        One random ``crop_size`` crop per image per epoch, after resizing the short side to ``resize`` (seed 002
        scales to 256 x 256; we keep the aspect ratio).
    exclude:
        Datasets (e.g. the target's test split) whose content groups must not be among the pretraining
        references; an overlap raises :class:`DataError` naming it.
    checkpoint_dir:
        Resume a killed run from here (the engine's checkpoints).
    seed:
        Seeds the branches' initialization, dropout, crops and batch order.

    Returns
    -------
    PretrainedWeights
        In-memory weights (``weights=`` for ``dfi.extract`` and the ``"quality-aware"`` head);
        ``.save(path)`` writes them as a safetensors file that both accept too.
    """
    variant = check_variant(variant)
    scores, classes, encoder = stage1_labels(dataset, variant)
    references = tuple(sorted(set(map(str, dataset.group_ids))))
    for other in [exclude] if isinstance(exclude, Dataset) else list(exclude):
        check_disjoint(references, other, role="excluded")
    targets: dict[str, np.ndarray] = {}
    if scores is not None:
        targets["quality"] = ((scores - scores.mean()) / (scores.std() or 1.0)).astype(np.float32)
    if classes is not None:
        targets["distortion"] = classes
    multilabel = bool(encoder is not None and encoder.multilabel)
    settings = TrainSettings(
        epochs=epochs, batch_size=batch_size, accumulate=accumulate, optimizer="adam", lr=lr, trunk_lr=trunk_lr,
        weight_decay=0.0, schedule="constant", crops_per_image=1, target_level="image", precision=precision,
        device=device, num_workers=num_workers, seed=seed, progress=progress,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        trunk, loaded, dims = build_trunk(backbone, weights, None, seed)
        net = QualityAwareNet(trunk, sum(dims), variant, n_classes=len(encoder.classes) if encoder else 0)
    config = loaded.config
    geometry = Geometry((crop_size, crop_size), config.crop_pct, config.interpolation)
    pipeline = Pipeline(geometry, Normalize(tuple(config.mean), tuple(config.std)), resize)
    # checkpoint record: keys as 0.1 wrote them, so its checkpoints still resume
    record = {"stage": "pretrain", "variant": variant, "model": backbone, "weights": loaded.weights_sha256,
              "crop": crop_size, "resize": resize, "ids": dataset.fingerprint()}  # fmt: skip
    outcome = fit_network(
        net, PretrainLoss(multilabel), TrainData(list(dataset.paths), targets), None, settings=settings,
        pipeline=pipeline, val_view=parse_views("center", geometry),
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir), record=record,
    )  # fmt: skip
    tensors = {k: v.detach().cpu().clone() for k, v in trunk.backbone.state_dict().items()}
    info = {
        "dataset": dataset.name, "n_images": len(dataset), "settings": settings.to_dict(), "crop_size": crop_size, "resize": resize,
        "start_weights": loaded.weights_source, "start_fingerprint": loaded.weights_sha256,
        "classes": list(encoder.classes) if encoder else [], "multilabel": multilabel,
        "history": outcome.history, "precision": outcome.precision,
    }  # fmt: skip
    return PretrainedWeights(config.name, variant, tensors, references, fingerprint_state_dict(tensors), info)
