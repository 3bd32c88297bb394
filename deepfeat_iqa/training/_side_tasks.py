"""Turn the side-label tables a ``Dataset`` carries into the targets and inputs of ``MultitaskMLP``."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import DataError

#: Column-name fragments of EXIF tags whose values span decades (1/4000 s .. 1 s, ISO 50 .. 6400).
_LOG_TAG = re.compile(r"exposure|shutter|(^|[^a-z])iso")
#: The first number or fraction in an EXIF string ("1/125 s", "f/2.2", "4.25 mm").
_NUMBER = re.compile(r"([-+]?\d*\.?\d+)(?:\s*/\s*(\d*\.?\d+))?")
#: Yes/no words EXIF readers write for the flash tag.
_BOOL_WORDS = {
    "true": 1.0, "yes": 1.0, "on": 1.0, "fired": 1.0, "flash fired": 1.0,
    "false": 0.0, "no": 0.0, "off": 0.0, "not fired": 0.0, "did not fire": 0.0,
    "flash did not fire": 0.0, "no flash": 0.0,
}  # fmt: skip


def as_table(values: object, field: str, n_rows: int, default_prefix: str) -> pd.DataFrame:
    """A side label (array, Series or DataFrame) as a positional DataFrame of ``n_rows`` rows.

    Side tables are row-aligned with ``X`` (as ``Dataset`` keeps them), so their index is dropped
    rather than used to join: a join on image ids would silently reorder or drop rows.
    """
    if isinstance(values, pd.DataFrame):
        table = values.reset_index(drop=True)
    elif isinstance(values, pd.Series):
        table = values.reset_index(drop=True).to_frame(name=values.name if values.name is not None else default_prefix)
    else:
        array = np.asarray(values)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise DataError(f"`{field}` must be 1-D or 2-D (one row per image); got shape {array.shape}.")
        table = pd.DataFrame(array, columns=[f"{default_prefix}{j}" for j in range(array.shape[1])])
    if len(table) != n_rows:
        raise DataError(f"`{field}` has {len(table)} rows but X has {n_rows}; side labels must be row-aligned with X.")
    if table.shape[1] == 0:
        raise DataError(f"`{field}` has no columns.")
    table.columns = [str(c) for c in table.columns]
    return table


def numeric_block(table: pd.DataFrame, field: str) -> np.ndarray:
    """The table as float64, with an error naming the field and column for text or missing values."""
    out = np.empty(table.shape, dtype=np.float64)
    for j, column in enumerate(table.columns):
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(
                f"`{field}` column {column!r} has {bad.size} missing or non-numeric values (first at row {bad[0]}: "
                f"{table[column].iloc[bad[0]]!r}). Drop those images or fill the values before fitting."
            )
        out[:, j] = values
    return out


@dataclass
class Standardizer:
    """Column means and scales, so targets train in unit scale and predictions return in original units."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        mean = values.mean(axis=0)
        scale = values.std(axis=0)
        # A constant column (or a single row) has nothing to scale; 1 keeps it finite.
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls(mean=mean, scale=scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.scale + self.mean


def scene_targets(table: pd.DataFrame) -> np.ndarray:
    """Seed 001 §5.4: a row with ``c`` scene labels becomes ``1/c`` on each of them (``p`` in Eq. 5)."""
    values = numeric_block(table, "scenes")
    if (values < 0).any():
        raise DataError("`scenes` must be 0/1 (or non-negative weights); found negative values.")
    counts = values.sum(axis=1)
    empty = np.flatnonzero(counts <= 0)
    if empty.size:
        raise DataError(
            f"`scenes`: {empty.size} images have no scene label (first at row {empty[0]}); seed 001 Eq. 5 needs "
            "c >= 1 labels per image. Drop those images or fit without scenes."
        )
    return values / counts[:, None]


@dataclass
class DistortionEncoder:
    """Distortion labels as class indices (single type[/level] per image) or a multi-hot matrix.

    Attributes
    ----------
    multilabel:
        ``True`` for multi-hot columns (seed 002 authentic mixtures, BCE), ``False`` for one
        type-level class per image (seed 002 synthetic, softmax cross entropy).
    classes:
        Class names: ``"type"`` or ``"type/level"`` strings, or the multi-hot column names.
    """

    multilabel: bool
    classes: tuple[str, ...]

    @staticmethod
    def _single_names(table: pd.DataFrame) -> np.ndarray:
        kinds = table["type"]
        if kinds.isna().any():
            row = int(np.flatnonzero(kinds.isna().to_numpy())[0])
            raise DataError(f"`distortion` column 'type' is missing at row {row}; every image needs a type.")
        names = kinds.astype(str).to_numpy(dtype=object)
        if "level" in table.columns:
            levels = table["level"]
            # A missing level (a pristine image, say) is a class of its own: the bare type name.
            suffix = np.array(["" if pd.isna(v) else f"/{v}" for v in levels], dtype=object)
            names = names + suffix
        return names

    @classmethod
    def fit(cls, table: pd.DataFrame) -> DistortionEncoder:
        if "type" in table.columns:
            return cls(multilabel=False, classes=tuple(sorted(set(cls._single_names(table)))))
        values = numeric_block(table, "distortion")
        if not np.isin(values, (0.0, 1.0)).all():
            raise DataError(
                "`distortion` must be either a 'type' column (with an optional 'level' column) or multi-hot 0/1 "
                f"columns; columns {list(table.columns)} hold other values."
            )
        return cls(multilabel=True, classes=tuple(table.columns))

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        if not self.multilabel:
            index = {name: i for i, name in enumerate(self.classes)}
            return np.array([index[name] for name in self._single_names(table)], dtype=np.int64)
        return numeric_block(table[list(self.classes)], "distortion").astype(np.float32)


def _parse_number(value: object) -> float:
    """One EXIF value as a number: numbers pass, fractions and units are parsed, yes/no words mapped."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip().lower()
    if text in _BOOL_WORDS:
        return _BOOL_WORDS[text]
    match = _NUMBER.search(text)
    if match is None:
        return np.nan
    numerator = float(match.group(1))
    if match.group(2) is None:
        return numerator
    denominator = float(match.group(2))
    return numerator / denominator if denominator else np.nan


def _hour_of_day(column: pd.Series) -> np.ndarray | None:
    """Fractional hour of day if ``column`` holds date-times (EXIF ``2018:08:23 14:03:11`` included), else None."""
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column
    elif pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        present = column.dropna()
        # Only text with a clock time can give an hour of day; "1/125" or "f/2.2" must stay numbers.
        if present.empty or not all(isinstance(v, str) and ":" in v for v in present):
            return None
        stamps = pd.to_datetime(column, format="%Y:%m:%d %H:%M:%S", errors="coerce")
        if stamps.notna().sum() < len(present):
            stamps = stamps.fillna(pd.to_datetime(column, format="ISO8601", errors="coerce"))
        if stamps.notna().sum() < max(1, len(present) // 2):
            return None
    else:
        return None
    return (stamps.dt.hour + stamps.dt.minute / 60.0 + stamps.dt.second / 3600.0).to_numpy(dtype=np.float64)


@dataclass
class ExifEncoder:
    """Encode EXIF columns for the MT-E offset network (seed 001 §5.2), robust to gaps and odd formats.

    Each column becomes standardized values plus a 0/1 "present" mask, with a missing value encoded
    as 0 (the training mean) and mask 0, so images without a tag still get an offset. Exposure time and
    ISO are log-transformed first, because their effect is multiplicative and they span decades.
    Date-time columns (and columns named like ``hour``) are periodic: hour of day as sine and cosine.

    Attributes
    ----------
    columns:
        The EXIF column names seen in ``fit``; ``transform`` needs the same columns.
    kinds:
        Per column ``"log"``, ``"linear"`` or ``"hour"``.
    stats:
        Per column the mean and scale of the transformed values (``"hour"`` columns are not standardized).
    """

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    stats: tuple[tuple[float, float], ...]

    @staticmethod
    def _raw(column: pd.Series, kind: str | None) -> tuple[str, np.ndarray]:
        name = str(column.name).lower()
        hours = _hour_of_day(column) if kind in (None, "hour") else None
        if hours is not None or kind == "hour":
            return "hour", hours if hours is not None else np.full(len(column), np.nan)
        values = np.array([_parse_number(v) for v in column], dtype=np.float64)
        if kind is None:
            kind = "hour" if "hour" in name else "log" if _LOG_TAG.search(name) else "linear"
        if kind == "log":
            # log of a non-positive exposure or ISO is undefined; such a value reads as missing.
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log(values), np.nan)
        return kind, values

    @classmethod
    def fit(cls, table: pd.DataFrame) -> ExifEncoder:
        kinds, stats = [], []
        for column in table.columns:
            kind, values = cls._raw(table[column], None)
            present = values[np.isfinite(values)]
            if kind == "hour" or present.size == 0:
                stats.append((0.0, 1.0))
            else:
                scale = float(present.std())
                stats.append((float(present.mean()), scale if scale > 1e-12 else 1.0))
            kinds.append(kind)
        return cls(columns=tuple(table.columns), kinds=tuple(kinds), stats=tuple(stats))

    @property
    def n_outputs(self) -> int:
        return sum(3 if kind == "hour" else 2 for kind in self.kinds)

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise DataError(
                f"`exif` lacks the columns {missing} the model was fitted with; pass them (NaN where unknown) "
                "or predict without exif to get the generic score."
            )
        parts: list[np.ndarray] = []
        for column, kind, (mean, scale) in zip(self.columns, self.kinds, self.stats):
            _, values = self._raw(table[column], kind)
            present = np.isfinite(values)
            if kind == "hour":
                angle = 2.0 * np.pi * np.where(present, values, 0.0) / 24.0
                parts += [np.where(present, np.sin(angle), 0.0), np.where(present, np.cos(angle), 0.0)]
            else:
                parts.append(np.where(present, (values - mean) / scale, 0.0))
            parts.append(present.astype(np.float64))
        return np.stack(parts, axis=1).astype(np.float32)


@dataclass
class SideTasks:
    """Side labels encoded for training, and the encoders that read them again at predict time.

    Shared by every multi-task head (``MultitaskMLP`` on features, the SPAQ image heads end to end),
    so both read attributes, EXIF, scenes and distortion the same way.
    """

    targets: dict[str, np.ndarray]
    exif_inputs: np.ndarray | None = None
    attribute_names: tuple[str, ...] | None = None
    attribute_scaler: Standardizer | None = None
    exif_encoder: ExifEncoder | None = None
    scene_names: tuple[str, ...] | None = None
    distortion_classes: tuple[str, ...] | None = None
    distortion_multilabel: bool = False


def encode_side_labels(n: int, *, attributes: object = None, exif: object = None, scenes: object = None,
                       distortion: object = None) -> SideTasks:
    """Validate and encode every side label given (``None`` switches its task off); rows align with the images."""
    tasks = SideTasks(targets={})
    if attributes is not None:
        table = as_table(attributes, "attributes", n, "attribute")
        values = numeric_block(table, "attributes")
        tasks.attribute_scaler = Standardizer.fit(values)
        tasks.attribute_names = tuple(table.columns)
        tasks.targets["attributes"] = tasks.attribute_scaler.transform(values).astype(np.float32)
    if scenes is not None:
        table = as_table(scenes, "scenes", n, "scene")
        tasks.targets["scenes"] = scene_targets(table).astype(np.float32)
        tasks.scene_names = tuple(table.columns)
    if distortion is not None:
        table = as_table(distortion, "distortion", n, "type")
        if table.shape[1] == 1 and not isinstance(distortion, pd.DataFrame):
            table.columns = ["type"]  # a bare 1-D array or Series lists one type per image
        encoder = DistortionEncoder.fit(table)
        tasks.distortion_classes = encoder.classes
        tasks.distortion_multilabel = encoder.multilabel
        tasks.targets["distortion"] = encoder.transform(table)
    if exif is not None:
        table = as_table(exif, "exif", n, "exif")
        tasks.exif_encoder = ExifEncoder.fit(table)
        tasks.exif_inputs = tasks.exif_encoder.transform(table)
    return tasks
