"""``load("synth", root)``: a set written by :func:`deepfeat_iqa.synth.build`, read like any database."""

from __future__ import annotations

from pathlib import Path

from ._dataset import Dataset
from ._registry import register_dataset


@register_dataset("synth", aliases=("synthetic", "pseudo-mos"))
def load_synth(root: str | Path) -> Dataset:
    """Read back the ``labels.csv`` of a set :func:`deepfeat_iqa.synth.build` wrote under ``root``.

    No image is opened: scores are the pseudo-MOS, groups the reference photo, and the distortion
    labels the ``distortion`` table. (The synth package is imported only here, so loading a published
    database never imports the full-reference metrics.)
    """
    from ..synth._build import load

    return load(root)
