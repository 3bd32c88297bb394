"""CSIQ (Categorical Subjective Image Quality) database, read from ``csiq.DMOS.xlsx`` or a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepfeat_iqa.datasets._checks import (
    Source,
    check_duplicates,
    check_root,
    find_file,
    locate_images,
    parse_scores,
    read_table,
    require_columns,
    warn_unlisted,
)
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset

#: ``dst_type`` as the spreadsheet writes it -> (folder under dst_imgs/, token in the file name).
TYPES = {
    "noise": ("awgn", "AWGN"),
    "jpeg": ("jpeg", "JPEG"),
    "jpeg 2000": ("jpeg2000", "jpeg2000"),
    "fnoise": ("fnoise", "fnoise"),
    "blur": ("blur", "BLUR"),
    "contrast": ("contrast", "contrast"),
}
SCALE = Scale(low=0.0, high=1.0, higher_is_better=False, kind="DMOS")
SHEET = "all_by_image"
_WHERE = "It ships with CSIQ (https://s2.smu.edu/~eclarson/csiq.html); or pass labels=PATH to a CSV."


@register_dataset("csiq")
def load_csiq(root: str | Path, *, labels: str | Path | None = None) -> Dataset:
    """Load CSIQ (866 distorted images of 30 references, six distortions, DMOS 0-1).

    Layout::

        root/
          csiq.DMOS.xlsx       sheet "all_by_image": header row with image, dst_idx, dst_type,
                               dst_lev, dmos_std, dmos (the publisher's title rows above it are skipped)
          dst_imgs/<type>/<image>.<TYPE>.<level>.png   e.g. dst_imgs/awgn/1600.AWGN.1.png
          src_imgs/<image>.png                          the references (not scored)

    ``dst_type`` maps to folders and file tokens as noise -> awgn/AWGN, jpeg -> jpeg/JPEG,
    jpeg 2000 -> jpeg2000/jpeg2000, fnoise -> fnoise/fnoise, blur -> blur/BLUR,
    contrast -> contrast/contrast. File names are matched without regard to case.

    Parameters
    ----------
    root:
        The folder holding ``csiq.DMOS.xlsx`` and ``dst_imgs/``.
    labels:
        Another label file instead of ``csiq.DMOS.xlsx`` (relative to ``root`` or absolute): a
        spreadsheet laid out like it, or a CSV with columns ``dist_name`` (``1600.AWGN.1.png``)
        and ``dmos`` (pyiqa's ``meta_info_CSIQDataset.csv`` has this form).

    Returns
    -------
    Dataset
        DMOS in 0-1 (lower is better); groups are the reference names; ``distortion`` holds
        ``type`` (the folder name: awgn, jpeg, jpeg2000, fnoise, blur, contrast) and ``level`` (1-5).

    Notes
    -----
    Published by E. C. Larson and D. M. Chandler: https://s2.smu.edu/~eclarson/csiq.html
    """
    root = check_root("csiq", root, "csiq.DMOS.xlsx and dst_imgs/")
    path = find_file("csiq", root, [str(labels) if labels is not None else "csiq.DMOS.xlsx"], _WHERE)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        table, rows = _read_workbook(path)
        src = Source("csiq", path)
        ids, refs, types, levels = _names_from_workbook(src, table, rows)
        scores = table["dmos"]
    else:
        src = Source("csiq", path)
        table = read_table(path)
        rows = [i + 2 for i in range(len(table))]
        require_columns(src, table, ["dist_name", "dmos"], "Expected pyiqa's CSIQ layout: dist_name, dmos.")
        ids, refs, types, levels = _names_from_files(src, table["dist_name"].astype(str).tolist(), rows)
        scores = table["dmos"]
    mos = parse_scores(src, scores, rows, "dmos")
    check_duplicates(src, ids, rows)
    folder = root / "dst_imgs"
    paths = locate_images(src, folder, ids, rows, ignore_case=True)
    warn_unlisted(src, folder, paths, recursive=True)
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=SCALE,
        groups=np.asarray(refs),
        name="csiq",
        distortion=pd.DataFrame({"type": types, "level": pd.array(levels, dtype="Int64")}),
        root=root,
    )


def _read_workbook(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """The ``all_by_image`` sheet from its header row on, and each data row's spreadsheet row number."""
    src = Source("csiq", path)
    with pd.ExcelFile(path) as book:
        sheet = SHEET if SHEET in book.sheet_names else book.sheet_names[0]
        grid = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    for r in range(len(grid)):
        cells = [str(c).strip().lower() for c in grid.iloc[r].tolist()]
        if "image" in cells and "dmos" in cells:
            table = grid.iloc[r + 1 :].copy()
            table.columns = [c if c != "nan" else f"_{i}" for i, c in enumerate(cells)]
            table = table[table["image"].notna()]
            return table.reset_index(drop=True), [int(i) + 1 for i in table.index]
    raise src.fail(
        f"{src.name} sheet {sheet!r} has no header row with 'image' and 'dmos'. "
        "Use the workbook as published (columns image, dst_idx, dst_type, dst_lev, dmos_std, dmos)."
    )


def _names_from_workbook(src: Source, table: pd.DataFrame, rows: list[int]) -> tuple[list, list, list, list]:
    """Image paths (relative to dst_imgs/), references, types and levels from spreadsheet rows."""
    require_columns(src, table, ["image", "dst_type", "dst_lev", "dmos"])
    ids, refs, types, levels = [], [], [], []
    for row, image, kind, level in zip(rows, table["image"], table["dst_type"], table["dst_lev"]):
        kind = str(kind).strip().lower()
        if kind not in TYPES:
            raise src.fail(f"row {row} has dst_type {kind!r}; CSIQ's types are {', '.join(sorted(TYPES))}.")
        ref = str(int(image)) if isinstance(image, (int, float)) and float(image).is_integer() else str(image).strip()
        level_number = pd.to_numeric(pd.Series([level]), errors="coerce").iloc[0]
        if not np.isfinite(level_number):
            raise src.fail(f"row {row} has dst_lev {level!r}; levels are whole numbers 1-5. Fix that cell.")
        level_number = int(level_number)
        folder, token = TYPES[kind]
        ids.append(f"{folder}/{ref}.{token}.{level_number}.png")
        refs.append(ref)
        types.append(folder)
        levels.append(level_number)
    return ids, refs, types, levels


def _names_from_files(src: Source, names: list[str], rows: list[int]) -> tuple[list, list, list, list]:
    """The same four lists from CSIQ file names of the form ``<image>.<TYPE>.<level>.png``."""
    folders = {token.lower(): folder for folder, token in TYPES.values()}
    ids, refs, types, levels = [], [], [], []
    for row, name in zip(rows, names):
        parts = Path(name).name.split(".")
        if len(parts) != 4 or parts[1].lower() not in folders or not parts[2].isdigit():
            raise src.fail(f"row {row}: {name!r} is not a CSIQ name like '1600.AWGN.1.png'.")
        folder = folders[parts[1].lower()]
        ids.append(f"{folder}/{Path(name).name}")
        refs.append(parts[0])
        types.append(folder)
        levels.append(int(parts[2]))
    return ids, refs, types, levels
