"""Experiment files through the CLI: validation before any work, smoke runs that say so, the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.plots import assert_png_not_blank
import tomllib
from typer.testing import CliRunner

from deepfeat_iqa.cli import app

EXPERIMENTS = Path(__file__).resolve().parents[2] / "benchmarks" / "experiments"

TINY_SWEEP = """
[experiment]
name = "tiny"
kind = "sweep"
paper = "a test"

[datasets]
tid2013 = "tid2013"

[sweep]
backbones = ["resnet10t"]
layers = ["stage3"]
heads = ["svr"]
n_splits = 2

[smoke]
per_image = 3
max_side = 96
"""


TINY_CROSS = """
[experiment]
name = "tinycross"
kind = "cross"

[datasets]
live = "live"
csiq = "csiq"
tid2013 = "tid2013"

[cross]
backbone = "resnet10t"
layers = "stage3"
head = "svr"
unions = { both = ["live", "csiq"] }
train = ["live", "both"]

[smoke]
per_image = 3
max_side = 96
"""


def _write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
def test_smoke_sweep_runs_offline_and_flags_random_weights(tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", str(tmp_path / "cache"))
    file = _write(tmp_path, TINY_SWEEP)
    out = tmp_path / "out"
    result = _invoke("sweep", str(file), "--smoke", "--references", str(photo_dir), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Smoke run" in result.output and "random (untrained)" in result.output and "not a result" in result.output
    document = json.loads((out / "tiny-smoke.json").read_text())
    assert [c["weights"] for c in document["cells"]] == ["random"] and document["cells"][0]["random_weights"] is True
    assert_png_not_blank(out / "tiny-smoke.png")
    assert (out / "tiny-smoke.md").exists()
    page = (out / "tiny-smoke.html").read_text()  # the heatmap page beside the Markdown, the PNG linked from it
    assert 'href="tiny-smoke.png"' in page and f'href="tiny-smoke_cells/{document["cells"][0]["cell_id"]}.html"' in page
    assert (out / "tiny-smoke_cells" / f"{document['cells'][0]['cell_id']}.html").is_file()
    again = _invoke("sweep", str(file), "--smoke", "--references", str(photo_dir), "--out", str(out), "--quiet")
    assert again.exit_code == 0 and json.loads((out / "tiny-smoke.json").read_text())["cells"] == document["cells"]


@pytest.mark.slow
def test_smoke_cross_writes_the_matrix(tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFEAT_IQA_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    result = _invoke("cross", str(_write(tmp_path, TINY_CROSS)), "--smoke", "--references", str(photo_dir), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "weights random" in result.output and "Unions: both = live + csiq" in result.output
    pairs = json.loads((out / "tinycross-smoke.json").read_text())["pairs"]
    assert [(p["train"], p["test"]) for p in pairs] == [("live", "csiq"), ("live", "tid2013"), ("both", "tid2013")]
    assert_png_not_blank(out / "tinycross-smoke.png")
    assert 'src="tinycross-smoke.png"' in (out / "tinycross-smoke.html").read_text()


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (("resnet10t", "resnet10x"), ["--smoke"], "Unknown backbone 'resnet10x'"),
        (('"stage3"', '"stage33"'), ["--smoke"], "Unknown layer 'stage33'"),
        (('heads = ["svr"]', 'heads = ["svm"]'), ["--smoke"], "Unknown head 'svm'.*Did you mean 'svr'"),
        (('tid2013 = "tid2013"', 'tid2013 = "tid2031"'), ["--smoke"], "dataset 'tid2013'.*Unknown dataset loader 'tid2031'"),
        (("n_splits = 2", "nsplits = 2"), ["--smoke"], r"Unknown key in \[sweep\] 'nsplits'.*Did you mean 'n_splits'"),
        (("", ""), [], "Dataset 'tid2013' of exp.toml has no root; pass --root tid2013=DIR"),
        (("", ""), ["--root", "tid2013=/no/such/folder"], "Dataset 'tid2013': root '/no/such/folder' does not exist"),
        (("", ""), ["--root", "tid2031=/x"], "Unknown dataset 'tid2031'.*Did you mean 'tid2013'"),
    ],
)
def test_bad_experiments_fail_before_any_work(tmp_path: Path, edit: tuple[str, str], args: list[str], message: str) -> None:
    import re

    file = _write(tmp_path, TINY_SWEEP.replace(*edit) if edit[0] else TINY_SWEEP)
    out = tmp_path / "out"
    result = _invoke("sweep", str(file), "--out", str(out), "--quiet", *args)
    assert result.exit_code == 1, result.output
    assert re.search(message, " ".join(result.output.split())), result.output
    assert not out.exists()


def test_a_cross_file_is_not_run_as_a_sweep() -> None:
    result = _invoke("sweep", str(EXPERIMENTS / "seed003_table5.toml"), "--smoke", "--dry-run")
    assert result.exit_code != 0 and "deepfeat-iqa cross" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("file", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_experiment_files_validate(file: Path, tmp_path: Path) -> None:
    document = tomllib.loads(file.read_text())
    kind = document["experiment"]["kind"]
    smoke = _invoke(kind, str(file), "--smoke", "--dry-run")
    assert smoke.exit_code == 0, smoke.output
    roots = [arg for name in document["datasets"] for arg in ("--root", f"{name}={tmp_path}")]
    real = _invoke(kind, str(file), "--dry-run", *roots)
    assert real.exit_code == 0, real.output
    # Real runs keep ImageNet weights (smoke runs swap in random ones where no offline weights exist): read the
    # settings the run would use, since the dry-run output prints no weights line at all for the default.
    from deepfeat_iqa.studies._experiments import load_experiment, validate

    settings = validate(load_experiment(file), {name: tmp_path for name in document["datasets"]}, smoke=False)
    weights = settings.get("weights", "imagenet")
    assert set(weights.values() if isinstance(weights, dict) else [weights]) == {"imagenet"}, weights
    smoke_settings = validate(load_experiment(file), {}, smoke=True)  # the same check sees smoke's random weights
    if "resnet50" in str(smoke_settings.get("backbones", smoke_settings.get("backbone"))):
        assert "random" in str(smoke_settings["weights"])
