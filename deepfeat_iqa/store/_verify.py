"""Check, repair and list a feature store: ``dfi.store.verify|repair|info`` and ``deepfeat-iqa store ...``.

Why a walk of its own: ``extract`` only heals the arrays it is asked for, and a damaged chunk elsewhere
would surface months later as an error in someone's fit. ``verify`` decodes every chunk of every array
once (checksums make that conclusive for arrays written since they exist); ``repair`` resets the rows of
each damaged chunk to "not done" with full-chunk writes (which never read the damaged bytes), so the
next ``extract`` of that configuration fills exactly those rows. ``info`` reads only metadata and the
small per-row records.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from zarr.codecs import Crc32cCodec

from deepfeat_iqa.errors import StoreError
from deepfeat_iqa.store._damage import Damage, describe_array, find_damage, find_missing, present_rows, read_checked, store_location

log = logging.getLogger(__name__)

#: The arrays of one feature group, each with the value a row has before anything is written.
ROW_ARRAYS = {"done": False, "failed": False, "error": "", "n_crops": 0}


@dataclass
class ArrayReport:
    """One feature group (or a dataset's index): rows, progress, damage and how it is stored."""

    path: str
    kind: str  # "features" or "index"
    rows: int
    done: int = 0
    failed: int = 0
    damaged: list[Damage] = field(default_factory=list)
    checksummed: bool = True
    stored_bytes: int = 0
    dim: int = 0
    dtype: str = ""

    @property
    def damaged_rows(self) -> int:
        return len({row for d in self.damaged for row in range(d.start, d.stop)})


@dataclass
class StoreReport:
    """What :func:`verify`, :func:`repair` or :func:`info` found in one store."""

    url: str
    arrays: list[ArrayReport]
    repaired: list[Damage] = field(default_factory=list)

    @property
    def damaged(self) -> list[Damage]:
        return [d for a in self.arrays for d in a.damaged]

    @property
    def ok(self) -> bool:
        return not self.damaged

    def table(self) -> pd.DataFrame:
        """One row per array: key, rows, done, failed, damaged rows, checksum, dims, dtype, MB on disk."""
        return pd.DataFrame(
            [
                {
                    "array": a.path, "kind": a.kind, "rows": a.rows, "done": a.done if a.kind == "features" else "",
                    "failed": a.failed if a.kind == "features" else "", "damaged": a.damaged_rows,
                    "checksum": "crc32c" if a.checksummed else "none", "dim": a.dim or "", "dtype": a.dtype,
                    "MB": round(a.stored_bytes / 2**20, 2),
                }
                for a in self.arrays
            ]
        )  # fmt: skip


def _open(path: str | os.PathLike[str], mode: str) -> zarr.Group:
    """Open an existing store (never create one: verifying a typo must not make an empty store)."""
    text = str(path)
    if "://" not in text and not (Path(text).expanduser() / "zarr.json").is_file():
        raise StoreError(f"{text!r} is not a feature store (no zarr.json there); pass the folder extract wrote, e.g. features.zarr.")
    try:
        return zarr.open_group(str(Path(text).expanduser()) if "://" not in text else text, mode=mode, zarr_format=3, use_consolidated=False)
    except Exception as error:  # zarr/fsspec raise many types
        raise StoreError(f"Cannot open feature store {text!r} as a zarr v3 group ({error}).") from error


def _groups(root: zarr.Group) -> dict[str, dict[str, zarr.Array]]:
    """Arrays by parent group path, for every group that holds arrays."""
    groups: dict[str, dict[str, zarr.Array]] = {}
    for name, node in root.members(max_depth=None):
        if isinstance(node, zarr.Array):
            parent, _, leaf = node.path.rpartition("/")
            groups.setdefault(parent, {})[leaf] = node
    return dict(sorted(groups.items()))


def _checksummed(array: zarr.Array) -> bool:
    return any(isinstance(codec, Crc32cCodec) for codec in array.metadata.codecs)


def _stored_bytes(array: zarr.Array) -> int:
    try:
        return int(array.nbytes_stored())
    except Exception:  # some fsspec stores cannot list sizes
        return 0


def _report(path: str, arrays: dict[str, zarr.Array], *, scan: bool) -> ArrayReport:
    kind = "features" if "values" in arrays or "done" in arrays else "index" if path.endswith("/index") or path == "index" else "other"
    first = next(iter(arrays.values()))
    report = ArrayReport(path=path, kind=kind, rows=int(first.shape[0]) if first.shape else 0)
    report.checksummed = all(_checksummed(a) for a in arrays.values())
    report.stored_bytes = sum(_stored_bytes(a) for a in arrays.values())
    if "values" in arrays:
        report.dim, report.dtype = int(arrays["values"].shape[-1]), str(arrays["values"].dtype)
    for name, array in arrays.items():
        if name in ("done", "failed"):
            data, damage = read_checked(array)
            setattr(report, name, int(data.sum()))
            report.damaged += damage
        elif scan:
            report.damaged += find_damage(array)
    if scan and "done" in arrays:
        report.damaged += _missing(arrays)
    return report


def _missing(arrays: dict[str, zarr.Array]) -> list[Damage]:
    """Deleted chunk files: ``values`` under rows marked done, or ``done`` beside written ``values``.

    Either reads back as fill values without an error (NaN features marked done; finished rows forgotten).
    A kill between a block's values write and its done write also leaves the second case: its rows are
    recomputed either way, so naming it costs nothing.
    """
    done, _ = read_checked(arrays["done"])
    damage = find_missing(arrays["values"], done, "chunk file missing under rows marked done") if "values" in arrays else []
    if "values" in arrays:
        damage += find_missing(arrays["done"], present_rows(arrays["values"]), "done-mask chunk file missing beside written values")
    return damage


def walk(path: str | os.PathLike[str], *, scan: bool = True, mode: str = "r") -> tuple[zarr.Group, StoreReport]:
    """Open the store and report every group of arrays; ``scan`` decodes every chunk (else only row records)."""
    root = _open(path, mode)
    url = str(path)
    return root, StoreReport(url, [_report(p, arrays, scan=scan) for p, arrays in _groups(root).items()])


def verify(path: str | os.PathLike[str]) -> StoreReport:
    """Decode every chunk of every array in the store at ``path``; the report lists each damaged chunk.

    Examples
    --------
    >>> report = dfi.store.verify("features.zarr")  # doctest: +SKIP
    >>> report.ok, report.table()  # doctest: +SKIP
    """
    return walk(path)[1]


def info(path: str | os.PathLike[str]) -> StoreReport:
    """Keys, rows, progress and size of every array, reading only metadata and the per-row records."""
    return walk(path, scan=False)[1]


def reset_rows(group: zarr.Group, start: int, stop: int) -> None:
    """Rows ``[start, stop)`` back to "never computed", ``done`` first: full-chunk writes never read old bytes.

    ``[start, stop)`` must be whole row chunks (chunks of the row arrays and of ``values`` agree).
    """
    for name, fill in ROW_ARRAYS.items():
        if name in group.array_keys():
            group[name][start:stop] = fill
    if "values" in group.array_keys():
        group["values"][start:stop] = np.nan


def heal_group(group: zarr.Group) -> list[Damage]:
    """Find damaged chunks in one feature group and reset their rows; returns what was reset.

    Index damage is not handled here (``FeatureStore.sync_index`` rewrites a damaged index from the
    dataset), because only the caller knows the ids and paths.
    """
    damage = [d for name in ("done", "failed", "error", "n_crops", "values") if name in group.array_keys() for d in find_damage(group[name])]
    if "done" in group.array_keys():
        damage += _missing({name: group[name] for name in group.array_keys()})
    for start, stop in sorted({(d.start, d.stop) for d in damage}):
        reset_rows(group, start, stop)
    return damage


def heal_logged(group: zarr.Group) -> list[Damage]:
    """:func:`heal_group`, logging a warning that names each repaired chunk (``extract`` calls this)."""
    damage = heal_group(group)
    if damage:
        rows = sorted({(d.start, d.stop) for d in damage})
        log.warning(
            "Repaired %d damaged chunk(s) in %s: %s, %s (%s); these rows are extracted again.",
            len(damage), store_location(group["done"]), describe_array(damage[0].array),
            ", ".join(f"rows {lo}-{hi - 1}" for lo, hi in rows), damage[0].reason,
        )  # fmt: skip
    return damage


def repair(path: str | os.PathLike[str]) -> StoreReport:
    """Reset the rows of every damaged chunk to "not done", so the next ``extract`` refills exactly those.

    A damaged index chunk is left to ``extract`` (it rewrites the index from the dataset). The report
    lists the state after repair; ``report.repaired`` the chunks that were reset.
    """
    root, _ = walk(path, scan=False, mode="r+")
    repaired = []
    for group_path, arrays in _groups(root).items():
        if "done" in arrays:
            repaired += heal_group(root[group_path] if group_path else root)
    report = verify(path)
    report.repaired = repaired
    return report
