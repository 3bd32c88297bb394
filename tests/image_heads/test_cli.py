"""`deepfeat-iqa fit | evaluate | score` with an image head: no extraction, the photos themselves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepfeat_iqa.cli import (
    _heads,  # noqa: F401 - registers fit/evaluate/score on app
    app,
)

from .conftest import TINY

runner = CliRunner()
OPTIONS = ["-o", "epochs=1", "-o", "batch_size=4", "-o", "crop_size=32", "-o", "test_views=center", "-o", "val_views=center",
           "-o", "num_workers=0", "-o", "precision=fp32", "-o", "progress=false"]  # fmt: skip


def test_cli_fits_scores_and_evaluates_an_image_head(images, tmp_path):
    folder = images.paths[0].parent
    labels = pd.DataFrame({"image": images.ids, "mos": images.mos, "ref": images.groups})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    data = ["--images", str(folder), "--labels", str(tmp_path / "labels.csv"), "--group-col", "ref"]
    tiny = ["--backbone", TINY, "--weights", "random", "--head", "spaq-bl", *OPTIONS]
    model_file = tmp_path / "bl.model"
    fitted = runner.invoke(app, ["fit", *data, *tiny, "--out", str(model_file)])
    assert fitted.exit_code == 0, fitted.output
    assert "consumes='images'" in fitted.output
    scored = runner.invoke(app, ["score", str(folder), "--model-file", str(model_file), "--out", str(tmp_path / "s.csv")])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(tmp_path / "s.csv")
    from deepfeat_iqa.persist import load

    expected = dict(zip(images.ids, load(model_file).predict(images)))  # the fitted model's scores, not just any
    assert sorted(scores["id"].map(lambda p: Path(p).name)) == sorted(images.ids)
    for image, score in zip(scores["id"], scores["score"]):
        assert score == pytest.approx(expected[Path(image).name], rel=1e-5, abs=1e-5)
    evaluated = runner.invoke(app, ["evaluate", *data, *tiny, "--n-splits", "2"])
    assert evaluated.exit_code == 0, evaluated.output
    assert evaluated.output.strip().splitlines()[-1].startswith("SROCC ")
