"""Damaged chunks: find them chunk by chunk, and name them the same way wherever they are met.

A chunk is *damaged* when zarr cannot give back its numbers: its CRC-32C does not match (arrays made
since checksums, see ``CHUNK_CODECS``), or its bytes do not decompress or decode (any array). Three
readers meet damage: ``extract`` heals it before planning, a ``FeatureSet``'s lazy ``X`` raises when it
reads it, and ``deepfeat-iqa store verify|repair`` walk the whole store. All three name the store, the
array (dataset key, backbone, layer, pooling, views, precision: the array's path says these), the rows
of the chunk and the fix, so a user never has to map a codec's message back to their data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr

from deepfeat_iqa.errors import StoreError

#: Chunks decoded per read while scanning (bounds memory: ~8 MiB of values per chunk).
CHUNKS_PER_READ = 8


@dataclass(frozen=True)
class Damage:
    """One damaged chunk: the zarr path of its array, its rows ``[start, stop)`` and the codec's complaint."""

    array: str
    start: int
    stop: int
    reason: str

    @property
    def rows(self) -> str:
        return f"rows {self.start}-{self.stop - 1}" if self.stop - self.start > 1 else f"row {self.start}"


def store_location(array: zarr.Array) -> str:
    """Where the array's store lives: the directory of a local store, else the store's own description."""
    root = getattr(array.store, "root", None)
    return str(root) if root is not None else str(array.store)


def describe_array(path: str) -> str:
    """``path`` in words: ``backbone resnet18@1a2b3c4d, layer layer3, pooling avg, views center, precision fp32``."""
    parts = path.strip("/").split("/")
    if len(parts) >= 7:
        key, backbone, layer, pooling, views, precision, name = parts[-7:]
        return (
            f"{name!r} of dataset {key}, backbone {backbone}, layer {layer}, pooling {pooling}, views {views}, "
            f"precision {precision} ({path})"
        )
    if len(parts) >= 3 and parts[-2] == "index":
        return f"index {parts[-1]!r} of dataset {parts[-3]} ({path})"
    return repr(path)


def damage_error(location: str, damage: list[Damage]) -> StoreError:
    """The error for damaged chunks: where, which rows, why, and what heals them."""
    first = damage[0]
    more = f" (and {len(damage) - 1} more damaged chunks)" if len(damage) > 1 else ""
    return StoreError(
        f"Damaged chunk in feature store {location!r}: {describe_array(first.array)}, {first.rows} "
        f"({first.reason}){more}. Run the same extract again: it re-extracts exactly the damaged rows "
        f"(or run `deepfeat-iqa store repair {location}` first, then extract)."
    )


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _readable(read: Callable[[], Any]) -> BaseException | None:
    """None when ``read()`` decodes, else the exception (never swallows MemoryError or Ctrl-C)."""
    try:
        read()
    except MemoryError:
        raise
    except Exception as error:  # codecs raise ValueError, RuntimeError, OSError, ... depending on the damage
        return error
    return None


def row_chunks(array: zarr.Array, start: int = 0, stop: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` of every row chunk of ``array`` that overlaps ``[start, stop)``."""
    n = int(array.shape[0])
    stop = n if stop is None else min(int(stop), n)
    size = max(1, int(array.chunks[0]))
    first = (int(start) // size) * size
    return [(lo, min(lo + size, n)) for lo in range(first, stop, size)]


def find_damage(array: zarr.Array, start: int = 0, stop: int | None = None) -> list[Damage]:
    """Every damaged row chunk of ``array`` overlapping ``[start, stop)``; reads a few chunks at a time.

    A group of chunks that decodes costs one read; only a group that fails is read again chunk by chunk,
    so a clean scan reads every byte once.
    """
    chunks = row_chunks(array, start, stop)
    damage = []
    for i in range(0, len(chunks), CHUNKS_PER_READ):
        group = chunks[i : i + CHUNKS_PER_READ]
        if _readable(lambda: array[group[0][0] : group[-1][1]]) is None:
            continue
        for lo, hi in group:
            error = _readable(lambda lo=lo, hi=hi: array[lo:hi])
            if error is not None:
                damage.append(Damage(array.path, lo, hi, _reason(error)))
    return damage


def present_rows(array: zarr.Array) -> np.ndarray:
    """Per row of ``array``: whether every chunk file holding it exists (zarr reads a missing one as fill values)."""
    from itertools import product

    from zarr.core.sync import sync

    store, prefix = array.store_path.store, array.store_path.path
    present = np.zeros(int(array.shape[0]), dtype=bool)
    for index, (lo, hi) in enumerate(row_chunks(array)):
        keys = [f"{prefix}/{array.metadata.encode_chunk_key((index, *rest))}".lstrip("/")
                for rest in product(*(range(n) for n in array.cdata_shape[1:]))]  # fmt: skip
        present[lo:hi] = all(sync(store.exists(key)) for key in keys)
    return present


def find_missing(array: zarr.Array, expected: np.ndarray, reason: str) -> list[Damage]:
    """Row chunks of ``array`` whose file is gone although ``expected`` (a row mask) says they were written.

    A deleted chunk raises nothing: zarr fills it in, so a deleted ``values`` chunk under rows marked done
    would read as NaN features. Only the absence of the file tells.
    """
    gone = expected & ~present_rows(array)
    return [Damage(array.path, lo, hi, reason) for lo, hi in row_chunks(array) if gone[lo:hi].any()]


def read_checked(array: zarr.Array) -> tuple[np.ndarray, list[Damage]]:
    """All of a 1-d row array, damaged chunks replaced by its fill value, and the damage found."""
    try:
        return np.asarray(array[:]), []
    except MemoryError:
        raise
    except Exception:
        pass
    damage = find_damage(array)
    data = np.full(array.shape, array.fill_value, dtype=array.dtype)
    bad = {(d.start, d.stop) for d in damage}
    for lo, hi in row_chunks(array):
        if (lo, hi) not in bad:
            data[lo:hi] = array[lo:hi]
    return data, damage


def raise_if_damaged(array: zarr.Array, start: int, stop: int, error: BaseException) -> None:
    """Called when reading rows ``[start, stop)`` of ``array`` failed: raise a naming ``StoreError`` if a chunk is damaged.

    Returns (and the caller re-raises its own error) when every chunk decodes on its own, so a failure
    that is not damage is never reported as damage.
    """
    if isinstance(error, (MemoryError, KeyboardInterrupt)):
        return
    damage = find_damage(array, start, stop)
    if damage:
        raise damage_error(store_location(array), damage) from error
