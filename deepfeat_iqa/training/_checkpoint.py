"""The run's checkpoints, rewritten atomically each epoch: the latest and the one before, each with its sha256.

A kill mid-write leaves the previous files intact (write to a temporary file, fsync, rename). A file damaged
after it was written (a bad disk, a cut copy, a flipped bit: torch's zip reader checks no CRC) fails its
sha256 and is skipped for the one before it, with a warning naming it; when neither is intact, training
starts over, with a warning. A checkpoint written under other settings is refused, never skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from deepfeat_iqa.errors import TrainingError

logger = logging.getLogger(__name__)

FILENAME = "checkpoint.pt"
#: The checkpoint of the epoch before the latest, kept as the fallback for a damaged latest one.
PREVIOUS = "checkpoint.previous.pt"
#: Appended after torch's zip with the sha256 of everything before it; ``torch.load`` ignores trailing bytes.
_TRAILER = b"DFI-CHECKPOINT-SHA256:"
_KEYS = ("record", "epoch", "network", "optimizer", "scheduler", "history", "best_srocc", "best_epoch", "best_state", "stale", "finished")


class _DamagedCheckpoint(TrainingError):
    """A checkpoint file that cannot be read back as it was written (caught here: the fallback is the previous one)."""


def write(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as the latest checkpoint at ``path``, keeping the one it replaces as :data:`PREVIOUS`.

    The new file is complete and synced before any rename, so a kill at any point leaves at least one
    intact checkpoint (a kill between the two renames leaves only the previous one, which ``read`` uses).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    _append_digest(partial)
    if path.exists():
        os.replace(path, path.with_name(PREVIOUS))
    os.replace(partial, path)


def _append_digest(file: Path) -> None:
    """Append :data:`_TRAILER` and the sha256 of the file's bytes, then fsync it."""
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with open(file, "ab") as handle:
        handle.write(_TRAILER + digest.digest())
        handle.flush()
        os.fsync(handle.fileno())


def read(path: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The newest intact checkpoint (at ``path``, else :data:`PREVIOUS` beside it), checked against ``record``.

    Returns ``None`` when there is none to resume from (training starts at epoch 1; a warning says so when
    the files there were damaged).

    Raises
    ------
    TrainingError
        When the checkpoint was written with other settings (each differing field is named).
    """
    damaged: list[str] = []
    for candidate in (path, path.with_name(PREVIOUS)):
        if not candidate.is_file():
            continue
        try:
            state = _load(candidate)
        except _DamagedCheckpoint as error:
            logger.warning("Checkpoint %s is damaged (%s); skipping it for the one before it.", candidate, error)
            damaged.append(str(candidate))
            continue
        _check_record(candidate, state, record)
        if damaged:
            logger.warning("Resuming from the intact checkpoint %s (epoch %d) instead.", candidate, state["epoch"])
        return state
    if damaged:
        logger.warning("No intact checkpoint in %s (damaged: %s); training starts over from epoch 1.", path.parent, ", ".join(damaged))
    return None


def _load(file: Path) -> dict[str, Any]:
    """The state in ``file`` after checking its sha256 (files from before the checksum: loaded as they are)."""
    data = file.read_bytes()
    end = len(data) - hashlib.sha256().digest_size
    if data[end - len(_TRAILER) : end] == _TRAILER:
        payload = data[: end - len(_TRAILER)]
        if hashlib.sha256(payload).digest() != data[end:]:
            raise _DamagedCheckpoint("its bytes do not match the sha256 written with it")
    else:
        payload = data
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - whatever torch's reader says, the file cannot be resumed from
        raise _DamagedCheckpoint(f"{type(error).__name__}: {error}") from error
    missing = [key for key in _KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise _DamagedCheckpoint(f"it lacks {', '.join(missing)}")
    return state


def _check_record(file: Path, state: dict[str, Any], record: dict[str, Any]) -> None:
    """Refuse a checkpoint written under another record or settings, naming each differing field."""
    stored = json.loads(state["record"])
    mine = json.loads(json.dumps(record, default=str))
    differing = [
        f"{key}: checkpoint {stored.get(key)!r}, now {mine.get(key)!r}"
        for key in sorted(set(stored) | set(mine))
        if stored.get(key) != mine.get(key)
    ]
    if differing:
        raise TrainingError(
            f"The checkpoint {str(file)!r} was written by a run with other settings ({'; '.join(differing)}). "
            f"Resume with the same settings, or delete {str(file.parent)!r} (or pass another checkpoint_dir) to start over."
        )


def encode_record(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, default=str)
