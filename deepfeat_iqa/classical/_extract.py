"""``extract_classical``: BRISQUE features / NIQE scores per image, cached in the feature store."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from importlib.metadata import version

import numpy as np
from tqdm.auto import tqdm

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import unknown_name_error
from deepfeat_iqa.features._sets import FeatureKey, FeatureSet, LayerFeatures
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.store._zarr import ArraySpec, FeatureStore

#: Rows per store chunk (and per write), like extract's default batch.
_CHUNK = 32


def _brisque() -> tuple[str, str, Callable[[np.ndarray], np.ndarray]]:
    from deepfeat_iqa.classical._nss import KERNEL_SIGMA, KERNEL_SIZE, brisque_features

    recipe = f"piq=={version('piq')} BRISQUE NSS kernel={KERNEL_SIZE} sigma={KERNEL_SIGMA:.6f} scales=2"
    return recipe, "sha256:" + hashlib.sha256(recipe.encode()).hexdigest(), brisque_features


def _niqe() -> tuple[str, str, Callable[[np.ndarray], np.ndarray]]:
    from deepfeat_iqa.classical._niqe import load_model

    model = load_model()
    return f"NIQE pristine model {model.provenance}", model.sha256, lambda rgb: np.asarray([model.score(rgb)])


_EXTRACTORS: dict[str, tuple[str, Callable]] = {"brisque": ("features", _brisque), "niqe": ("score", _niqe)}


def list_classical() -> list[str]:
    """Names of the classical extractors a sweep accepts as backbones."""
    return list(_EXTRACTORS)


def classical_outputs(name: str) -> list[str]:
    """The one output ("layer") an extractor has."""
    if name not in _EXTRACTORS:
        raise unknown_name_error("classical extractor", name, _EXTRACTORS)
    return [_EXTRACTORS[name][0]]


def extract_classical(
    images: Dataset, name: str, *, store: str | os.PathLike[str] | FeatureStore | None = "cache", progress: bool = True
) -> FeatureSet:
    """BRISQUE's 36 features (``name="brisque"``) or NIQE's score (``"niqe"``) of every image, via the store.

    Rows already in the store are read, not recomputed; rows are written chunk by chunk (values before
    ``done``), so a killed run resumes where it stopped, as deep extraction does.

    Returns
    -------
    FeatureSet
        One layer (``"features"`` or ``"score"``) keyed ``FeatureKey(name, <recipe sha256>, layer, "none", "full", "fp32")``.
    """
    from deepfeat_iqa.extraction._extract import _open_store

    output = classical_outputs(name)[0]
    recipe, sha, compute = _EXTRACTORS[name][1]()
    spec = ArraySpec(
        backbone=name, weights_sha256=sha, layer=output, pooling="none", views="full", precision="fp32",
        weights_source=recipe, input_size=(3, 0, 0), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), interpolation="none",
        crop_pct=1.0, n_views=1, dataset_fingerprint=images.fingerprint(), versions=(("piq", version("piq")),),
    )  # fmt: skip
    key = FeatureKey(name, sha, output, "none", "full", "fp32")
    backend = _open_store(store)
    array, values = None, None
    if backend is not None:
        dataset_key, _ = backend.sync_index(images)
        array = backend.find(dataset_key, spec)
        pending = np.arange(len(images)) if array is None else np.flatnonzero(~array.done[:])
    else:
        pending = np.arange(len(images))
    with tqdm(total=int(pending.size), unit="img", desc=name, disable=None if progress else True) as bar:
        for start in range(0, pending.size, _CHUNK):
            rows = pending[start : start + _CHUNK]
            batch = np.stack([compute(load_rgb(images.paths[int(r)])) for r in rows])[:, None, :]
            if backend is None:
                values = np.full((len(images), 1, batch.shape[-1]), np.nan) if values is None else values
                values[rows] = batch
            else:
                if array is None:
                    array = backend.create(dataset_key, spec, n_images=len(images), dim=batch.shape[-1], dtype="float32", chunk_rows=_CHUNK)
                array.write(rows, batch, np.ones(len(rows), dtype=np.int32))
            bar.update(len(rows))
    per_view = values if backend is None else array.read()
    return FeatureSet({output: LayerFeatures(key=key, per_view=np.asarray(per_view, dtype=np.float32), dataset=images)})
