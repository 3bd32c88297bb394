"""Figures checked by what they show, not by file size: capture each figure as it is saved, read PNGs back.

Issue 22 found plots tested only as "a PNG over 1000 bytes", which an empty axes or a blank image passes.
``captured_figures`` wraps ``evaluation.plots.save_figure`` (the one place the library writes figures, heatmaps
included) so a test can read the matplotlib objects: axis labels, titles, scatter offsets, image arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image


def captured_figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """File name -> the ``Figure`` saved there, filled as the library saves figures."""
    from deepfeat_iqa.evaluation import plots

    saved: dict[str, Figure] = {}
    original = plots.save_figure

    def recording(fig: Figure, path, **kwargs):
        written = original(fig, path, **kwargs)
        saved[Path(written).name] = fig
        return written

    monkeypatch.setattr(plots, "save_figure", recording)
    return saved


def assert_png_not_blank(path: Path, *, min_ink: float = 0.02) -> np.ndarray:
    """The PNG decodes, and at least ``min_ink`` of its pixels are not background white: something was drawn."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    ink = (np.abs(pixels - 255).sum(axis=2) > 60).mean()
    assert ink >= min_ink, f"{path.name}: only {ink:.3%} of the pixels are drawn"
    return pixels
