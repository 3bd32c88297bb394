"""SPAQ (Smartphone Photography Attribute and Quality), read from its three annotation workbooks."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from deepfeat_iqa.datasets._checks import (
    Source,
    check_duplicates,
    check_root,
    find_file,
    locate_images,
    parse_scores,
    plural,
    read_table,
    require_columns,
    warn_unlisted,
)
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.datasets._registry import register_dataset

logger = logging.getLogger(__name__)

MOS_XLSX = "Annotations/MOS and Image attribute scores.xlsx"
SCENE_XLSX = "Annotations/Scene category labels.xlsx"
EXIF_XLSX = "Annotations/EXIF_tags.xlsx"
IMAGE_COL = "Image name"
#: Workbook column -> attribute column (each 0-100, like the MOS).
ATTRIBUTES = {
    "Brightness": "brightness",
    "Colorfulness": "colorfulness",
    "Contrast": "contrast",
    "Noisiness": "noisiness",
    "Sharpness": "sharpness",
}
#: Normalized workbook column -> scene column.
SCENES = {
    "animal": "animal",
    "cityscape": "cityscape",
    "human": "human",
    "indoorscene": "indoor",
    "landscape": "landscape",
    "nightscene": "night",
    "plant": "plant",
    "stilllife": "still_life",
    "others": "others",
}
#: Normalized workbook column -> EXIF column (the time tag is handled apart: it spans two columns).
EXIF = {
    "focallength": "focal_length",
    "fnumber": "f_number",
    "exposuretime": "exposure_time",
    "iso": "iso",
    "brightness": "brightness_value",
    "flash": "flash",
}
SCALE = Scale(low=0.0, high=100.0, higher_is_better=True, kind="MOS")
_WHERE = "It ships in SPAQ's Annotations folder (https://github.com/h4nwei/SPAQ)."


@register_dataset("spaq")
def load_spaq(root: str | Path, *, exif_sheet: str | int = 0) -> Dataset:
    """Load SPAQ (11,125 smartphone photos with MOS, 5 attributes, 9 scene labels and 7 EXIF tags).

    Layout (the archive unpacked as it comes)::

        root/
          TestImage/00001.jpg ...
          Annotations/MOS and Image attribute scores.xlsx   Image name, MOS, Brightness, Colorfulness,
                                                            Contrast, Noisiness, Sharpness
          Annotations/Scene category labels.xlsx            Image name, Animal, Cityscape, Human,
                                                            Indoor scene, Landscape, Night scene,
                                                            Plant, Still-life, Others
          Annotations/EXIF_tags.xlsx                        Image name, Focal length, F-number,
                                                            Exposure time, ISO, Brightness, Flash,
                                                            Time (two columns)

    The MOS workbook is required; the scene and EXIF workbooks fill ``scenes`` and ``exif`` when
    present (a missing one is logged and its table left empty). Rows are matched by image name.

    Parameters
    ----------
    root:
        The folder holding ``TestImage/`` and ``Annotations/``.
    exif_sheet:
        Sheet of ``EXIF_tags.xlsx`` to read: the first (default) holds the encoded tags the
        paper's MT-E model uses; ``"Source EXIF tags"`` holds the raw values.

    Returns
    -------
    Dataset
        MOS 0-100 (higher is better); every photo is its own group.
        ``attributes``: brightness, colorfulness, contrast, noisiness, sharpness (0-100).
        ``scenes``: animal, cityscape, human, indoor, landscape, night, plant, still_life, others
        as booleans (the workbook spreads 1 over an image's labels, e.g. 0.5 and 0.5 for two;
        any share above 0 is a label).
        ``exif``: focal_length, f_number, exposure_time, iso, brightness_value (floats, missing
        tags NaN), flash (boolean), and the time tag as ``time_cos``/``time_sin`` (the
        workbook's periodic encoding of the hour over two columns) or ``time`` when one column.

    Notes
    -----
    Published by Y. Fang et al. (CVPR 2020): https://github.com/h4nwei/SPAQ
    """
    root = check_root("spaq", root, "TestImage/ and Annotations/")
    path = find_file("spaq", root, [MOS_XLSX], _WHERE)
    src = Source("spaq", path)
    table = read_table(path, dtype={IMAGE_COL: str})
    require_columns(src, table, [IMAGE_COL, "MOS", *ATTRIBUTES])
    rows = [i + 2 for i in range(len(table))]
    ids = table[IMAGE_COL].str.strip().tolist()
    mos = parse_scores(src, table["MOS"], rows, "MOS")
    check_duplicates(src, ids, rows)
    attributes = pd.DataFrame({new: parse_scores(src, table[old], rows, old) for old, new in ATTRIBUTES.items()})
    folder = root / "TestImage"
    paths = locate_images(src, folder, ids, rows)
    warn_unlisted(src, folder, paths)
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=SCALE,
        name="spaq",
        attributes=attributes,
        scenes=_scenes(root, ids),
        exif=_exif(root, ids, exif_sheet),
        root=root,
    )


def _norm(column: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(column).lower())


def _side_table(root: Path, relative: str, ids: list[str], **options: object) -> tuple[Source, pd.DataFrame] | None:
    """A side workbook reindexed to ``ids`` (with its spreadsheet rows in ``_row``), or None if absent."""
    path = root / relative
    if not path.is_file():
        logger.warning("`spaq`: %s not found under %s; loading without it.", relative, root)
        return None
    src = Source("spaq", path)
    table = read_table(path, dtype={IMAGE_COL: str}, **options)
    require_columns(src, table, [IMAGE_COL])
    table["_row"] = range(2, len(table) + 2)
    names = table[IMAGE_COL].astype(str).str.strip()
    check_duplicates(src, names.tolist(), table["_row"].tolist())
    table.index = pd.Index(names)
    absent = [i for i in ids if i not in table.index]
    if absent:
        raise src.fail(
            f"{plural(len(absent), 'image')} of the MOS workbook have no row in {src.name} (first: {absent[0]}). "
            "Use the annotation files of one SPAQ release."
        )
    return src, table.loc[ids]


def _scenes(root: Path, ids: list[str]) -> pd.DataFrame | None:
    """The nine scene labels as booleans."""
    found = _side_table(root, SCENE_XLSX, ids)
    if found is None:
        return None
    src, table = found
    columns = {_norm(c): c for c in table.columns}
    missing = [c for c in SCENES if c not in columns]
    if missing:
        raise src.fail(
            f"{src.name} lacks scene columns {missing} (columns: {', '.join(map(str, table.columns))}). "
            "Use the workbook as published."
        )
    rows = table["_row"].tolist()
    return pd.DataFrame(
        {new: parse_scores(src, table[columns[old]], rows, str(columns[old])) > 0 for old, new in SCENES.items()}
    )


def _exif(root: Path, ids: list[str], sheet: str | int) -> pd.DataFrame | None:
    """The EXIF tags, numeric, with missing tags kept as NaN (some phones do not record them)."""
    found = _side_table(root, EXIF_XLSX, ids, sheet_name=sheet)
    if found is None:
        return None
    src, table = found
    columns = {_norm(c): c for c in table.columns}
    missing = [c for c in EXIF if c not in columns]
    if missing:
        raise src.fail(f"{src.name} lacks EXIF columns {missing} (columns: {', '.join(map(str, table.columns))}).")
    out = pd.DataFrame(
        {new: pd.to_numeric(table[columns[old]], errors="coerce").to_numpy(dtype=float) for old, new in EXIF.items()}
    )
    out["flash"] = pd.array([None if pd.isna(v) else v != 0 for v in out["flash"]], dtype="boolean")
    names = list(table.columns)
    time_at = [i for i, c in enumerate(names) if _norm(c).startswith("time")]
    if time_at:
        span = [names[time_at[0]]]
        for column in names[time_at[0] + 1 :]:
            if not (str(column).startswith("Unnamed") or _norm(column).startswith("time")):
                break
            span.append(column)
        if len(span) == 2:
            out["time_cos"] = pd.to_numeric(table[span[0]], errors="coerce").to_numpy(dtype=float)
            out["time_sin"] = pd.to_numeric(table[span[1]], errors="coerce").to_numpy(dtype=float)
        else:
            out["time"] = table[span[0]].to_numpy()
    return out
