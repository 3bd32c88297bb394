"""`deepfeat-iqa fit | evaluate | score` through typer's CliRunner, on a tiny random-weight extraction."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageFilter
from typer.testing import CliRunner

from deepfeat_iqa.cli import app
from deepfeat_iqa.cli import _heads  # noqa: F401 - registers fit/evaluate/score on app

runner = CliRunner()
# squeezenet with seeded random weights: no download, the smallest registered backbone.
TINY = ["--model", "squeezenet", "--weights", "random", "--layer", "features.12"]


@pytest.fixture()
def labeled_dir(tmp_path: Path) -> Path:
    """Four scikit-image photos at three blur levels each (12 images, grouped by photo), with a labels CSV."""
    from skimage import data

    folder = tmp_path / "images"
    folder.mkdir()
    rows = []
    for photo in ("astronaut", "chelsea", "coffee", "rocket"):
        image = Image.fromarray(getattr(data, photo)()[..., :3]).resize((96, 96))
        for level in range(3):
            name = f"{photo}_blur{level}.png"
            image.filter(ImageFilter.GaussianBlur(2 * level)).save(folder / name)
            rows.append({"image": name, "mos": 80 - 25 * level + len(rows) % 3, "ref": photo})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder


def test_fit_then_score_then_evaluate(labeled_dir: Path, tmp_path: Path) -> None:
    data = ["--images", str(labeled_dir), "--labels", "labels.csv", "--group-col", "ref", "--store", str(tmp_path / "f.zarr")]
    model_file = tmp_path / "model.joblib"
    fitted = runner.invoke(app, ["fit", *data, *TINY, "--head", "svr", "--out", str(model_file)])
    assert fitted.exit_code == 0, fitted.output
    assert model_file.stat().st_size > 0

    scores_csv = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(labeled_dir), "--model-file", str(model_file), "--out", str(scores_csv), "--store", "none"])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(scores_csv)
    assert list(scores.columns) == ["id", "path", "score"] and len(scores) == 12 and scores["score"].notna().all()

    report = tmp_path / "report"
    evaluated = runner.invoke(
        app, ["evaluate", *data, *TINY, "--head", "svr", "--n", "2", "--test-size", "0.5", "--report", str(report)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert evaluated.output.strip().splitlines()[-1].startswith("SROCC ")
    for name in ("report.md", "result.json", "predictions.csv"):
        assert (report / name).stat().st_size > 0
    assert len(list((report / "plots").glob("*.png"))) == 3


def test_usage_errors_read_as_one_line(tmp_path: Path) -> None:
    both = runner.invoke(app, ["fit", "--images", str(tmp_path), "--dataset", "live", "--out", str(tmp_path / "m.joblib")])
    assert both.exit_code == 2 and "either --dataset" in both.output
    not_ours = tmp_path / "model.joblib"
    not_ours.write_text("hello")
    photo = tmp_path / "a.png"
    Image.new("RGB", (32, 32)).save(photo)
    refused = runner.invoke(app, ["score", str(photo), "--model-file", str(not_ours)])
    assert refused.exit_code == 1 and "is not a safe deepfeat-iqa model file" in refused.output
    assert "Traceback" not in refused.output


def test_head_options_parse_json_values() -> None:
    assert _heads._head_options(["tune_trials=30", "kernel=rbf", "ard=true"]) == {"tune_trials": 30, "kernel": "rbf", "ard": True}
