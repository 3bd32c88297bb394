"""``save`` and ``load`` a :class:`~deepfeat_iqa.api.QualityModel` in a file that runs no code when read.

Format (``docs/trust.md``): one zip archive holding

* ``manifest.json`` -- format name and version, the head's class (checked against the allow-list of
  registered heads), its JSON state, the :class:`~deepfeat_iqa.features._sets.FeatureKey`, blocks, head
  name, training record and library versions;
* ``arrays.safetensors`` -- every array and tensor of the head's state (safetensors holds raw
  numbers and a JSON header, nothing executable);
* ``estimator.skops`` -- only for a third-party scikit-learn estimator (a head without the
  ``_dfi_state`` protocol), read with :mod:`skops.io` and an explicit list of trusted types.

Integrity: the manifest records ``array_sha256`` (name -> sha256 of dtype, shape and bytes) for every
stored array, and ``member_sha256`` for the skops member; ``load`` refuses a file whose arrays do not
match, naming the entry. A file cut short (no zip directory) or missing a member is reported as
*damaged or incomplete*, never as "not a model file" or "a pickle": a half-copied download should
say "copy it again", not "this is unsafe". Files written before these checksums load unchecked.

Pickle/joblib files (what deepfeat-iqa 0.1 wrote) can still be written and read, but only with
``trusted=True``: unpickling calls whatever the file names, so a shared file could run any code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import pickle
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from deepfeat_iqa._json import json_safe
from deepfeat_iqa.api import QualityModel, library_versions, upgrade_record
from deepfeat_iqa.errors import DataError, ModelFileDamagedError, ModelFileError, ModelVersionError
from deepfeat_iqa.features._sets import key_from_dict

logger = logging.getLogger(__name__)

#: Marks a file as ours; anything else found at a path is refused rather than guessed at.
FORMAT = "deepfeat-iqa/quality-model"
#: Bumped when the stored layout changes in a way older readers cannot follow. 1: joblib pickle; 2: safe zip.
FORMAT_VERSION = 2
#: Format versions this reader understands (1 only as a trusted pickle).
_PICKLE_FORMAT_VERSION = 1
#: Formats ``save`` writes.
FORMATS = ("safe", "pickle")
#: Module prefixes of the types a skops file may contain without ``trusted=True``.
SKOPS_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")

_MANIFEST, _ARRAYS, _SKOPS = "manifest.json", "arrays.safetensors", "estimator.skops"
_ZIP_MAGIC = b"PK\x03\x04"
_WHY_PICKLE = (
    "loading a pickle calls whatever the file names, so a shared or downloaded file could run any code on this machine"
)


def save(model: QualityModel, path: str | Path, *, format: str = "safe", compress: int = 3) -> Path:  # noqa: A002
    """Write ``model`` with its feature key, library versions and a format version.

    Parameters
    ----------
    model:
        What :func:`deepfeat_iqa.fit` returned.
    path:
        Destination file (``.dfi`` by convention); parent folders are created.
    format:
        ``"safe"`` (default): JSON manifest + safetensors (+ skops for a third-party scikit-learn head),
        which loads without running code. ``"pickle"``: the joblib file of deepfeat-iqa 0.1, for heads
        the safe format cannot hold; it loads only with ``load(path, trusted=True)``.
    compress:
        Compression level (0-9); GPR heads keep their training set, so compression pays.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> dfi.save_model(model, "koniq_gpr.dfi")  # doctest: +SKIP
    """
    if not isinstance(model, QualityModel):
        raise DataError(
            f"save_model() writes QualityModel objects (what dfi.fit returns), got {type(model).__name__}; "
            "fit a model with dfi.fit(features, head=...) first."
        )
    if format not in FORMATS:
        raise DataError(f"format={format!r}; use 'safe' (loads without running code) or 'pickle'.")
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "pickle":
        payload = {"format": FORMAT, "format_version": _PICKLE_FORMAT_VERSION, "feature_key": model.key.to_dict() if model.key is not None else None,
                   "versions": library_versions(), "model": model}  # fmt: skip
        with _replace_when_written(path) as partial:
            joblib.dump(payload, partial, compress=compress)
    else:
        _write_safe(model, path, compress)
    logger.info("Saved %r to %s (%s format)", model, path, format)
    return path


def _write_safe(model: QualityModel, path: Path, compress: int) -> None:
    from safetensors.numpy import save as save_arrays

    estimator = model.estimator
    members: dict[str, bytes] = {}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_key": model.key.to_dict() if model.key is not None else None,
        "blocks": [[layer, int(dim)] for layer, dim in model.blocks],
        "head": model.head,
        "info": model.info,
        "versions": library_versions(),
    }
    if hasattr(estimator, "_dfi_state"):
        from deepfeat_iqa.heads import registered_head_classes
        from deepfeat_iqa.heads._state import qualified_name

        class_name = qualified_name(type(estimator))
        if class_name not in registered_head_classes():
            raise DataError(
                f"Head class {class_name} is not registered (deepfeat_iqa.heads.register_head), so a safe model "
                "file could not name it on load; register it, or save_model(..., format='pickle')."
            )
        state, arrays = estimator._dfi_state()
        arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        manifest.update(kind="state", head_class=class_name, state=state, array_sha256={k: array_sha256(v) for k, v in arrays.items()})
        members[_ARRAYS] = save_arrays(arrays)
    else:
        import skops.io as sio

        manifest.update(kind="skops", head_class=f"{type(estimator).__module__}.{type(estimator).__qualname__}")
        members[_SKOPS] = sio.dumps(estimator)
        manifest["member_sha256"] = {_SKOPS: hashlib.sha256(members[_SKOPS]).hexdigest()}
    try:
        members[_MANIFEST] = json.dumps(json_safe(manifest), indent=1, allow_nan=True).encode()
    except TypeError as exc:
        raise DataError(f"The model's record cannot be written as JSON ({exc}); keep model.info to plain values.") from exc
    level = None if compress == 0 else compress
    method = zipfile.ZIP_STORED if compress == 0 else zipfile.ZIP_DEFLATED
    with _replace_when_written(path) as partial, zipfile.ZipFile(partial, "w", compression=method, compresslevel=level) as archive:
        for name in (_MANIFEST, _ARRAYS, _SKOPS):
            if name in members:
                archive.writestr(name, members[name])


@contextlib.contextmanager
def _replace_when_written(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only once the block finished writing it.

    A crash mid-write leaves ``path`` as it was (the previous model, or nothing); an exception also removes the
    temporary file (a kill leaves ``<name>.partial``, which the next save overwrites).
    """
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def array_sha256(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes (a reshaped or retyped array does not match)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def _damaged(path: Path, what: str) -> ModelFileDamagedError:
    return ModelFileDamagedError(
        f"{str(path)!r} is a damaged or incomplete model file ({what}). Copy or download it again, or re-save "
        "the model with dfi.save_model; a file cut short or changed after saving is never loaded."
    )


def _check_arrays(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray], members: dict[str, bytes]) -> None:
    """Compare the stored arrays and members with the manifest's sha256 (files from before checksums: nothing to check)."""
    expected = manifest.get("array_sha256")
    if isinstance(expected, dict):
        missing = sorted(set(expected) - set(arrays))
        if missing:
            raise _damaged(path, f"{_ARRAYS} lacks array(s) {', '.join(missing)} that manifest.json lists")
        for name, digest in expected.items():
            if array_sha256(arrays[name]) != digest:
                raise _damaged(path, f"array {name!r} in {_ARRAYS} does not match its sha256 in manifest.json")
    for member, digest in (manifest.get("member_sha256") or {}).items():
        if member not in members:
            raise _damaged(path, f"member {member} is missing")
        if hashlib.sha256(members[member]).hexdigest() != digest:
            raise _damaged(path, f"member {member} does not match its sha256 in manifest.json")


def load(path: str | Path, *, trusted: bool = False) -> QualityModel:
    """Read a model written by :func:`save`.

    The default (safe) format executes nothing: the head is rebuilt from JSON and arrays, for head
    classes on the allow-list only (the registered heads), and third-party scikit-learn heads through
    :mod:`skops.io` with trusted types limited to scikit-learn, NumPy and SciPy.

    Parameters
    ----------
    path:
        The model file.
    trusted:
        Also accept a pickle/joblib model file (deepfeat-iqa 0.1's format, or ``format="pickle"``) and
        skops files with other types. Pass it only for files you made or whose source you trust:
        loading a pickle can run any code stored in it.

    Raises
    ------
    ModelFileError
        When the file is missing or not a deepfeat-iqa model file, or is a pickle and ``trusted`` is False.
    ModelVersionError
        When the file is a deepfeat-iqa model written by another version (newer format, a head class
        that moved or is not on the allow-list, a state this version cannot rebuild).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelFileError(f"Model file {str(path)!r} does not exist; write one with dfi.save_model(model, path) or `deepfeat-iqa fit --out`.")
    if zipfile.is_zipfile(path):
        return _read_safe(path, trusted)
    with path.open("rb") as handle:
        if handle.read(4) == _ZIP_MAGIC:  # a zip without its directory: cut short (a safe file never is a pickle)
            raise _damaged(path, f"a zip archive without its central directory: the file was cut short at {path.stat().st_size} bytes")
    if not trusted:
        raise ModelFileError(
            f"{str(path)!r} is not a safe deepfeat-iqa model file (no zip manifest). If it is a pickle/joblib model "
            f"file (deepfeat-iqa 0.1 wrote those), it is refused by default because {_WHY_PICKLE}. If you made it or "
            "trust its source, dfi.load_model(path, trusted=True) and re-save it with dfi.save_model to get a safe file."
        )
    return _read_pickle(path)


def _read_safe(path: Path, trusted: bool) -> QualityModel:
    from safetensors import SafetensorError
    from safetensors.numpy import load as load_arrays

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if _MANIFEST not in names and names & {_ARRAYS, _SKOPS}:
                raise _damaged(path, f"{_MANIFEST} is missing")
            if _MANIFEST not in names:
                raise ModelFileError(
                    f"{str(path)!r} is a zip archive but not a deepfeat-iqa model file (no {_MANIFEST}); "
                    "model files are written by dfi.save_model or `deepfeat-iqa fit --out`."
                )
            manifest = json.loads(archive.read(_MANIFEST))
            members = {name: archive.read(name) for name in (_ARRAYS, _SKOPS) if name in names}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # A zip whose members fail their CRC or do not inflate, or a manifest that is not JSON: damage, not a foreign file.
        raise _damaged(path, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is a zip archive but not a deepfeat-iqa model (no {FORMAT!r} marker).")
    _check_version(path, manifest.get("format_version"), manifest.get("versions", {}))
    needed = {"state": _ARRAYS if manifest.get("array_sha256") else None, "skops": _SKOPS}.get(manifest.get("kind"))
    if needed is not None and needed not in members:
        raise _damaged(path, f"{needed} is missing")
    try:
        arrays = load_arrays(members[_ARRAYS]) if _ARRAYS in members else {}
    except SafetensorError as exc:
        raise _damaged(path, f"{_ARRAYS} does not decode: {exc}") from exc
    _check_arrays(path, manifest, arrays, members)
    try:
        if manifest["kind"] == "state":
            estimator = _head_from_state(path, manifest["head_class"], manifest["state"], arrays)
        elif manifest["kind"] == "skops":
            estimator = _skops_estimator(path, members[_SKOPS], trusted)
        else:
            raise KeyError(f"kind={manifest['kind']!r}")
        # No key: an image head, which reads images rather than features.
        key = key_from_dict(manifest["feature_key"]) if manifest["feature_key"] is not None else None
        blocks = tuple((str(layer), int(dim)) for layer, dim in manifest["blocks"])
        model = QualityModel(estimator=estimator, key=key, blocks=blocks, head=manifest["head"], info=upgrade_record(manifest["info"]))
    except (KeyError, TypeError, ValueError, SafetensorError) as exc:
        if isinstance(exc, DataError):
            raise
        raise ModelVersionError(
            f"{str(path)!r} is a deepfeat-iqa model file this version cannot rebuild ({type(exc).__name__}: {exc}); "
            f"it was written with deepfeat-iqa {manifest.get('versions', {}).get('deepfeat-iqa')}. Load it with "
            "that version, or refit the model."
        ) from exc
    _warn_versions(path, manifest.get("versions", {}))
    return model


def _head_from_state(path: Path, class_name: str, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    from deepfeat_iqa.heads import registered_head_classes
    from deepfeat_iqa.heads._state import StateError

    allowed = registered_head_classes()
    if class_name not in allowed:
        raise ModelVersionError(
            f"{str(path)!r} holds a head of class {class_name!r}, which is not a registered head here (known: "
            f"{', '.join(sorted(allowed))}). It was written by another deepfeat-iqa version (the class moved or was "
            "renamed) or by code that registered its own head: import/register that head first, or refit."
        )
    try:
        return allowed[class_name]._dfi_from_state(state, arrays)
    except StateError as exc:
        raise ModelVersionError(f"{str(path)!r}: {exc}") from exc


def _skops_estimator(path: Path, data: bytes, trusted: bool) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(data=data)
    refused = [name for name in untrusted if not name.startswith(SKOPS_TRUSTED_PREFIXES)]
    if refused and not trusted:
        raise ModelFileError(
            f"{str(path)!r} holds an estimator with types outside scikit-learn/NumPy/SciPy ({', '.join(refused)}); "
            "skops would have to create them, which can run their code. If you trust the file, dfi.load_model(path, trusted=True)."
        )
    return sio.loads(data, trusted=list(untrusted))


def _read_pickle(path: Path) -> QualityModel:
    try:
        payload: Any = joblib.load(path)
    except (ModuleNotFoundError, AttributeError, ImportError) as exc:
        raise ModelVersionError(
            f"{str(path)!r} names a class this installation does not have ({type(exc).__name__}: {exc}); it was written "
            "by another deepfeat-iqa version (a class moved or was renamed). Load it with that version and re-save it."
        ) from exc
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, zlib.error, OSError) as exc:
        raise ModelFileError(
            f"{str(path)!r} is not a deepfeat-iqa model file ({type(exc).__name__}: {exc}); "
            "model files are written by dfi.save_model or `deepfeat-iqa fit --out`."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(
            f"{str(path)!r} is a joblib file but not a deepfeat-iqa model (no {FORMAT!r} marker); "
            "model files are written by dfi.save_model or `deepfeat-iqa fit --out`."
        )
    _check_version(path, payload.get("format_version"), payload.get("versions", {}))
    _warn_versions(path, payload.get("versions", {}))
    model = payload["model"]
    model.info = upgrade_record(model.info)
    return model


def _check_version(path: Path, version: Any, versions: dict[str, str]) -> None:
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelVersionError(
            f"{str(path)!r} uses model format {version}, newer than this deepfeat-iqa reads ({FORMAT_VERSION}); "
            f"upgrade deepfeat-iqa (it was written with {versions.get('deepfeat-iqa')})."
        )


def _warn_versions(path: Path, versions: dict[str, str]) -> None:
    current = library_versions()
    changed = {k: (v, current.get(k)) for k, v in versions.items() if current.get(k) != v}
    if changed:
        logger.warning(
            "Model %s was saved with other library versions (%s); predictions may differ slightly.",
            path,
            ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changed.items()),
        )


__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]
