"""SCPQD2020 (smartphone camera photo quality database): per-scene ranks on four aspects."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import ConfigError
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

ASPECTS = ("texture", "color", "noise", "exposure")
LABEL_FILES = ("scpqd2020.csv", "scpqd2020.xlsx", "labels.csv", "labels.xlsx")
TARGETS = ("overall", *ASPECTS, "mean-rank")
_ALIASES = {"colour": "color", "img": "image", "image_name": "image", "name": "image", "scene_id": "scene"}
_WHERE = (
    "SCPQD2020 is not published with a fixed label layout; write its ranks into one of these files "
    "(columns image, scene, texture, color, noise, exposure, optional overall; see docs/datasets.md) "
    "or pass labels=PATH."
)


@register_dataset("scpqd2020", aliases=("scpqd",))
def load_scpqd2020(
    root: str | Path,
    *,
    labels: str | Path | None = None,
    target: str | None = None,
    image_dir: str = "images",
) -> Dataset:
    """Load SCPQD2020 (1,500 photos: 100 scenes x 15 smartphones, ranked within each scene).

    The database gives no absolute scores: for each scene, three photographers ranked its 15
    photos from 1 (best) to 15 on texture, color, noise and exposure (seed paper 000). This loader
    reads those ranks from one table, the layout it supports::

        root/
          scpqd2020.csv | scpqd2020.xlsx | labels.csv | labels.xlsx
              image      path under images/ (e.g. 001/phone07.jpg)
              scene      scene id; photos of one scene share it
              texture, color, noise, exposure   rank within the scene, 1 = best
              overall    optional overall quality score (higher is better)
          images/        the photos

    Column names are matched without regard to case (``Colour`` and ``image_name`` work too).

    Parameters
    ----------
    root:
        The folder holding the label table and ``images/``.
    labels:
        The label table (relative to ``root`` or absolute) when it has another name.
    target:
        What ``mos`` holds: ``"overall"`` (default when that column exists), one aspect
        (``"texture"``, ``"color"``, ``"noise"``, ``"exposure"``: that rank, lower is better, as seed
        000 trains one model per aspect), or ``"mean-rank"`` (default otherwise: the mean of the
        four ranks, lower is better).
    image_dir:
        The image folder under ``root``.

    Returns
    -------
    Dataset
        Groups are the scenes, since ranks compare photos only within a scene; ``aspects`` holds
        the four ranks as integers.

    Notes
    -----
    Described by W. Zhu et al., "A multiple attributes image quality database for smartphone
    camera photo quality assessment", arXiv:2003.01299 (2020).
    """
    root = check_root("scpqd2020", root, f"a rank table ({', '.join(LABEL_FILES)}) and {image_dir}/")
    path = find_file("scpqd2020", root, [str(labels)] if labels is not None else list(LABEL_FILES), _WHERE)
    src = Source("scpqd2020", path)
    table = read_table(path, dtype=str)
    table.columns = [_ALIASES.get(_norm(c), _norm(c)) for c in table.columns]
    require_columns(src, table, ["image", "scene", *ASPECTS])
    has_overall = "overall" in table.columns
    target = target or ("overall" if has_overall else "mean-rank")
    if target not in TARGETS or (target == "overall" and not has_overall):
        choices = [t for t in TARGETS if has_overall or t != "overall"]
        raise ConfigError(f"`scpqd2020`: target={target!r}; {src.name} supports {', '.join(choices)}.")
    rows = [i + 2 for i in range(len(table))]
    ids = table["image"].str.strip().tolist()
    check_duplicates(src, ids, rows)
    ranks = pd.DataFrame({aspect: _ranks(src, table[aspect], rows, aspect) for aspect in ASPECTS})
    if target == "overall":
        mos = parse_scores(src, table["overall"], rows, "overall")
        scale = Scale(low=float(np.floor(mos.min())), high=float(np.ceil(mos.max())), higher_is_better=True)
    else:
        mos = ranks.mean(axis=1).to_numpy() if target == "mean-rank" else ranks[target].to_numpy(dtype=float)
        scale = Scale(low=1.0, high=float(ranks.to_numpy().max()), higher_is_better=False, kind="rank")
    folder = root / image_dir
    paths = locate_images(src, folder, ids, rows)
    warn_unlisted(src, folder, paths, recursive=True)
    return Dataset(
        ids=ids,
        paths=paths,
        mos=mos,
        scale=scale,
        groups=table["scene"].str.strip().to_numpy(),
        name="scpqd2020",
        aspects=ranks.astype("Int64"),
        root=root,
    )


def _norm(column: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(column).strip().lower())


def _ranks(src: Source, values: pd.Series, rows: list[int], aspect: str) -> np.ndarray:
    """One aspect's ranks: parsed like scores, then required to be whole numbers from 1."""
    ranks = parse_scores(src, values, rows, aspect)
    bad = np.flatnonzero((ranks < 1) | (ranks != np.round(ranks)))
    if bad.size:
        raise src.fail(
            f"{aspect!r} must hold ranks 1, 2, ... (1 = best) but row {rows[bad[0]]} has {values.iloc[bad[0]]!r}. "
            "Fix that cell."
        )
    return ranks
