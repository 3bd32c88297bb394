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
TINY = ["--backbone", "squeezenet", "--weights", "random", "--layers", "features.12"]


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
    model_file = tmp_path / "model.dfi"
    fitted = runner.invoke(app, ["fit", *data, *TINY, "--head", "svr", "--out", str(model_file)])
    assert fitted.exit_code == 0, fitted.output
    import zipfile

    assert zipfile.is_zipfile(model_file)  # the .dfi format (a zip of JSON + safetensors), not a joblib pickle

    scores_csv = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(labeled_dir), "--model-file", str(model_file), "--out", str(scores_csv), "--store", "none",
                                 "--report", str(tmp_path / "score-report")])  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert f"report: {tmp_path / 'score-report' / 'index.html'}" in scored.output
    assert len(list((tmp_path / "score-report" / "thumbs").glob("*.jpg"))) == 12
    scores = pd.read_csv(scores_csv)
    assert list(scores.columns) == ["id", "path", "score"] and len(scores) == 12 and scores["score"].notna().all()
    # the id is the dataset id (file name relative to the folder, as in labels.csv), not the path again
    assert sorted(scores["id"]) == sorted(pd.read_csv(labeled_dir / "labels.csv")["image"])

    report = tmp_path / "report"
    evaluated = runner.invoke(
        app, ["evaluate", *data, *TINY, "--head", "svr", "--n-splits", "2", "--test-size", "0.5", "--report", str(report)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    summary, where = evaluated.output.strip().splitlines()[-2:]
    assert summary.startswith("SROCC ") and where == f"report: {report / 'index.html'} (and report.md)"
    for name in ("index.html", "report.md", "results.json", "predictions.csv"):
        assert (report / name).stat().st_size > 0
    plots = sorted(p.name for p in (report / "plots").glob("*.png"))
    assert plots == [f"svr_images_squeezenet-features.12_{kind}.png" for kind in ("qq", "residuals", "scatter")]


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


def test_extract_out_feeds_fit_and_evaluate_and_two_layer_models_score(labeled_dir: Path, tmp_path: Path) -> None:
    feats = tmp_path / "feats.npz"
    tiny = ["-m", "squeezenet", "-w", "random", "-l", "features.9", "-l", "features.12", "--pooling", "avg+std"]
    extracted = runner.invoke(app, ["extract", str(labeled_dir), *tiny, "-b", "4", "-j", "0", "--store", "none", "--out", str(feats)])
    assert extracted.exit_code == 0, extracted.output
    data = ["--images", str(labeled_dir), "--labels", "labels.csv", "--group-col", "ref"]
    model_file = tmp_path / "two.joblib"
    fitted = runner.invoke(app, ["fit", *data, "--features", str(feats), "--head", "svr", "--out", str(model_file)])
    assert fitted.exit_code == 0, fitted.output
    assert "layer=('features.9', 'features.12'), pooling=('avg+std', 'avg+std')" in fitted.output
    evaluated = runner.invoke(app, ["evaluate", *data, "--features", str(feats), "-l", "features.12", "--head", "svr", "-n", "2"])
    assert evaluated.exit_code == 0 and "squeezenet/features.12" in evaluated.output, evaluated.output
    scores_csv = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(labeled_dir), "--model-file", str(model_file), "--out", str(scores_csv), "-b", "4", "--store", "none"])
    assert scored.exit_code == 0, scored.output
    assert pd.read_csv(scores_csv)["score"].notna().sum() == 12
    as_csv = tmp_path / "feats.csv"
    runner.invoke(app, ["extract", str(labeled_dir), *tiny, "-j", "0", "--store", "none", "--out", str(as_csv)])
    refused = runner.invoke(app, ["fit", *data, "--features", str(as_csv), "--out", str(tmp_path / "m.joblib")])
    assert refused.exit_code == 1 and "FILE.npz" in refused.output


def test_every_extracting_command_shares_flags() -> None:
    import typer.main

    commands = typer.main.get_command(app).commands
    expected = {"backbone": "-m", "layers": "-l", "weights": "-w", "device": "-d", "batch_size": "-b", "num_workers": "-j", "on_error": "--on-error"}
    for name in ("extract", "fit", "evaluate", "demo"):
        options = {p.name: p.opts for p in commands[name].params if p.param_type_name == "option"}
        for option, flag in expected.items():
            if name == "demo" and option in ("backbone", "layers", "on_error"):
                continue  # the demo fixes its backbone and layers; its images are generated, never unreadable
            assert flag in options[option], (name, option)
    score = {p.name: p.opts for p in commands["score"].params if p.param_type_name == "option"}
    assert {"device", "batch_size", "num_workers", "on_error", "weights"} <= set(score)


def test_fit_help_names_the_model_format_it_writes() -> None:
    """`fit` writes a .dfi model file (issue 21: its --help said .joblib, the pickle format it no longer writes)."""
    import re

    result = runner.invoke(app, ["fit", "--help"], env={"COLUMNS": "240", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert ".dfi" in text and ".joblib" not in text


def test_errors_speak_the_cli_vocabulary(tmp_path: Path) -> None:
    from deepfeat_iqa.cli._errors import cli_vocabulary

    flags = {"on_error": "--on-error", "weights": "--weights", "image_col": "--image-col"}
    assert cli_vocabulary("pass on_error='skip' to go on, or weights=PATH; check image_col=", flags) == (
        "pass --on-error skip to go on, or --weights PATH; check --image-col "
    )
    broken = tmp_path / "imgs"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"not a png")
    result = runner.invoke(app, ["extract", str(broken), "-m", "squeezenet", "-w", "random", "-j", "0", "--store", "none"])
    assert result.exit_code == 1 and "--on-error skip" in result.output and "on_error=" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the message for a machine without a GPU")
def test_device_cuda_without_gpu_is_one_line(labeled_dir: Path) -> None:
    result = runner.invoke(app, ["extract", str(labeled_dir), "-m", "squeezenet", "-w", "random", "--device", "cuda", "--store", "none"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith("Error: --device cuda asks for a GPU, but torch")
