"""Any folder of images with a CSV (or spreadsheet) of scores: the loader for everything else."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.datasets._checks import (
    Source,
    check_duplicates,
    check_root,
    locate_images,
    parse_scores,
    read_table,
    require_columns,
    warn_unlisted,
)
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset


@register_dataset("folder", aliases=("csv", "custom"))
def load_folder(
    root: str | Path,
    labels_csv: str | Path | None = None,
    image_col: str = "image",
    score_col: str = "mos",
    group_col: str | None = None,
    *,
    name: str | None = None,
    scale: Scale | tuple[float, float] | None = None,
) -> Dataset:
    """Load images under ``root`` with scores from a label table, or unlabeled when there is none.

    Layout::

        root/
          labels.csv          one row per image: image_col (path relative to root), score_col,
                              optionally group_col (content id: images sharing it never straddle
                              a train/test split); other columns are ignored
          any/sub/folders/... the images

    Parameters
    ----------
    root:
        The image folder; image paths in the table are relative to it.
    labels_csv:
        The label table: ``.csv``, ``.tsv`` or ``.xlsx``, relative to ``root`` or absolute. ``None``
        loads every image under ``root`` without scores (for scoring new photos).
    image_col, score_col, group_col:
        The table's columns holding the image path, its score and (optionally) its content group.
    name:
        Dataset name (a part of the feature-store key); defaults to the folder name.
    scale:
        The score range as a :class:`Scale` or ``(low, high)`` (higher is better); defaults to the
        observed minimum and maximum, higher is better. Pass a ``Scale`` with
        ``higher_is_better=False`` for DMOS-style scores.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = load_folder("~/photos", "scores.csv", image_col="file", score_col="MOS")  # doctest: +SKIP
    """
    db = "folder"
    root = check_root(db, root, "the images named in the label table")
    name = name or root.name
    if labels_csv is None:
        return Dataset.from_folder(root, name=name)
    path = Path(labels_csv).expanduser()
    if not path.is_absolute() and (root / path).is_file():
        if path.is_file() and (root / path).resolve() != path.resolve():
            warnings.warn(
                f"`{db}`: label file {str(labels_csv)!r} exists in the image folder ({str(root / path)!r}) and in the "
                f"working folder ({str(path.resolve())!r}); reading the one in the image folder. Pass an absolute "
                "path to read the other.",
                UserWarning,
                stacklevel=2,
            )
        path = root / path
    elif not path.is_absolute() and path.is_file():
        warnings.warn(
            f"`{db}`: label file {str(labels_csv)!r} is not in the image folder {str(root)!r}; reading "
            f"{str(path.resolve())!r} from the working folder.",
            UserWarning,
            stacklevel=2,
        )
    if not path.is_file():
        raise DataError(
            f"`{db}`: label file {str(labels_csv)!r} not found (looked in {str(root)!r} and the working folder). "
            "Pass labels_csv as a path relative to the image folder or an absolute path."
        )
    src = Source(db, path)
    table = read_table(path, dtype={image_col: str} | ({group_col: str} if group_col else {}))
    hint = "Name the right ones with image_col=, score_col=, group_col=."
    require_columns(src, table, [image_col, score_col, *([group_col] if group_col else [])], hint)
    if table.empty:
        raise src.fail(f"{src.name} has a header but no rows; add one row per image.")
    rows = [i + 2 for i in range(len(table))]
    ids = _cells(src, table, image_col, rows, "image name")
    mos = parse_scores(src, table[score_col], rows, score_col)
    check_duplicates(src, ids, rows)
    paths = locate_images(src, root, ids, rows)
    warn_unlisted(src, root, paths, recursive=True)
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=_scale(scale, mos),
        groups=np.asarray(_cells(src, table, group_col, rows, "content group")) if group_col else None,
        name=name,
        root=root,
    )


def _cells(src: Source, table: Any, column: str, rows: list[int], what: str) -> list[str]:
    """The column's cells as stripped text, or an error naming every row whose cell is empty."""
    values = [("" if pd.isna(v) else str(v)).strip() for v in table[column]]
    empty = [rows[i] for i, v in enumerate(values) if not v]
    if empty:
        shown = ", ".join(str(r) for r in empty[:5]) + (" ..." if len(empty) > 5 else "")
        raise src.fail(f"{src.name} has no {what} in column {column!r} at row{'s' if len(empty) > 1 else ''} {shown}; fill those cells or delete the rows.")
    return values


def _scale(scale: Scale | tuple[float, float] | None, mos: np.ndarray) -> Scale:
    """The user's scale, or the observed range when none is given."""
    if isinstance(scale, Scale):
        return scale
    if scale is None:
        return Scale(low=float(mos.min()), high=float(mos.max())) if mos.size else Scale(low=0.0, high=1.0)
    if len(scale) != 2 or not scale[0] < scale[1]:
        raise ConfigError(f"scale={scale!r}; pass (low, high) with low < high, or a Scale.")
    return Scale(low=float(scale[0]), high=float(scale[1]))
