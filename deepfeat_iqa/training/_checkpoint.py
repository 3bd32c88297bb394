"""One checkpoint file per run, rewritten atomically each epoch, that refuses to resume under other settings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from deepfeat_iqa.errors import TrainingError

FILENAME = "checkpoint.pt"


def write(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` next to ``path`` and rename it into place, so a kill mid-write leaves the last epoch intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, path)


def read(path: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if there is one, after checking it was written under ``record``.

    Raises
    ------
    TrainingError
        When the checkpoint was written with other settings (each differing field is named).
    """
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    stored = json.loads(state["record"])
    mine = json.loads(json.dumps(record, default=str))
    differing = [
        f"{key}: checkpoint {stored.get(key)!r}, now {mine.get(key)!r}"
        for key in sorted(set(stored) | set(mine))
        if stored.get(key) != mine.get(key)
    ]
    if differing:
        raise TrainingError(
            f"The checkpoint {str(path)!r} was written by a run with other settings ({'; '.join(differing)}). "
            "Resume with the same settings, or delete the checkpoint (or pass another checkpoint_dir) to start over."
        )
    return state


def encode_record(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, default=str)
