"""The results store: one SQLite row per sweep cell, keyed by the hash of the cell's definition.

SQLite because a sweep writes one small record per cell, from one process, and must survive being
killed: each cell is one transaction, so a killed sweep leaves every finished cell intact and no half
cell. Rows keep what reproduces the cell (its definition, seeds, library versions, the weights
fingerprint, the split signatures), its per-split metrics and test predictions (for ensembles and
significance tests), the seconds its head fits took, and, for a failed cell, the error.

Each sweep *definition* (its axes and protocol) is recorded too. Opening a store written by another
definition is refused unless the caller asks to extend it, so cells of two studies are never mixed
silently; even when extended, a study reads back only its own cells.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import StoreError
from deepfeat_iqa._json import json_safe
from deepfeat_iqa.evaluation.results import EvaluationResult
from deepfeat_iqa.studies._cells import Cell

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
"""


def _dumps(value: Any) -> str:
    return json.dumps(json_safe(value, fallback=str, finite=True), sort_keys=True, allow_nan=False)


class ResultsStore:
    """A SQLite file of sweep cells (see the module docstring).

    Parameters
    ----------
    path:
        The database file; created with its folder when missing. ``":memory:"`` keeps it in memory.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            file = Path(self.path).expanduser()
            if file.is_dir():
                raise StoreError(f"Results store {str(file)!r} is a folder; pass a file path such as study.db.")
            file.parent.mkdir(parents=True, exist_ok=True)
            self.path = str(file)
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"Cannot open results store {self.path!r} as SQLite ({error}); pass another results= path.") from error

    def close(self) -> None:
        self._db.close()

    # -- definitions ------------------------------------------------------------------------------
    def definitions(self) -> dict[str, dict[str, Any]]:
        """Every sweep definition recorded, id -> spec, oldest first."""
        rows = self._db.execute("SELECT definition_id, spec FROM definitions ORDER BY created").fetchall()
        return {definition_id: json.loads(spec) for definition_id, spec in rows}

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

    def remember_call(self, signature: str | None, definition_id: str) -> None:
        """Record the call signature that planned ``definition_id`` (``studies._rerun``: a finished rerun skips planning)."""
        from deepfeat_iqa.studies._rerun import remember_call

        remember_call(self._db, signature, definition_id)

    def study_cells(self, definition_id: str) -> list[tuple[str, dict]]:
        rows = self._db.execute(
            "SELECT cell_id, display FROM study_cells WHERE definition_id = ? ORDER BY position", (definition_id,)
        ).fetchall()
        return [(cell_id, json.loads(display)) for cell_id, display in rows]

    # -- cells --------------------------------------------------------------------------------------
    def statuses(self, cell_ids: Iterable[str]) -> dict[str, str]:
        """``cell_id -> "done" | "failed"`` for the cells already recorded."""
        ids = list(cell_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self._db.execute(f"SELECT cell_id, status FROM cells WHERE cell_id IN ({marks})", chunk).fetchall())
        return found

    def write_result(self, cell: Cell, result: EvaluationResult, *, dim: int | None, weights_sha256: str, fit_seconds: float) -> None:
        """Record a finished cell (one transaction: it is either fully there or absent)."""
        buffer = io.StringIO()
        result.predictions.to_json(buffer, orient="split", index=False, double_precision=15)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO cells VALUES (?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (
                    cell.cell_id, _dumps(cell.definition()), weights_sha256, None if dim is None else int(dim), float(fit_seconds),
                    _dumps(result.per_split.reset_index().to_dict("records")),
                    zlib.compress(buffer.getvalue().encode()), _dumps(result.info), _dumps(list(result.signatures)), time.time(),
                ),
            )  # fmt: skip

    def write_failure(self, cell: Cell, error: BaseException | str) -> None:
        """Record a cell that failed, with its error, so the table shows it and the sweep carries on."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO cells (cell_id, definition, status, error, created) VALUES (?, ?, 'failed', ?, ?)",
                (cell.cell_id, _dumps(cell.definition()), text, time.time()),
            )

    def rows(self, cell_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The recorded rows (without predictions) of ``cell_ids``."""
        found: dict[str, dict[str, Any]] = {}
        columns = "cell_id, status, weights_sha256, dim, fit_seconds, per_split, info, signatures, error"
        for start in range(0, len(cell_ids), 500):
            chunk = list(cell_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT {columns} FROM cells WHERE cell_id IN ({marks})", chunk):
                record = dict(zip(columns.split(", "), row))
                for name in ("per_split", "info", "signatures"):
                    record[name] = json.loads(record[name]) if record[name] else None
                found[record["cell_id"]] = record
        return found

    def result(self, cell_id: str) -> EvaluationResult:
        """The cell's :class:`EvaluationResult` as it was computed (per-split metrics, predictions, record)."""
        row = self._db.execute(
            "SELECT status, per_split, predictions, info, signatures, error FROM cells WHERE cell_id = ?", (cell_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"Cell {cell_id} is not in results store {self.path!r}; run the sweep to compute it.")
        status, per_split, predictions, info, signatures, error = row
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
