"""Feature files: what ``extract --out`` writes, read back by ``fit``/``evaluate --features`` with labels.

A ``.npz`` holds, per layer, the ``(n_images, n_views, dim)`` array under the layer's name and its feature
key (JSON ``header``), plus the image ``ids`` and ``paths``; it loads without pickle. A ``.csv`` holds only the mean over views per image (for
spreadsheets and other tools) and no key, so it cannot be fitted on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import DataError
from deepfeat_iqa.features._sets import FeatureSet, LayerFeatures, key_from_dict

#: Marks an .npz as one of ours (and its layout version).
FORMAT = "deepfeat-iqa/features-1"


def save_features(feats: FeatureSet, path: str | Path, *, source: dict[str, Any] | None = None) -> Path:
    """Write ``feats`` to ``path`` (``.npz``: everything fit needs; ``.csv``: mean over views, no key).

    ``source`` records how to extract like features again (``{"weights": ..., "seed": ...}``), so a model
    fitted on the file can later score new photos.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = feats.dataset
    if path.suffix == ".npz":
        names = list(feats)
        header = {"format": FORMAT, "layers": names, "keys": {n: feats[n].key.to_dict() for n in names},
                  "aliases": feats.aliases, "source": source or {}}
        reserved = sorted(set(names) & {"header", "ids", "paths"})
        if reserved:
            raise DataError(f"A layer may not be named {reserved[0]!r} in a feature file; extract it by module path.")
        # arrays keyed by layer name, so np.load(path)["block4"] works without this library
        arrays = {n: np.asarray(feats[n].per_view, dtype=np.float32) for n in names}
        np.savez_compressed(path, header=np.asarray(json.dumps(header)), ids=np.asarray(ds.ids, dtype=str),
                            paths=np.asarray([str(p) for p in ds.paths], dtype=str), **arrays)  # fmt: skip
    elif path.suffix == ".csv":
        frames = [pd.DataFrame(feats[n].X, index=pd.Index(ds.ids, name="id")).add_prefix(f"{n}.") for n in feats]
        pd.concat(frames, axis=1).to_csv(path)
    else:
        raise DataError(f"A feature file ends in .npz (for fit/evaluate) or .csv (means only), got {path.name!r}.")
    return path


def load_features(path: str | Path, dataset: Dataset | None = None) -> FeatureSet:
    """Read an ``.npz`` written by :func:`save_features`, rows matched to ``dataset``'s ids when given.

    Parameters
    ----------
    path:
        The ``.npz`` file.
    dataset:
        The labeled images to train or evaluate on; every one of its ids must be in the file (the
        file may hold more). ``None`` keeps the file's images, unlabeled.

    Raises
    ------
    DataError
        For a file that is not ours, a ``.csv`` (it has no feature key), or images of ``dataset`` missing from the file.
    """
    path = Path(path).expanduser()
    if path.suffix == ".csv":
        raise DataError(f"{str(path)!r} holds only per-image means and no feature key; write features with --out FILE.npz to fit on them.")
    if not path.is_file():
        raise DataError(f"Feature file {str(path)!r} does not exist; write one with `deepfeat-iqa extract ... --out FILE.npz`.")
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"])) if "header" in data else {}
        if header.get("format") != FORMAT:
            raise DataError(f"{str(path)!r} is not a deepfeat-iqa feature file (written by `extract --out FILE.npz`).")
        ids, paths = [str(i) for i in data["ids"]], [Path(p) for p in data["paths"]]
        arrays = {name: data[name] for name in header["layers"]}
    if dataset is None:
        dataset, rows = Dataset(ids=ids, paths=paths, name=path.stem), np.arange(len(ids))
    else:
        position = {image_id: row for row, image_id in enumerate(ids)}
        missing = [i for i in dataset.ids if i not in position]
        if missing:
            raise DataError(
                f"{len(missing)} of {len(dataset)} images of {dataset.name!r} are not in {str(path)!r} (first: "
                f"{missing[:3]}); extract the same images (ids are paths relative to the folder given to extract)."
            )
        rows = np.asarray([position[i] for i in dataset.ids])
    layers = {
        name: LayerFeatures(key=key_from_dict(header["keys"][name]), per_view=values[rows], dataset=dataset)
        for name, values in arrays.items()
    }
    return FeatureSet(layers, aliases=header.get("aliases"))


def feature_file_source(path: str | Path) -> dict[str, Any]:
    """How the features in an ``.npz`` were extracted (``weights`` source, ``seed``), as ``extract --out`` recorded it."""
    with np.load(Path(path).expanduser(), allow_pickle=False) as data:
        return dict(json.loads(str(data["header"])).get("source", {})) if "header" in data else {}
