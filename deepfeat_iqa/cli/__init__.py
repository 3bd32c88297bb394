"""The ``deepfeat-iqa`` command: a thin shell over the Python API (one module per command group)."""

from __future__ import annotations

from deepfeat_iqa.cli._app import app

# Each command module adds its commands to ``app`` when imported; imported here, on purpose, in menu order.
from deepfeat_iqa.cli import _demo, _extract, _heads, _store, _studies, _synth  # noqa: E402,F401

__all__ = ["app"]
