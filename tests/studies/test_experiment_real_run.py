"""A real (non-smoke) experiment file run end to end through the CLI on a tiny labeled folder.

Before issue 22 only ``--smoke`` runs (synthetic sets built by the runner) and ``--dry-run`` validations of
experiment files were tested, so the path a user takes with their own data — ``--root NAME=DIR`` to a registered
loader, the dataset read from disk, cells evaluated, ``.md``/``.json``/``.png``/``.db`` written — ran in no test.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import deepfeat_iqa as dfi
from deepfeat_iqa.cli import app
from deepfeat_iqa.datasets import _registry
from helpers.studies import TINY_MODEL, make_dataset

EXPERIMENT = f"""
[experiment]
name = "tinyreal"
kind = "sweep"
paper = "a test"

[datasets]
blur = "tinyblur"

[sweep]
backbones = ["{TINY_MODEL}"]
layers = ["stage3"]
heads = ["svr", "rbf-svr"]
weights = "random"
n_splits = 2
"""


@pytest.fixture()
def tinyblur_root(tmp_path: Path, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of 20 blurred photos with ``labels.csv`` (image, mos, group), readable as dataset ``tinyblur``."""
    root = tmp_path / "tinyblur"
    dataset = make_dataset(root, photos, name="tinyblur")
    pd.DataFrame({"image": dataset.ids, "mos": dataset.mos, "group": dataset.groups}).to_csv(root / "labels.csv", index=False)
    monkeypatch.setattr(_registry, "DATASETS", copy.deepcopy(_registry.DATASETS))

    @_registry.register_dataset("tinyblur")
    def load_tinyblur(root: str | Path) -> dfi.Dataset:
        return dfi.datasets.load_folder(root, "labels.csv", group_col="group", name="tinyblur")

    return root


def test_a_real_sweep_file_runs_on_a_registered_folder_and_writes_every_output(tmp_path: Path, tinyblur_root: Path) -> None:
    """Catches: ``--root`` not reaching the loader, a real run taking the smoke path, outputs that disagree with
    the results database or with ``dfi.evaluate`` on the same data, a rerun that recomputes instead of resuming."""
    file = tmp_path / "tinyreal.toml"
    file.write_text(EXPERIMENT)
    out = tmp_path / "out"
    args = ["sweep", str(file), "--root", f"blur={tinyblur_root}", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# tinyreal\n") and "Smoke run" not in result.output  # not the smoke path
    assert sorted(p.name for p in out.iterdir()) == ["tinyreal.db", "tinyreal.html", "tinyreal.json", "tinyreal.md", "tinyreal.png", "tinyreal_cells"]
    assert len(list((out / "tinyreal_cells").glob("*.html"))) == 2  # one evaluation page per done cell

    cells = json.loads((out / "tinyreal.json").read_text())["cells"]
    assert sorted(c["head"] for c in cells) == ["rbf-svr", "svr"]
    for cell in cells:
        assert (cell["backbone"], cell["layer"], cell["weights"], cell["status"]) == (TINY_MODEL, "stage3", "random", "done"), cell
        assert cell["dataset"] == "blur" and np.isfinite(cell["srocc"])
    # The numbers are those of dfi.evaluate on the same folder, loader, features and splits.
    dataset = dfi.datasets.load("tinyblur", tinyblur_root)
    assert len(dataset) == 20 and sorted(set(dataset.groups)) == sorted(p.split("_")[0] for p in dataset.ids[::4])
    features = dfi.extract(dataset, backbone=TINY_MODEL, weights="random", layers="stage3", progress=False)
    for cell in cells:
        expected = dfi.evaluate(features, head=cell["head"], n_splits=2, progress=False)
        for metric in ("srocc", "plcc", "rmse"):  # RMSE too: on this easy set SROCC is often 1.0 whatever ran
            assert cell[metric] == pytest.approx(expected.per_split[metric].mean(), abs=1e-9), (cell["head"], metric)
        assert f"{cell['srocc']:.4f}" in (out / "tinyreal.md").read_text()

    from deepfeat_iqa.studies._results_store import ResultsStore

    store = ResultsStore(out / "tinyreal.db")
    try:
        (definition,) = store.definitions()
        ids = [cell_id for cell_id, _ in store.study_cells(definition)]
        assert len(ids) == 2 and set(store.statuses(ids).values()) == {"done"}
        stored = sorted(store.result(i).per_split["rmse"].mean() for i in ids)
    finally:
        store.close()
    assert stored == pytest.approx(sorted(c["rmse"] for c in cells), abs=1e-12)

    again = CliRunner().invoke(app, args)  # a rerun resumes from the database: same cells, same numbers
    assert again.exit_code == 0, again.output
    assert json.loads((out / "tinyreal.json").read_text())["cells"] == cells
