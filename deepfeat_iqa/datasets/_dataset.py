"""The one record type every loader returns and every later stage consumes: ``Dataset``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")

#: Optional per-image label tables a Dataset may carry (each a DataFrame indexed by image id).
SIDE_TABLES = ("attributes", "scenes", "exif", "distortion", "aspects", "scene_clusters")


@dataclass(frozen=True)
class Scale:
    """How a database's scores read, so cross-database work can put them on one footing.

    Attributes
    ----------
    low, high:
        The nominal range of the score (e.g. 0-100 for LIVE Challenge MOS, 0-9 for TID MOS).
    higher_is_better:
        ``False`` for DMOS-style scores (LIVE, CSIQ), where a larger number means worse quality.
    kind:
        ``"MOS"`` or ``"DMOS"`` (or ``"pseudo-MOS"`` for synthetic labels), as the publisher calls it.
    """

    low: float
    high: float
    higher_is_better: bool = True
    kind: str = "MOS"


class Record(NamedTuple):
    """One image of a Dataset, as yielded by iteration."""

    id: str
    path: Path
    mos: float
    group: str | None


@dataclass
class Dataset:
    """Ordered images with their quality labels and optional side labels.

    Parameters
    ----------
    ids:
        Unique image identifiers (usually the file name relative to the database root).
    paths:
        Image file paths, aligned with ``ids``.
    mos:
        Quality scores (float), aligned with ``ids``; ``None`` for unlabeled photos (scoring only).
    scale:
        How to read ``mos`` (range and direction); ``None`` when there are no scores.
    groups:
        Content/reference id per image (e.g. the pristine image a distorted one came from), so splits
        never put one scene in both train and test. ``None`` means every image is its own group.
    name:
        Database name; part of the feature-store key.
    attributes, scenes, exif, distortion, aspects:
        Optional side-label tables indexed by image id (see each loader for their columns).
    scene_clusters:
        DCNNS's scene descriptor (37 columns) and k-means ``cluster`` id per image, written by
        :func:`deepfeat_iqa.patchcnn.with_scene_clusters` so they are computed once per dataset.
    official_split:
        ``"train"``/``"val"``/``"test"`` per image where the publisher defines a split (KonIQ-10k).
    root:
        The database root the paths were resolved from, for messages.
    """

    ids: Sequence[str]
    paths: Sequence[str | Path]
    mos: np.ndarray | None = None
    scale: Scale | None = None
    groups: np.ndarray | None = None
    name: str = "images"
    attributes: pd.DataFrame | None = None
    scenes: pd.DataFrame | None = None
    exif: pd.DataFrame | None = None
    distortion: pd.DataFrame | None = None
    aspects: pd.DataFrame | None = None
    scene_clusters: pd.DataFrame | None = None
    official_split: np.ndarray | None = None
    root: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.ids = [str(i) for i in self.ids]
        self.paths = [Path(p) for p in self.paths]
        n = len(self.ids)
        if len(self.paths) != n:
            raise DataError(f"Dataset {self.name!r}: {n} ids but {len(self.paths)} paths.")
        dupes = pd.Index(self.ids)[pd.Index(self.ids).duplicated()].unique().tolist()
        if dupes:
            raise DataError(
                f"Dataset {self.name!r}: {len(dupes)} duplicate image ids (first: {dupes[:3]}). "
                "Ids must be unique; remove the repeated rows from the label file."
            )
        if self.mos is not None:
            self.mos = np.asarray(self.mos, dtype=np.float64)
            self._check_aligned("mos", self.mos)
            bad = np.flatnonzero(~np.isfinite(self.mos))
            if bad.size:
                first = [self.ids[i] for i in bad[:3]]
                raise DataError(
                    f"Dataset {self.name!r}: {bad.size} images have a missing or non-numeric score "
                    f"(first: {first}). Fix or drop those rows."
                )
        for name in ("groups", "official_split"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value).astype(str)
                self._check_aligned(name, value)
                setattr(self, name, value)
        for name in SIDE_TABLES:
            table = getattr(self, name)
            if table is not None:
                table = pd.DataFrame(table)
                if len(table) != n:
                    raise DataError(f"Dataset {self.name!r}: table {name!r} has {len(table)} rows, expected {n}.")
                table.index = pd.Index(self.ids, name="id")
                setattr(self, name, table)

    def _check_aligned(self, name: str, values: np.ndarray) -> None:
        if len(values) != len(self.ids):
            raise DataError(f"Dataset {self.name!r}: {name!r} has {len(values)} entries, expected {len(self.ids)}.")

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_paths(cls, paths: Sequence[str | Path], name: str = "images") -> Dataset:
        """Wrap unlabeled image paths (ids are the paths as given); duplicate paths are an error."""
        paths = [Path(p) for p in paths]
        return cls(ids=[str(p) for p in paths], paths=paths, name=name)

    @classmethod
    def from_folder(cls, folder: str | Path, name: str | None = None, recursive: bool = True) -> Dataset:
        """All image files under ``folder`` (sorted), ids relative to the folder."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise DataError(f"Image folder {str(folder)!r} does not exist or is not a directory.")
        pattern = "**/*" if recursive else "*"
        paths = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise DataError(f"Image folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        ids = [p.relative_to(folder).as_posix() for p in paths]
        return cls(ids=ids, paths=paths, name=name or folder.name, root=folder)

    # -- access -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Record]:
        for i in range(len(self)):
            yield self._record(i)

    def _record(self, i: int) -> Record:
        mos = float(self.mos[i]) if self.mos is not None else float("nan")
        group = str(self.groups[i]) if self.groups is not None else None
        return Record(self.ids[i], self.paths[i], mos, group)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> Record | Dataset:
        """An int gives one :class:`Record`; a slice, index array or boolean mask gives a sub-Dataset."""
        if isinstance(index, (int, np.integer)):
            return self._record(int(index))
        return self.subset(index)

    def subset(self, index: slice | Sequence[int] | np.ndarray) -> Dataset:
        """A new Dataset holding the selected rows, in the selected order, with every label kept."""
        rows = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise DataError(f"Boolean mask of length {rows.shape[0]} for a dataset of {len(self)} images.")
            rows = np.flatnonzero(rows)
        rows = rows.astype(int)
        changes: dict = {"ids": [self.ids[i] for i in rows], "paths": [self.paths[i] for i in rows]}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in changes or value is None:
                continue
            if isinstance(value, np.ndarray):
                changes[f.name] = value[rows]
            elif isinstance(value, pd.DataFrame):
                changes[f.name] = value.iloc[rows]
        return replace(self, **changes)

    @property
    def y(self) -> np.ndarray:
        """Scores as a float array; raises if the dataset is unlabeled."""
        if self.mos is None:
            raise DataError(f"Dataset {self.name!r} has no quality scores (it was built from image paths only).")
        return self.mos

    @property
    def group_ids(self) -> np.ndarray:
        """Groups for splitting: the content ids, or each image its own group when there are none."""
        return self.groups if self.groups is not None else np.asarray(self.ids, dtype=str)

    def to_frame(self) -> pd.DataFrame:
        """One row per image: id, path, mos, group, split and every side-label column (prefixed)."""
        frame = pd.DataFrame({"path": [str(p) for p in self.paths]}, index=pd.Index(self.ids, name="id"))
        if self.mos is not None:
            frame["mos"] = self.mos
        if self.groups is not None:
            frame["group"] = self.groups
        if self.official_split is not None:
            frame["split"] = self.official_split
        for name in SIDE_TABLES:
            table = getattr(self, name)
            if table is not None:
                frame = frame.join(table.add_prefix(f"{name}."))
        return frame

    def fingerprint(self) -> str:
        """A short hash of the ordered ids and resolved paths: the dataset's key in the feature store."""
        digest = hashlib.sha256()
        for image_id, path in zip(self.ids, self.paths):
            digest.update(f"{image_id}\0{Path(path).expanduser().resolve()}\n".encode())
        return digest.hexdigest()[:12]

    def __repr__(self) -> str:
        labels = [n for n in ("mos", "groups", *SIDE_TABLES, "official_split") if getattr(self, n) is not None]
        return f"Dataset(name={self.name!r}, n={len(self)}, labels={labels})"
