"""``load("synth", root)``: a set written by :func:`deepfeat_iqa.synth.build`, read like any database."""

from __future__ import annotations

from pathlib import Path

from ._checks import Source, check_root, find_file, locate_images, warn_unlisted
from ._dataset import Dataset
from ._registry import register_dataset


@register_dataset("synth", aliases=("synthetic", "pseudo-mos"))
def load_synth(root: str | Path) -> Dataset:
    """Read back the ``labels.csv`` of a set :func:`deepfeat_iqa.synth.build` wrote under ``root``.

    Layout (what ``build`` writes)::

        root/
          labels.csv   id, path, reference, pseudo_mos, type/level/class (or the 26 authentic labels)
          images/      <reference>/<id>.png

    Scores are the pseudo-MOS, groups the reference photo, and the distortion labels the
    ``distortion`` table. The images are checked like every loader's (all missing ones named in one
    error, strays warned about) but not opened. The synth package is imported only here, so loading a
    published database never imports the full-reference metrics.
    """
    from ..synth._build import LABELS_CSV, load

    root = check_root("synth", root, f"{LABELS_CSV} and images/ written by dfi.synth.build")
    path = find_file("synth", root, [LABELS_CSV], "Create the set with dfi.synth.build(references, out_dir) or `deepfeat-iqa synth`.")
    dataset = load(root)
    folder = root / "images"
    names = [Path(p).relative_to(folder).as_posix() for p in dataset.paths]
    src = Source("synth", path)
    locate_images(src, folder, names, [i + 2 for i in range(len(names))])
    warn_unlisted(src, folder, dataset.paths, recursive=True)
    return dataset
