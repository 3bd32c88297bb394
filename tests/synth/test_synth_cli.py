"""`deepfeat-iqa synth` builds a set that `--dataset synth --root` reads back (issue 13 item 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from typer.testing import CliRunner

from deepfeat_iqa.cli import app

runner = CliRunner()


def test_synth_command_builds_a_set_that_evaluate_reads(tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    refs.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c", "d"):
        smooth = np.cumsum(np.cumsum(rng.normal(size=(72, 96, 3)), axis=0), axis=1)
        image = (255 * (smooth - smooth.min()) / np.ptp(smooth)).astype(np.uint8)
        Image.fromarray(image).save(refs / f"{name}.png")
    out = tmp_path / "set"
    built = runner.invoke(app, ["synth", "--references", str(refs), "--out", str(out), "--per-image", "3", "--max-side", "64"])
    assert built.exit_code == 0, built.output
    assert f"12 images of 4 references, pseudo-MOS 0-100 -> {out}" in built.output
    import deepfeat_iqa as dfi

    built_set = dfi.datasets.load("synth", out)  # what `evaluate --dataset synth` reads: 3 versions of each reference
    assert len(built_set) == 12 and sorted(pd.Series(built_set.groups).value_counts().to_dict().items()) == [
        ("a", 3), ("b", 3), ("c", 3), ("d", 3)]  # fmt: skip
    assert np.all((built_set.mos >= 0) & (built_set.mos <= 100)) and np.ptp(built_set.mos) > 0
    evaluated = runner.invoke(app, ["evaluate", "--dataset", "synth", "--root", str(out), "-m", "squeezenet", "-w", "random",
                                    "-l", "features.12", "--store", "none", "-j", "0", "--head", "svr", "-n", "2"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert evaluated.output.strip().splitlines()[-1].startswith("SROCC ")
