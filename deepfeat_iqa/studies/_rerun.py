"""A finished sweep called again answers from its results store without importing torch.

Planning a sweep's cells needs the backbones (layer names -> module paths), the device (``precision="auto"``)
and the heads: torch, timm and scikit-learn, several seconds before anything is looked up. So each call
that plans a definition also records, in the results store, the **call signature** it planned from: a hash
of the arguments as given, the datasets (ids, paths, scores, groups), the versions of everything that
resolves them (deepfeat_iqa, torch, timm, scikit-learn) and what ``precision="auto"`` reads from the
machine (CPU bf16 flags, visible NVIDIA GPUs). A later call with the same signature whose cells are all
recorded returns the study at once; anything else (a new argument, a changed file list, another machine,
an argument without a stable description) plans as before. The signature only ever saves the planning;
it never decides which cells a definition has.

Imports here are the standard library and numpy only.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sqlite3
from contextlib import closing
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

MEMO_SCHEMA = "CREATE TABLE IF NOT EXISTS calls (signature TEXT PRIMARY KEY, definition_id TEXT NOT NULL)"


class _Unstable(Exception):
    """An argument has no description that is the same in the next process: plan as usual."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


@lru_cache(maxsize=1)
def machine_signature() -> dict[str, Any]:
    """What ``precision="auto"`` and ``device=None`` resolve from, read without torch."""
    flags: list[str] = []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = sorted({f for f in line.split(":", 1)[1].split() if f in ("avx512_bf16", "amx_tile", "amx_bf16")})
                    break
    except OSError:
        flags = [platform.processor()]
    gpus = sorted(os.listdir("/proc/driver/nvidia/gpus")) if os.path.isdir("/proc/driver/nvidia/gpus") else []
    return {
        "machine": platform.machine(), "system": platform.system(), "cpu_bf16": flags, "nvidia_gpus": gpus,
        "visible": {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES") if k in os.environ},
        "versions": {p: _version(p) for p in ("deepfeat-iqa", "torch", "timm", "scikit-learn")},
    }  # fmt: skip


def _describe(value: Any) -> Any:
    """A JSON-able description of one argument that a new process writes identically, or ``_Unstable``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return str(Path(value).expanduser().resolve())
    if isinstance(value, Mapping):
        return {str(k): _describe(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if hasattr(value, "get_params"):  # an unfitted estimator: its class and parameters
        kind = type(value)
        return {"estimator": f"{kind.__module__}.{kind.__qualname__}", "params": _describe(value.get_params(deep=False))}
    raise _Unstable(type(value).__name__)


def _datasets(datasets: Any) -> dict[str, Any]:
    """name -> dataset, as ``as_datasets`` names them; ``_Unstable`` for anything it would refuse or rename."""
    from deepfeat_iqa.datasets import Dataset

    if isinstance(datasets, Dataset):
        found = {datasets.name: datasets}
    elif isinstance(datasets, Mapping):
        found = dict(datasets)
    elif isinstance(datasets, Sequence):
        found = {ds.name: ds for ds in datasets if isinstance(ds, Dataset)}
        if len(found) != len(datasets):
            raise _Unstable("datasets")
    else:
        raise _Unstable("datasets")
    if not found or not all(isinstance(ds, Dataset) and ds.mos is not None for ds in found.values()):
        raise _Unstable("datasets")
    return found


def _dataset_digest(ds: Any) -> str:
    digest = hashlib.sha256(ds.fingerprint().encode())
    digest.update(np.ascontiguousarray(np.asarray(ds.mos, dtype=np.float64)).tobytes())
    for name in ("groups", "official_split"):
        digest.update(json.dumps(_describe_array(getattr(ds, name, None))).encode())
    return digest.hexdigest()


def _describe_array(value: Any) -> Any:
    return None if value is None else [str(v) for v in np.asarray(value, dtype=object).ravel()]


def _weight_files(weights: Any) -> dict[str, Any]:
    """Path, size and mtime of each weights file named: a file rewritten in place is other weights (planned again)."""
    names = list(weights.values()) if isinstance(weights, Mapping) else [weights]
    found: dict[str, Any] = {}
    for name in names:
        if isinstance(name, (str, os.PathLike)) and str(name) not in ("imagenet", "random"):
            path = Path(name).expanduser()
            if path.exists():
                stat = path.resolve().stat()
                found[str(name)] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
            else:
                found[str(name)] = None
    return found


def call_signature(datasets: Any, arguments: Mapping[str, Any]) -> str | None:
    """The hash a rerun is recognized by, or ``None`` when an argument has no stable description."""
    try:
        record = {
            "datasets": {name: _dataset_digest(ds) for name, ds in _datasets(datasets).items()},
            "arguments": _describe(dict(arguments)),
            "weight_files": _weight_files(arguments.get("weights")),
            "machine": machine_signature(),
        }
    except (_Unstable, TypeError, ValueError):
        return None
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def finished_definition(results: str | os.PathLike[str], signature: str | None, *, retry_failed: bool) -> str | None:
    """The definition this call planned before, if every one of its cells is recorded (and none is to be retried)."""
    if signature is None or str(results) == ":memory:":
        return None
    path = Path(results).expanduser()
    if not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)) as db:
            row = db.execute("SELECT definition_id FROM calls WHERE signature = ?", (signature,)).fetchone()
            if row is None:
                return None
            (definition_id,) = row
            total, done, failed = db.execute(
                "SELECT COUNT(*), COUNT(c.cell_id), COUNT(CASE WHEN c.status = 'failed' THEN 1 END) FROM study_cells s "
                "LEFT JOIN cells c ON c.cell_id = s.cell_id WHERE s.definition_id = ?",
                (definition_id,),
            ).fetchone()
    except sqlite3.Error:  # an old store without the table, a locked or damaged file: plan as usual
        return None
    if total == 0 or done < total or (retry_failed and failed):
        return None
    return str(definition_id)


def remember_call(connection: sqlite3.Connection, signature: str | None, definition_id: str) -> None:
    """Record that ``signature`` plans ``definition_id`` (after the definition is registered)."""
    if signature is None:
        return
    with connection:
        connection.execute(MEMO_SCHEMA)
        connection.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (signature, definition_id))
