"""Build a KADID-like distorted set with pseudo-MOS from any pristine photos: :func:`build`, :func:`load`."""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from PIL import Image, features

from deepfeat_iqa.runtime.progress import progress as with_progress
from deepfeat_iqa.datasets import IMAGE_SUFFIXES, Dataset, Scale
from deepfeat_iqa.datasets._checks import Source, check_root, find_file, locate_images, warn_unlisted
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.synth._authentic import AUTHENTIC_DISTORTIONS, AUTHENTIC_LABELS, apply_mixture, multi_hot, sample_mixture
from deepfeat_iqa.synth._synthetic import SYNTHETIC_CLASSES, SYNTHETIC_DISTORTIONS

logger = logging.getLogger(__name__)

KINDS = ("synthetic", "authentic")
LABELS_CSV = "labels.csv"
BUILD_JSON = "build.json"
#: Distorted versions per reference when ``per_image`` is not given: all 39 synthetic classes; 20
#: authentic mixtures (seed 002 draws ~62 per photo from a far larger pool of photos than ours).
DEFAULT_PER_IMAGE = {"synthetic": len(SYNTHETIC_CLASSES), "authentic": 20}
#: References are downscaled to fit this many pixels per side first (KADID-10k's 512x384 scale);
#: the distortion parameters are tuned for photos of this size.
DEFAULT_MAX_SIDE = 512
#: The settings that decide which images a folder holds; a rerun must match them to reuse the folder.
_CACHE_KEY = ("kind", "per_image", "seed", "max_side")


def build(
    references: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    kind: str = "synthetic",
    *,
    per_image: int | None = None,
    seed: int = 0,
    max_side: int | None = DEFAULT_MAX_SIDE,
    n_jobs: int = 1,
    rule: str = "rank",
    progress: bool = True,
) -> Dataset:
    """Distort each reference photo, score every result against it, and write a labelled set.

    Parameters
    ----------
    references:
        A folder of photos (searched recursively) or a list of image paths. Each reference's id is
        its file stem, so stems must be unique.
    out_dir:
        Where the set goes: ``references/<ref>.png`` (the downscaled reference the metrics used),
        ``images/<ref>/<id>.png``, ``rows/<ref>.csv`` (per-reference cache), ``labels.csv`` and
        ``build.json`` (settings, seed, level tables, library versions).
    kind:
        ``"synthetic"``: one of seed 002's 39 type-level classes per image (labels ``type``,
        ``level``, ``class``). ``"authentic"``: a random mixture of 1-3 authentic-like types per
        image (the 26 multi-hot columns; ``labels.csv`` also has ``type``/``level`` joined by ``+``).
    per_image:
        Distorted versions per reference. Synthetic: default all 39; fewer picks a seeded random
        subset of classes per reference. Authentic: default 20 distinct mixtures.
    seed:
        Decides the class subsets, the mixtures and the noise; the same seed rebuilds the same set.
    max_side:
        Downscale references to fit ``max_side`` px per side before distorting (default 512; the
        distortion levels are tuned for 384-512 px). ``None`` keeps the full size.
    n_jobs:
        Parallel workers over references (joblib; ``-1`` uses every core).
    rule:
        How the six metrics are put on one scale for the pseudo-MOS (see :func:`pseudo_mos`).
    progress:
        Show progress over references: a bar on a terminal, else a log line per stage (``deepfeat_iqa.progress``).

    Returns
    -------
    Dataset
        Pseudo-MOS on 0-100 (``Scale(kind="pseudo-MOS")``), ``groups`` = reference id, and the
        distortion labels as the ``distortion`` table. The raw metrics are columns of ``labels.csv``.

    Notes
    -----
    Resumable: images already on disk with their metrics in ``rows/`` are not redone, and a rerun
    with nothing new reads no image. The pseudo-MOS is always recomputed over all rows, because it
    is relative to the whole generated set.
    """
    if kind not in KINDS:
        raise ConfigError(f"Unknown synth kind {kind!r}; choose 'synthetic' or 'authentic'.")
    per_image = _check_per_image(kind, per_image)
    if max_side is not None and int(max_side) < 32:
        raise ConfigError(f"max_side={max_side} is too small; use >= 32 (161+ keeps all five MS-SSIM scales).")
    out_dir = Path(out_dir).expanduser()
    max_side = None if max_side is None else int(max_side)
    settings = {"kind": kind, "per_image": per_image, "seed": int(seed), "max_side": max_side}
    sources = _reference_paths(references)
    _check_previous_settings(out_dir, settings)
    finished = _finished(out_dir, settings, rule, sources)
    if finished is not None:  # nothing new to make: read it back without the metrics (torch, piq)
        return finished
    from deepfeat_iqa.synth._pseudo_mos import pseudo_mos

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / BUILD_JSON, settings)  # now, so an interrupted run resumes only with the same settings
    jobs = [
        delayed(_build_reference)(ref_id, path, out_dir, _plan(ref_id, settings), settings)
        for ref_id, path in sources.items()
    ]

    parts: list[pd.DataFrame] = []
    new = 0
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    bar = with_progress(results, len(jobs), f"synth {kind} -> {out_dir}", "ref", enabled=progress)
    for rows, made in bar:
        parts.append(rows)
        new += made
    frame = pd.concat(parts, ignore_index=True)
    frame["pseudo_mos"] = pseudo_mos(frame, rule=rule)
    _atomic_csv(frame, out_dir / LABELS_CSV)
    _write_json(out_dir / BUILD_JSON, {**settings, "rule": rule, "n_references": len(sources), "n_images": len(frame)})
    logger.info("synth %s: %d images of %d references in %s (%d new).", kind, len(frame), len(sources), out_dir, new)
    return _dataset(frame, out_dir)


def _finished(out_dir: Path, settings: dict, rule: str, sources: dict[str, Path]) -> Dataset | None:
    """The set of a previous ``build`` with these settings, rule and references, read back; else ``None``.

    Equal to what a rebuild would return (each reference's rows are cached and the pseudo-MOS of the same rows
    under the same rule is the same), without importing the metrics: a smoke rerun of a finished experiment
    file then costs no torch import.
    """
    record, labels = out_dir / BUILD_JSON, out_dir / LABELS_CSV
    if not (record.is_file() and labels.is_file()):
        return None
    recorded = json.loads(record.read_text())
    expected = {**settings, "rule": rule, "n_references": len(sources)}
    if any(recorded.get(key) != value for key, value in expected.items()):
        return None
    frame = _read_rows(labels)
    if set(frame["reference"]) != set(sources) or not all((out_dir / path).is_file() for path in frame["path"]):
        return None
    return _dataset(frame, out_dir)


def load(out_dir: str | Path) -> Dataset:
    """Read back a set written by :func:`build` (its ``labels.csv``) without touching any image."""
    out_dir = Path(out_dir).expanduser()
    labels = out_dir / LABELS_CSV
    if not labels.is_file():
        raise DataError(
            f"No {LABELS_CSV} under {str(out_dir)!r}; create the set with dfi.synth.build(references, out_dir)."
        )
    return _dataset(_read_rows(labels), out_dir)


def load_synth(root: str | Path) -> Dataset:
    """Read back the ``labels.csv`` of a set :func:`deepfeat_iqa.synth.build` wrote under ``root``.

    Layout (what ``build`` writes)::

        root/
          labels.csv   id, path, reference, pseudo_mos, type/level/class (or the 26 authentic labels)
          images/      <reference>/<id>.png

    Scores are the pseudo-MOS, groups the reference photo, and the distortion labels the
    ``distortion`` table. The images are checked like every loader's (all missing ones named in one
    error, strays warned about) but not opened. The synth package is imported only here, so loading a
    published database never imports the full-reference metrics.
    """
    root = check_root("synth", root, f"{LABELS_CSV} and images/ written by dfi.synth.build")
    path = find_file("synth", root, [LABELS_CSV], "Create the set with dfi.synth.build(references, out_dir) or `deepfeat-iqa synth`.")
    dataset = load(root)
    folder = root / "images"
    names = [Path(p).relative_to(folder).as_posix() for p in dataset.paths]
    src = Source("synth", path)
    locate_images(src, folder, names, [i + 2 for i in range(len(names))])
    warn_unlisted(src, folder, dataset.paths, recursive=True)
    return dataset


# -- planning -----------------------------------------------------------------------------------
def _check_per_image(kind: str, per_image: int | None) -> int:
    if per_image is None:
        return DEFAULT_PER_IMAGE[kind]
    upper = len(SYNTHETIC_CLASSES) if kind == "synthetic" else 500
    if not 1 <= int(per_image) <= upper:
        raise ConfigError(f"per_image={per_image} for {kind!r} must be in 1..{upper}.")
    return int(per_image)


def _reference_rng(ref_id: str, seed: int, *extra: int) -> np.random.Generator:
    """A generator owned by one reference (and item), so adding references never reshuffles others."""
    return np.random.default_rng([seed, zlib.crc32(ref_id.encode()), *extra])


def _plan(ref_id: str, settings: dict) -> list[dict]:
    """The distorted images one reference gets: id, label columns, and how to make the image."""
    rng = _reference_rng(ref_id, settings["seed"])
    per_image = settings["per_image"]
    if settings["kind"] == "synthetic":
        chosen = range(len(SYNTHETIC_CLASSES))
        if per_image < len(SYNTHETIC_CLASSES):
            chosen = sorted(rng.choice(len(SYNTHETIC_CLASSES), size=per_image, replace=False).tolist())
        plan = []
        for index in chosen:
            name, level = SYNTHETIC_CLASSES[index]
            plan.append({"id": f"{ref_id}__{name}-{level}", "type": name, "level": level, "class": index})
        return plan
    mixtures: dict[tuple, list[tuple[str, int]]] = {}
    while len(mixtures) < per_image:
        mixture = sample_mixture(rng)
        mixtures.setdefault(tuple(mixture), mixture)
    plan = []
    for k, mixture in enumerate(mixtures.values()):
        row = {
            "id": f"{ref_id}__mix{k:03d}",
            "type": "+".join(name for name, _ in mixture),
            "level": "+".join(str(level) for _, level in mixture),
        }
        row.update(zip(AUTHENTIC_LABELS, multi_hot(mixture).tolist()))
        plan.append(row)
    return plan


def _reference_paths(references: str | Path | Sequence[str | Path]) -> dict[str, Path]:
    """Reference id (file stem) -> path, from a folder or a list; duplicate stems are an error."""
    if isinstance(references, (str, Path)):
        folder = Path(references).expanduser()
        if not folder.is_dir():
            raise DataError(
                f"Reference folder {str(folder)!r} does not exist; pass a folder of photos or a list of paths."
            )
        paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        paths = [Path(p).expanduser() for p in references]
    if not paths:
        raise DataError(f"No reference photos found in {references!r} ({', '.join(IMAGE_SUFFIXES)}).")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} reference photos do not exist (first: {missing[:3]}).")
    sources: dict[str, Path] = {}
    for path in paths:
        if path.stem in sources:
            raise DataError(
                f"Two references share the id {path.stem!r} ({sources[path.stem]} and {path}); "
                "reference ids are file stems, so rename one."
            )
        sources[path.stem] = path
    return sources


def _check_previous_settings(out_dir: Path, settings: dict) -> None:
    previous = out_dir / BUILD_JSON
    if not previous.is_file():
        return
    recorded = json.loads(previous.read_text())
    changed = {key: (recorded.get(key), settings[key]) for key in _CACHE_KEY if recorded.get(key) != settings[key]}
    if changed:
        shown = ", ".join(f"{key}: {old!r} -> {new!r}" for key, (old, new) in changed.items())
        raise ConfigError(
            f"{str(out_dir)!r} holds a set built with other settings ({shown}); "
            "build into another out_dir, or pass the recorded settings to resume it."
        )


# -- work (runs in joblib workers) ----------------------------------------------------------------
def _build_reference(
    ref_id: str, source: Path, out_dir: Path, plan: list[dict], settings: dict
) -> tuple[pd.DataFrame, int]:
    """Make and score one reference's images, reusing every row cached in ``rows/<ref>.csv``."""
    cache_path = out_dir / "rows" / f"{ref_id}.csv"
    cached = pd.DataFrame()
    if cache_path.is_file():
        cached = _read_rows(cache_path).set_index("id")
    todo = [
        item
        for item in plan
        if item["id"] not in cached.index or not (out_dir / cached.at[item["id"], "path"]).is_file()
    ]
    if not todo:
        return cached.loc[[item["id"] for item in plan]].reset_index(), 0

    from deepfeat_iqa.synth._pseudo_mos import fr_metrics

    reference = _reference_image(source, out_dir / "references" / f"{ref_id}.png", settings["max_side"])
    image_dir = out_dir / "images" / ref_id
    image_dir.mkdir(parents=True, exist_ok=True)
    fresh = []
    for item in todo:
        rng = _reference_rng(ref_id, settings["seed"], zlib.crc32(item["id"].encode()))
        if settings["kind"] == "synthetic":
            distorted = SYNTHETIC_DISTORTIONS[item["type"]](reference, int(item["level"]), rng)
        else:
            mixture = list(zip(item["type"].split("+"), map(int, str(item["level"]).split("+"))))
            distorted = apply_mixture(reference, mixture, rng)
        relative = Path("images") / ref_id / f"{item['id']}.png"
        _save_png(distorted, out_dir / relative)
        labels = {"path": relative.as_posix(), "reference": ref_id, "kind": settings["kind"]}
        fresh.append({**item, **labels, **fr_metrics(distorted, reference)})
    fresh_frame = pd.DataFrame(fresh).set_index("id")
    kept = cached.drop(index=fresh_frame.index, errors="ignore")
    rows = pd.concat([kept, fresh_frame]).loc[[item["id"] for item in plan]].reset_index()
    rows = rows[_columns(settings["kind"])]
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_csv(rows, cache_path)
    return rows, len(fresh)


def _read_rows(path: Path) -> pd.DataFrame:
    """Read a labels/rows CSV back with the types :func:`build` wrote (synthetic levels int, mixtures str)."""
    frame = pd.read_csv(path, dtype={"id": str, "path": str, "reference": str, "level": str})
    if len(frame) and frame["kind"].iloc[0] == "synthetic":
        frame["level"] = frame["level"].astype(int)
    return frame


def _columns(kind: str) -> list[str]:
    from deepfeat_iqa.synth._pseudo_mos import FR_METRICS

    labels = ["class"] if kind == "synthetic" else AUTHENTIC_LABELS
    return ["id", "path", "reference", "kind", "type", "level", *labels, *FR_METRICS]


def _reference_image(source: Path, saved: Path, max_side: int | None) -> np.ndarray:
    """The reference as the metrics see it: downscaled once, saved as PNG, and read back from there."""
    if not saved.is_file():
        try:
            with Image.open(source) as opened:
                image = opened.convert("RGB")
        except OSError as error:
            raise DataError(f"Cannot read reference photo {str(source)!r}: {error}") from error
        if max_side is not None:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        _save_png(np.asarray(image), saved)
    with Image.open(saved) as opened:
        return np.asarray(opened.convert("RGB"))


def _save_png(image: np.ndarray, path: Path) -> None:
    """Write a PNG via a temporary name, so an interrupted run never leaves a half file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    Image.fromarray(image).save(partial, format="PNG", compress_level=3)
    os.replace(partial, path)


def _atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    partial = path.with_name(path.name + ".part")
    frame.to_csv(partial, index=False)
    os.replace(partial, path)


def _write_json(path: Path, settings: dict) -> None:
    """Record the settings, level tables and library versions next to the labels."""
    from deepfeat_iqa.synth._pseudo_mos import FR_METRICS

    packages = ("numpy", "pillow", "scikit-image", "scipy", "piq", "torch", "pandas", "deepfeat-iqa")
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["openjpeg"] = features.version("jpg_2000")
    registry = SYNTHETIC_DISTORTIONS if settings["kind"] == "synthetic" else AUTHENTIC_DISTORTIONS
    levels = {name: {"parameter": d.parameter, "levels": list(d.levels)} for name, d in registry.items()}
    record = {**settings, "levels": levels, "metrics": list(FR_METRICS), "versions": versions}
    path.write_text(json.dumps(record, indent=2))


def _dataset(frame: pd.DataFrame, out_dir: Path) -> Dataset:
    """Wrap a labels frame as a Dataset.

    The ``distortion`` table is what the multitask head reads: for synthetic sets ``type`` and
    ``level`` (as the database loaders write them) and ``class`` (index into SYNTHETIC_CLASSES);
    for authentic sets only the 26 multi-hot columns, which the head trains with BCE.
    """
    if frame["kind"].iloc[0] == "synthetic":
        distortion = frame[["type", "level", "class"]].astype({"level": "Int64"})
    else:
        distortion = frame[AUTHENTIC_LABELS]
    return Dataset(
        ids=frame["id"].tolist(),
        paths=[out_dir / p for p in frame["path"]],
        mos=frame["pseudo_mos"].to_numpy(),
        scale=Scale(0.0, 100.0, higher_is_better=True, kind="pseudo-MOS"),
        groups=frame["reference"].to_numpy(),
        name=out_dir.name,
        distortion=distortion.set_index(frame["id"]),
        root=out_dir,
    )
