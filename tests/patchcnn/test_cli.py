"""`deepfeat-iqa fit | score | evaluate --head cnniqa|dcnns`: the patch CNNs from the command line."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepfeat_iqa.cli import (
    _heads,  # noqa: F401 - registers fit/evaluate/score on app
    app,
)

runner = CliRunner()
OPTIONS = ["-o", "epochs=1", "-o", "crops_per_image=2", "-o", "num_workers=0", "-o", "progress=false"]


@pytest.mark.slow
@pytest.mark.parametrize("head", ["cnniqa", "dcnns"])
def test_cli_fit_score_evaluate(head, blur_set, tmp_path):
    folder = blur_set.paths[0].parent
    pd.DataFrame({"image": blur_set.ids, "mos": blur_set.mos, "ref": blur_set.groups}).to_csv(tmp_path / "labels.csv", index=False)
    data = ["--images", str(folder), "--labels", str(tmp_path / "labels.csv"), "--group-col", "ref", "--head", head, *OPTIONS]
    model_file = tmp_path / f"{head}.model"
    fitted = runner.invoke(app, ["fit", *data, "--out", str(model_file)])
    assert fitted.exit_code == 0, fitted.output
    scored = runner.invoke(app, ["score", str(folder), "--model-file", str(model_file), "--out", str(tmp_path / "s.csv")])
    assert scored.exit_code == 0, scored.output
    assert pd.read_csv(tmp_path / "s.csv")["score"].notna().sum() == len(blur_set)
    evaluated = runner.invoke(app, ["evaluate", *data, "--n-splits", "2"])
    assert evaluated.exit_code == 0, evaluated.output
    assert evaluated.output.strip().splitlines()[-1].startswith("SROCC ")
