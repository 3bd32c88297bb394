"""Seed 002 stage 1: pretrain a backbone on a ``dfi.synth`` set to get quality-aware weights (:func:`pretrain`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..backbones import build_backbone, fingerprint_state_dict
from ..datasets import Dataset
from ..errors import ConfigError, DataError
from ..heads._mlp_tasks import DistortionEncoder
from ..patchcnn._train import resolve_device, run_epochs
from ._inputs import ImageBank, Normalizer
from ._nets import QualityAwareNet, Trunk, check_variant

#: Marks a safetensors file as stage-1 weights of ours (the metadata key that holds the record).
METADATA_KEY = "deepfeat_iqa.pretrain"
#: Seed 002 §4.1: images are scaled to 256 x 256 and cut to 224 x 224 in stage 1.
STAGE1_RESIZE = 256


@dataclass
class PretrainedWeights:
    """Quality-aware backbone weights from :func:`pretrain`, with what they were trained on.

    Attributes
    ----------
    backbone:
        Registry name of the backbone (``"efficientnet_lite0"``, ``"resnet50"``, ...).
    variant:
        ``"cls"``, ``"reg"`` or ``"multi"``.
    state_dict:
        Every tensor of the backbone as registered (its unused ImageNet classifier included), so the
        weights load wherever that backbone's weights do: ``dfi.extract(..., weights=path)`` and the
        fine-tuning head's ``weights=``.
    references:
        The content groups (reference photos) the pretraining set was made from; the content rule
        refuses to evaluate on test images of these groups.
    fingerprint:
        ``sha256:`` of the state dict, as the feature store keys weights.
    record:
        Settings, classes, per-epoch loss, and the starting weights.
    """

    backbone: str
    variant: str
    state_dict: dict[str, torch.Tensor]
    references: tuple[str, ...]
    fingerprint: str
    record: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write the weights as one ``.safetensors`` file with this record in its metadata (no pickle)."""
        from safetensors.torch import save_file

        path = Path(path).expanduser()
        if path.suffix != ".safetensors":
            raise ConfigError(f"Pretrained weights are written as .safetensors; got {str(path)!r}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"backbone": self.backbone, "variant": self.variant, "references": list(self.references),
                "fingerprint": self.fingerprint, "record": self.record}  # fmt: skip
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict.items()}
        partial = path.with_name(path.name + ".part")
        save_file(tensors, str(partial), metadata={METADATA_KEY: json.dumps(meta)})
        partial.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PretrainedWeights:
        """Read a file written by :meth:`save`; other weight files are refused (they carry no references)."""
        from safetensors import safe_open

        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"Pretrained weights file {str(path)!r} does not exist; write one with pretrain(...).save(path).")
        with safe_open(str(path), framework="pt") as handle:
            meta = (handle.metadata() or {}).get(METADATA_KEY)
            if meta is None:
                raise DataError(f"{str(path)!r} is a weights file but not stage-1 weights of dfi.pretrain (no {METADATA_KEY!r} record).")
            state = {k: handle.get_tensor(k) for k in handle.keys()}
        info = json.loads(meta)
        return cls(info["backbone"], info["variant"], state, tuple(info["references"]), info["fingerprint"], info["record"])

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


def pretrain(
    dataset: Dataset,
    variant: str = "multi",
    *,
    model: str = "efficientnet_lite0",
    weights: str | Path = "imagenet",
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-4,
    cls_lr: float | None = None,
    reg_lr: float = 1e-6,
    crop: int = 224,
    resize: int = STAGE1_RESIZE,
    exclude: Dataset | Iterable[Dataset] = (),
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> PretrainedWeights:
    """Seed 002 stage 1: train a backbone on distortion type/level and/or pseudo-MOS of a synthetic set.

    Parameters
    ----------
    dataset:
        A ``dfi.synth.build`` set (or any Dataset with ``mos`` and/or a ``distortion`` table).
    variant:
        ``"multi"`` (seed 002: ``L = L_s + L_c``), ``"reg"`` (pseudo-MOS only, L1), ``"cls"`` (type/level
        only: softmax CE for one class per image, BCE for multi-hot authentic labels).
    model, weights:
        The backbone and its starting weights (seed 002: ImageNet ResNet-50; default EfficientNet-Lite0).
    epochs, batch_size:
        Seed 002: 30 epochs, mini-batch 256; the default batch is 64 to fit CPU memory.
    lr, cls_lr, reg_lr:
        Adam learning rates of the backbone, the classification FCs and the regression FCs. Seed 002:
        backbone 1e-4; classification 1e-5 (synthetic) or 1e-4 (authentic) — ``None`` picks by the labels;
        regression 1e-6.
    crop, resize:
        Images are scaled to ``resize`` x ``resize`` and one random ``crop`` per image and epoch is used.
    exclude:
        Datasets (e.g. the target's test split) whose content groups must not be among the pretraining
        references; an overlap raises :class:`DataError` naming it.
    seed:
        Seeds the heads' initialization, dropout and crops (the backbone's start comes from ``weights``).

    Returns
    -------
    PretrainedWeights
        ``.save(path)`` writes a safetensors file usable as ``weights=`` by ``dfi.extract`` and by the
        ``"quality-aware"`` fine-tuning head.
    """
    variant = check_variant(variant)
    scores, classes, encoder = stage1_labels(dataset, variant)
    references = tuple(sorted(set(map(str, dataset.group_ids))))
    for other in [exclude] if isinstance(exclude, Dataset) else list(exclude):
        check_disjoint(references, other, role="excluded")
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs and batch_size must be >= 1, got epochs={epochs}, batch_size={batch_size}.")
    device_ = resolve_device(device)
    loaded = build_backbone(model, weights, seed=seed)
    start_fingerprint = loaded.weights_sha256
    bank = ImageBank(dataset, crop=crop, resize=(resize, resize), interpolation=loaded.config.interpolation)
    normalize = Normalizer(loaded.config)
    multilabel = bool(encoder is not None and encoder.multilabel)
    cls_lr = cls_lr if cls_lr is not None else (1e-4 if multilabel else 1e-5)
    y = None
    if scores is not None:
        y_mean, y_scale = float(scores.mean()), float(scores.std()) or 1.0
        y = torch.from_numpy((scores - y_mean) / y_scale).float()
    c = torch.from_numpy(classes) if classes is not None else None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = QualityAwareNet(Trunk(loaded.model), variant, n_classes=len(encoder.classes) if encoder else 0).to(device_)
        heads = net.head_parameters()
        groups = [{"params": list(net.trunk.parameters()), "lr": lr}]
        groups += [{"params": heads[name], "lr": rate} for name, rate in (("cls", cls_lr), ("reg", reg_lr)) if heads[name]]
        optimizer = torch.optim.Adam(groups, betas=(0.9, 0.999))
        rows = np.arange(len(dataset))

        def batches(epoch: int):
            positions = bank.positions(rows, 1, seed=seed * 1000 + epoch)
            order = np.random.default_rng([seed, epoch]).permutation(len(positions))
            for start in range(0, len(order), batch_size):
                yield positions[order[start : start + batch_size]]

        def loss(positions: np.ndarray) -> torch.Tensor:
            score, logits = net(normalize(bank.gather(positions), device_))
            index = torch.from_numpy(positions[:, 0])
            value = torch.zeros((), device=device_)
            if score is not None:
                value = value + torch.nn.functional.l1_loss(score, y[index].to(device_))
            if logits is not None:
                target = c[index].to(device_)
                value = value + (torch.nn.functional.binary_cross_entropy_with_logits(logits, target) if multilabel
                                 else torch.nn.functional.cross_entropy(logits, target))  # fmt: skip
            return value

        log = run_epochs(net, optimizer, epochs=epochs, batches=batches, loss=loss, lr_hint=lr,
                         desc=f"pretrain {variant}", progress=progress)  # fmt: skip
    state = {k: v.detach().cpu().clone() for k, v in net.trunk.model.state_dict().items()}
    record = {
        "dataset": dataset.name, "n_images": len(dataset), "epochs": epochs, "batch_size": batch_size,
        "lr": lr, "cls_lr": cls_lr if heads["cls"] else None, "reg_lr": reg_lr if heads["reg"] else None,
        "crop": crop, "resize": resize, "seed": seed, "start_weights": loaded.weights_source,
        "start_fingerprint": start_fingerprint, "classes": list(encoder.classes) if encoder else [],
        "multilabel": multilabel, "history": log.history,
    }  # fmt: skip
    return PretrainedWeights(model, variant, state, references, fingerprint_state_dict(state), record)
