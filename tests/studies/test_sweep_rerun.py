"""A finished sweep rerun from a new process plans nothing and imports neither torch, timm nor zarr (issue 21)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
from sklearn.linear_model import Ridge

import deepfeat_iqa as dfi

from helpers import TESTS
from helpers.studies import TINY_MODEL

RERUN = textwrap.dedent(
    """
    import json, sys
    from sklearn.linear_model import Ridge
    import deepfeat_iqa as dfi

    folder, results, store, changed = sys.argv[1:5]
    ds = dfi.datasets.load_folder(folder, folder + "/labels.csv", group_col="ref")
    study = dfi.sweep(ds, backbones="{model}", layers=["stage2", "stage3"], heads=[Ridge(alpha=1.0 if changed == "no" else 2.0)],
                      weights="random", n_splits=2, store=store, results=results, progress=False)
    heavy = sorted(m for m in ("torch", "timm", "zarr", "deepfeat_iqa.backbones", "deepfeat_iqa.extraction") if m in sys.modules)
    print(json.dumps({{"heavy": heavy, "statuses": study.db.statuses(study.cell_ids)}}))
    """
).format(model=TINY_MODEL)


def _rerun(folder: Path, tmp_path: Path, changed: str) -> dict:
    script = tmp_path / "rerun.py"
    script.write_text(RERUN)
    done = subprocess.run(
        [sys.executable, str(script), str(folder), str(tmp_path / "study.db"), str(tmp_path / "f.zarr"), changed],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": f"{TESTS.parent}:{TESTS}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_finished_sweep_rerun_computes_nothing_and_imports_no_torch(tiny, tmp_path: Path) -> None:
    folder = tiny.paths[0].parent
    pd.DataFrame({"image": tiny.ids, "mos": tiny.mos, "ref": tiny.groups}).to_csv(folder / "labels.csv", index=False)
    ds = dfi.datasets.load_folder(folder, folder / "labels.csv", group_col="ref")
    first = dfi.sweep(ds, backbones=TINY_MODEL, layers=["stage2", "stage3"], heads=[Ridge(alpha=1.0)], weights="random", n_splits=2,
                      store=tmp_path / "f.zarr", results=tmp_path / "study.db", progress=False)  # fmt: skip
    table = first.table()
    assert (table["status"] == "done").all() and len(table) == 2

    again = _rerun(folder, tmp_path, "no")
    assert again["heavy"] == [], again  # no backbone, no extraction, no feature store: the results store answered
    assert sorted(again["statuses"]) == sorted(first.cell_ids) and set(again["statuses"].values()) == {"done"}
    pd.testing.assert_frame_equal(dfi.studies.open_study(tmp_path / "study.db").table(), table)


def test_a_changed_argument_plans_again(tiny, tmp_path: Path) -> None:
    folder = tiny.paths[0].parent
    pd.DataFrame({"image": tiny.ids, "mos": tiny.mos, "ref": tiny.groups}).to_csv(folder / "labels.csv", index=False)
    ds = dfi.datasets.load_folder(folder, folder / "labels.csv", group_col="ref")
    dfi.sweep(ds, backbones=TINY_MODEL, layers=["stage2", "stage3"], heads=[Ridge(alpha=1.0)], weights="random", n_splits=2,
              store=tmp_path / "f.zarr", results=tmp_path / "study.db", progress=False)  # fmt: skip
    # another head option is another definition: planned again (and refused without extend=, as before)
    try:
        _rerun(folder, tmp_path, "yes")
    except AssertionError as error:
        assert "written by another sweep definition" in str(error)
    else:
        raise AssertionError("a changed head must not be answered from the finished definition")


EXPERIMENT = f"""
[experiment]
name = "tiny"
kind = "sweep"

[datasets]
tid2013 = "tid2013"

[sweep]
backbones = ["{TINY_MODEL}"]
layers = ["stage2", "stage3"]
heads = ["svr"]
n_splits = 2

[smoke]
per_image = 3
max_side = 96
"""

#: ``deepfeat-iqa ARGS`` as the console script runs it, then the heavy modules it imported, as a last JSON line.
CLI = textwrap.dedent(
    """
    import json, sys
    from deepfeat_iqa.cli import app
    try:
        app(sys.argv[1:], standalone_mode=False)
    finally:
        heavy = sorted(m for m in ("torch", "timm", "zarr", "deepfeat_iqa.backbones", "deepfeat_iqa.extraction") if m in sys.modules)
        print(json.dumps({"heavy": heavy}))
    """
)


def test_finished_experiment_file_rerun_from_the_cli_imports_no_torch(photo_dir: Path, tmp_path: Path) -> None:
    import os

    from typer.testing import CliRunner

    from deepfeat_iqa.cli import app

    file, out, env = tmp_path / "exp.toml", tmp_path / "out", {**os.environ, "DEEPFEAT_IQA_CACHE": str(tmp_path / "cache")}
    file.write_text(EXPERIMENT)
    args = ["sweep", str(file), "--smoke", "--references", str(photo_dir), "--out", str(out), "--quiet"]
    first = CliRunner().invoke(app, args, env={"DEEPFEAT_IQA_CACHE": env["DEEPFEAT_IQA_CACHE"]})
    assert first.exit_code == 0, first.output
    pages = {p: p.stat().st_mtime_ns for p in (out / "tiny-smoke_cells").glob("*.html")}
    assert len(pages) == 2

    script = tmp_path / "cli.py"
    script.write_text(CLI)
    again = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                           env={**env, "PYTHONPATH": f"{TESTS.parent}:{TESTS}"})  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["heavy"] == []  # no torch, no backbone registry, no store
    assert first.output.split("wrote:")[0].strip() in again.stdout  # the same tables
    assert {p: p.stat().st_mtime_ns for p in (out / "tiny-smoke_cells").glob("*.html")} == pages  # cell pages reused
