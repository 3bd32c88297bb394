"""``save`` and ``load`` a :class:`~deepfeat_iqa.api.QualityModel` as one joblib file that says what it is."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import joblib

from .api import QualityModel, library_versions
from .errors import DataError

logger = logging.getLogger(__name__)

#: Marks a file as ours; anything else found at a path is refused rather than guessed at.
FORMAT = "deepfeat-iqa/quality-model"
#: Bumped when the stored layout changes in a way older readers cannot follow.
FORMAT_VERSION = 1


def save(model: QualityModel, path: str | Path, *, compress: int = 3) -> Path:
    """Write ``model`` to ``path`` with its feature key, library versions and a format version.

    Parameters
    ----------
    model:
        What :func:`deepfeat_iqa.fit` returned.
    path:
        Destination file (``.joblib`` by convention); parent folders are created.
    compress:
        joblib compression level (0-9); GPR heads keep their training set, so compression pays.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> dfi.save(model, "koniq_gpr.joblib")  # doctest: +SKIP
    """
    if not isinstance(model, QualityModel):
        raise DataError(
            f"save() writes QualityModel objects (what dfi.fit returns), got {type(model).__name__}; "
            "fit a model with dfi.fit(features, head=...) first."
        )
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_key": model.key.to_dict() if model.key is not None else None,
        "versions": library_versions(),
        "model": model,
    }
    joblib.dump(payload, path, compress=compress)
    logger.info("Saved %r to %s", model, path)
    return path


def load(path: str | Path) -> QualityModel:
    """Read a model written by :func:`save`.

    Only load files you trust: like every pickle-based format, loading runs code stored in the file.

    Raises
    ------
    DataError
        When the file is missing, is not a deepfeat-iqa model, or was written by a newer format.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"Model file {str(path)!r} does not exist; write one with dfi.save(model, path) or `deepfeat-iqa fit --out`.")
    try:
        payload: Any = joblib.load(path)
    except Exception as exc:  # joblib/pickle raise many types for foreign bytes; all mean "not ours"
        raise DataError(
            f"{str(path)!r} is not a deepfeat-iqa model file ({type(exc).__name__}: {exc}); "
            "model files are written by dfi.save or `deepfeat-iqa fit --out`."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(
            f"{str(path)!r} is a joblib file but not a deepfeat-iqa model (no {FORMAT!r} marker); "
            "model files are written by dfi.save or `deepfeat-iqa fit --out`."
        )
    if payload["format_version"] > FORMAT_VERSION:
        raise DataError(
            f"{str(path)!r} uses model format {payload['format_version']}, newer than this deepfeat-iqa reads "
            f"({FORMAT_VERSION}); upgrade deepfeat-iqa (it was written with {payload['versions'].get('deepfeat-iqa')})."
        )
    current = library_versions()
    changed = {k: (v, current.get(k)) for k, v in payload["versions"].items() if current.get(k) != v}
    if changed:
        logger.warning(
            "Model %s was saved with other library versions (%s); predictions may differ slightly.",
            path,
            ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items()),
        )
    return payload["model"]
