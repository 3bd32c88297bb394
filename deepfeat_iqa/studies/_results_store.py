"""The results store: one SQLite row per sweep cell, keyed by the hash of the cell's definition.

SQLite because a sweep writes one small record per cell, from one process, and must survive being
killed: each cell is one transaction, so a killed sweep leaves every finished cell intact and no half
cell. Rows keep what reproduces the cell (its definition, seeds, library versions, the weights
fingerprint, the split signatures), its per-split metrics and test predictions (for ensembles and
significance tests), the seconds its head fits took, and, for a failed cell, the error.

Each sweep *definition* (its axes and protocol) is recorded too. Opening a store written by another
definition is refused unless the caller asks to extend it, so cells of two studies are never mixed
silently; even when extended, a study reads back only its own cells.

Damage (issue 20): every SQLite error becomes a :class:`StoreError` naming the file and what to do (a
damaged file: move it aside and rerun; a lock another process holds longer than ``timeout`` seconds: wait
or use another file; a full disk: free space and rerun). SQLite does not checksum what a row holds, so each
cell row written since 0.2 has a sha256 in ``cell_checksums``: a sweep recomputes a cell whose row no
longer matches it (logged), and reading such a row raises. Rows written before keep working unchecked.
Two sweeps writing one file both work: a cell is one row (its id is the primary key), whoever writes last.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import StoreError
from deepfeat_iqa._json import json_safe
from deepfeat_iqa.evaluation.results import EvaluationResult
from deepfeat_iqa.studies._cells import Cell

logger = logging.getLogger(__name__)

#: Seconds a call waits for a write lock another process holds (another sweep committing a cell, a reader
#: mid-query) before it raises a StoreError that says so; ``ResultsStore(timeout=)`` changes it.
LOCK_TIMEOUT_S = 60.0

#: The columns of ``cells``, in table order: what a row's checksum covers.
CELL_COLUMNS = ("cell_id", "definition", "status", "weights_sha256", "dim", "fit_seconds", "per_split", "predictions",
                "info", "signatures", "error", "created")  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS definitions (
    definition_id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    weights_sha256 TEXT,
    dim INTEGER,
    fit_seconds REAL,
    per_split TEXT,
    predictions BLOB,
    info TEXT,
    signatures TEXT,
    error TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS study_cells (
    definition_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    cell_id TEXT NOT NULL,
    display TEXT NOT NULL,
    PRIMARY KEY (definition_id, position)
);
CREATE TABLE IF NOT EXISTS cell_checksums (
    cell_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL
);
"""

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _guarded(doing: str) -> Callable[[_Method], _Method]:
    """Turn any SQLite (or decoding) error inside the method into the StoreError :func:`_store_error` words.

    Without it a damaged or locked file surfaced as a bare ``sqlite3.DatabaseError`` deep in a sweep, naming
    neither the file nor a way out.
    """

    def wrap(method: _Method) -> _Method:
        @functools.wraps(method)
        def guarded(self: ResultsStore, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except (sqlite3.Error, json.JSONDecodeError, zlib.error, UnicodeDecodeError) as error:
                raise _store_error(self.path, error, doing, self.timeout) from error

        return guarded  # type: ignore[return-value]

    return wrap


def _store_error(path: str, error: BaseException, doing: str, timeout: float) -> StoreError:
    """The StoreError for a SQLite failure: locked, full disk, or a damaged file, each with its fix."""
    text = str(error).lower()
    if isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreError(
            f"Results store {path!r} stayed locked by another process for {timeout:g} s while {doing}. Another sweep "
            "(or a reader) holds it: wait for it to finish and run again, pass another results= path, or "
            "open it with ResultsStore(path, timeout=...) to wait longer."
        )
    if "unable to open" in text or "readonly" in text:
        return StoreError(
            f"Results store {path!r} cannot be opened for writing ({error}) while {doing}: check that its folder "
            "exists and is writable, or pass another results= path."
        )
    if "full" in text:
        return StoreError(
            f"The disk holding results store {path!r} is full ({error}) while {doing}. Every cell committed before is "
            "kept: free some space and run the same sweep again; it resumes at the first missing cell."
        )
    return StoreError(
        f"Results store {path!r} is damaged ({type(error).__name__}: {error}) while {doing}. Move it aside "
        f"(e.g. mv {path} {path}.damaged) and run the sweep again with the same results= path: it recomputes "
        "the cells (features already in the feature store are read, not extracted again)."
    )


def _row_digest(row: Sequence[Any]) -> str:
    """sha256 of a ``cells`` row as SQLite returns it (type and value of each column, in table order)."""
    digest = hashlib.sha256()
    for value in row:
        data = bytes(value) if isinstance(value, (bytes, memoryview)) else repr(value).encode()
        digest.update(f"{type(value).__name__}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(json_safe(value, fallback=str, finite=True), sort_keys=True, allow_nan=False)


class ResultsStore:
    """A SQLite file of sweep cells (see the module docstring).

    Parameters
    ----------
    path:
        The database file; created with its folder when missing. ``":memory:"`` keeps it in memory.
    timeout:
        Seconds to wait for a lock another process holds before raising a :class:`StoreError`.
    """

    def __init__(self, path: str | Path, *, timeout: float = LOCK_TIMEOUT_S):
        self.path = str(path)
        self.timeout = float(timeout)
        if self.path != ":memory:":
            file = Path(self.path).expanduser()
            if file.is_dir():
                raise StoreError(f"Results store {str(file)!r} is a folder; pass a file path such as study.db.")
            file.parent.mkdir(parents=True, exist_ok=True)
            self.path = str(file)
        self._db = self._connect()

    @_guarded("opening it")
    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.timeout)
        connection.executescript(_SCHEMA)
        return connection

    def close(self) -> None:
        self._db.close()

    # -- definitions ------------------------------------------------------------------------------
    @_guarded("reading its sweep definitions")
    def definitions(self) -> dict[str, dict[str, Any]]:
        """Every sweep definition recorded, id -> spec, oldest first."""
        rows = self._db.execute("SELECT definition_id, spec FROM definitions ORDER BY created").fetchall()
        return {definition_id: json.loads(spec) for definition_id, spec in rows}

    @_guarded("recording the sweep definition")
    def register(self, definition_id: str, spec: dict[str, Any], cells: Sequence[Cell], displays: Sequence[dict], *, extend: bool) -> None:
        """Record a sweep definition and its cell list; refuse another definition unless ``extend``.

        Raises
        ------
        StoreError
            When the store holds other definitions and ``extend`` is false, naming what differs.
        """
        known = self.definitions()
        if definition_id not in known and known and not extend:
            other_id, other = list(known.items())[-1]
            raise StoreError(
                f"Results store {self.path!r} was written by another sweep definition ({other_id}): "
                + _differences(other, spec)
                + ". Its cells are never mixed into this study silently: pass extend=True (CLI --extend) to add "
                "this definition to the store, or another results= path."
            )
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO definitions VALUES (?, ?, ?)", (definition_id, _dumps(spec), time.time())
            )
            self._db.execute("DELETE FROM study_cells WHERE definition_id = ?", (definition_id,))
            self._db.executemany(
                "INSERT INTO study_cells VALUES (?, ?, ?, ?)",
                [(definition_id, i, cell.cell_id, _dumps(display)) for i, (cell, display) in enumerate(zip(cells, displays))],
            )

    @_guarded("recording the call")
    def remember_call(self, signature: str | None, definition_id: str) -> None:
        """Record the call signature that planned ``definition_id`` (``studies._rerun``: a finished rerun skips planning)."""
        from deepfeat_iqa.studies._rerun import remember_call

        remember_call(self._db, signature, definition_id)

    @_guarded("reading the study's cell list")
    def study_cells(self, definition_id: str) -> list[tuple[str, dict]]:
        rows = self._db.execute(
            "SELECT cell_id, display FROM study_cells WHERE definition_id = ? ORDER BY position", (definition_id,)
        ).fetchall()
        return [(cell_id, json.loads(display)) for cell_id, display in rows]

    # -- cells --------------------------------------------------------------------------------------
    @_guarded("reading which cells are done")
    def statuses(self, cell_ids: Iterable[str]) -> dict[str, str]:
        """``cell_id -> "done" | "failed"`` for the cells recorded intact; a damaged row is left out (recomputed)."""
        found: dict[str, str] = {}
        for row, damaged in self._checked_rows(list(cell_ids)):
            if damaged:
                logger.warning("Cell %s in results store %r no longer matches its checksum; computing it again.", row[0], self.path)
            else:
                found[row[0]] = row[2]
        return found

    def intact(self, cell_ids: Sequence[str]) -> bool:
        """Whether every one of ``cell_ids`` is recorded and matches its checksum (a rerun may skip planning)."""
        return len(self.statuses(cell_ids)) == len(set(cell_ids))

    def _checked_rows(self, cell_ids: Sequence[str]) -> Iterable[tuple[tuple[Any, ...], bool]]:
        """Each recorded row of ``cell_ids`` (all ``CELL_COLUMNS``) and whether it fails its checksum."""
        columns = ", ".join(f"c.{name}" for name in CELL_COLUMNS)
        for start in range(0, len(cell_ids), 500):
            chunk = list(cell_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {columns}, s.sha256 FROM cells c LEFT JOIN cell_checksums s USING (cell_id) WHERE c.cell_id IN ({marks})"
            for *row, stored in self._db.execute(query, chunk).fetchall():
                yield tuple(row), stored is not None and stored != _row_digest(row)

    def _damaged_row_error(self, cell_id: str) -> StoreError:
        return StoreError(
            f"Cell {cell_id} in results store {self.path!r} is damaged (its row no longer matches the checksum written "
            "with it). Run the same sweep again: it recomputes that cell."
        )

    def _insert_cell(self, row: dict[str, Any]) -> None:
        """Write one ``cells`` row and its checksum in one transaction (replacing an earlier row of the cell)."""
        values = tuple(row.get(name) for name in CELL_COLUMNS)
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO cells VALUES ({', '.join('?' * len(CELL_COLUMNS))})", values)
            self._db.execute("INSERT OR REPLACE INTO cell_checksums VALUES (?, ?)", (row["cell_id"], _row_digest(values)))

    @_guarded("recording a finished cell")
    def write_result(self, cell: Cell, result: EvaluationResult, *, dim: int | None, weights_sha256: str, fit_seconds: float) -> None:
        """Record a finished cell (one transaction: it is either fully there or absent)."""
        buffer = io.StringIO()
        result.predictions.to_json(buffer, orient="split", index=False, double_precision=15)
        self._insert_cell({
            "cell_id": cell.cell_id, "definition": _dumps(cell.definition()), "status": "done", "weights_sha256": weights_sha256,
            "dim": None if dim is None else int(dim), "fit_seconds": float(fit_seconds),
            "per_split": _dumps(result.per_split.reset_index().to_dict("records")),
            "predictions": zlib.compress(buffer.getvalue().encode()), "info": _dumps(result.info),
            "signatures": _dumps(list(result.signatures)), "created": time.time(),
        })  # fmt: skip

    @_guarded("recording a failed cell")
    def write_failure(self, cell: Cell, error: BaseException | str) -> None:
        """Record a cell that failed, with its error, so the table shows it and the sweep carries on."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self._insert_cell({"cell_id": cell.cell_id, "definition": _dumps(cell.definition()), "status": "failed",
                           "error": text, "created": time.time()})  # fmt: skip

    @_guarded("reading cell rows")
    def rows(self, cell_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The recorded rows (without predictions) of ``cell_ids``; a damaged row raises a StoreError naming it."""
        found: dict[str, dict[str, Any]] = {}
        for row, damaged in self._checked_rows(list(cell_ids)):
            if damaged:
                raise self._damaged_row_error(row[0])
            record = {name: value for name, value in zip(CELL_COLUMNS, row) if name not in ("definition", "predictions", "created")}
            for name in ("per_split", "info", "signatures"):
                record[name] = json.loads(record[name]) if record[name] else None
            found[record["cell_id"]] = record
        return found

    @_guarded("reading a cell's result")
    def result(self, cell_id: str) -> EvaluationResult:
        """The cell's :class:`EvaluationResult` as it was computed (per-split metrics, predictions, record)."""
        found = list(self._checked_rows([cell_id]))
        if not found:
            raise StoreError(f"Cell {cell_id} is not in results store {self.path!r}; run the sweep to compute it.")
        (row, damaged), = found
        if damaged:
            raise self._damaged_row_error(cell_id)
        record = dict(zip(CELL_COLUMNS, row))
        status, per_split, predictions, info, signatures, error = (
            record[name] for name in ("status", "per_split", "predictions", "info", "signatures", "error"))
        if status != "done":
            raise StoreError(f"Cell {cell_id} failed when it was computed ({error}); it has no result.")
        frame = pd.DataFrame(json.loads(per_split)).set_index("split")
        frame = frame.astype({c: np.float64 for c in frame.columns if c not in ("n_train", "n_test")})
        preds = pd.read_json(io.StringIO(zlib.decompress(predictions).decode()), orient="split", dtype={"id": str})
        return EvaluationResult(frame, preds, json.loads(info), tuple(json.loads(signatures)))


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Name the fields in which two sweep definitions differ."""
    names = sorted(set(old) | set(new))
    diffs = [f"{name}: stored {old.get(name)!r}, requested {new.get(name)!r}" for name in names if old.get(name) != new.get(name)]
    return "; ".join(diffs) if diffs else "same fields, other cell list"
