"""dfi.sweep: cells cached in the results store, resumed after a kill, refused/extended definitions, failures."""

from __future__ import annotations

import os
import sqlite3
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import Ridge

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import ConfigError, StoreError
from deepfeat_iqa.studies import open_study

from helpers import TESTS
from helpers.studies import TINY_MODEL, make_dataset
from helpers.kill import run_until_marker
from helpers.plots import assert_png_not_blank, captured_figures
from helpers.study_heads import WideFails

METRIC_COLUMNS = ["srocc", "plcc", "krocc", "rmse"]


def _sweep(ds, tmp_path: Path, **options):
    settings = dict(backbones=TINY_MODEL, layers=["stage2", "stage3"], heads=[Ridge()], weights="random", n_splits=2,
                    store=tmp_path / "features.zarr", results=tmp_path / "study.db", progress=False)  # fmt: skip
    settings.update(options)
    return dfi.sweep(ds, **settings)


def test_sweep_table_best_reports_and_cached_rerun(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = _sweep(tiny, tmp_path, heads=[Ridge(), "svr"])
    table = study.table()
    assert len(table) == 4 and (table["status"] == "done").all()
    assert table[["layer", "head"]].values.tolist() == [["stage2", "Ridge"], ["stage2", "svr"], ["stage3", "Ridge"], ["stage3", "svr"]]
    assert table["dim"].tolist() == [128, 128, 256, 256] and table["random_weights"].all()
    assert table["n_splits"].eq(2).all() and table["fit_s"].gt(0).all()
    assert len(study.best(k=1)) == 2  # one best layer per head
    markdown = study.to_markdown()
    assert "random (untrained)" in markdown and "not a result" in markdown and "±" in markdown
    assert '"cells"' in study.to_json(tmp_path / "study.json")
    # The heatmap by content, not "a PNG over 1000 bytes". RMSE, because every SROCC of this tiny set is 1.0 and
    # a heatmap with rows or columns swapped would show the same picture.
    assert table["rmse"].nunique() == 4
    figures = captured_figures(monkeypatch)
    assert_png_not_blank(study.heatmap(tmp_path / "heat.png", metric="rmse", title="tiny resnet10t"))
    ax = figures["heat.png"].axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == ["resnet10t (random) / stage2", "resnet10t (random) / stage3"] and cols == ["Ridge", "svr"]
    shown = ax.images[0].get_array()
    for _, cell in table.iterrows():
        assert shown[rows.index(f"resnet10t (random) / {cell['layer']}"), cols.index(cell["head"])] == pytest.approx(cell["rmse"])
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.3f}" for v in table["rmse"])
    assert ax.get_title() == "tiny resnet10t"
    result = study.result(layer="stage3", head="svr")
    assert result.n_splits == 2 and result.info["feature_key"]["layer"] == "layer3"
    assert len(result.predictions) == result.per_split["n_test"].sum()

    def no_extraction(*args, **kwargs):
        raise AssertionError("a finished sweep must not extract again")

    monkeypatch.setattr("deepfeat_iqa.extraction._extract.extract", no_extraction)
    again = _sweep(tiny, tmp_path, heads=[Ridge(), "svr"])
    pd.testing.assert_frame_equal(again.table(), table)
    pd.testing.assert_frame_equal(open_study(tmp_path / "study.db").table(), table)


def test_head_axis_spellings() -> None:
    from deepfeat_iqa.studies._plan import head_choices

    assert [c.label for c in head_choices(("svr",))] == ["svr"]
    pair = head_choices(("svr", {"C": 2.0}))
    assert [c.label for c in pair] == ["svr"] and pair[0].options == (("C", 2.0),)
    assert [c.label for c in head_choices(["gpr", ("svr", {"C": 2.0}), Ridge()])] == ["gpr", "svr", "Ridge"]
    with pytest.raises(ConfigError, match="no parameter 'c'"):
        head_choices([("svr", {"c": 2.0})])


def test_other_definition_is_refused_unless_extended(tiny, tmp_path: Path) -> None:
    first = _sweep(tiny, tmp_path, layers=["stage2"])
    with pytest.raises(StoreError, match=r"another sweep definition.*layers.*extend=True"):
        _sweep(tiny, tmp_path, layers=["stage2", "stage3"])
    extended = _sweep(tiny, tmp_path, layers=["stage2", "stage3"], extend=True)
    assert len(extended.table()) == 2 and len(first.table()) == 1
    # the shared cell was computed once and is the same number in both studies
    shared = extended.table().iloc[0][METRIC_COLUMNS].astype(float)
    pd.testing.assert_series_equal(shared, first.table().iloc[0][METRIC_COLUMNS].astype(float))
    with pytest.raises(ConfigError, match="holds 2 sweeps"):
        open_study(tmp_path / "study.db")


def test_failed_cell_is_recorded_and_the_sweep_carries_on(tiny, tmp_path: Path) -> None:
    study = _sweep(tiny, tmp_path, heads=[WideFails()])
    table = study.table().set_index("layer")
    assert table.loc["stage2", "status"] == "done"
    assert table.loc["stage3", "status"] == "failed" and "too wide" in table.loc["stage3", "error"]
    assert "| failed " in study.to_markdown() and "ValueError: 256 dims" in study.to_markdown()
    with pytest.raises(StoreError, match="failed"):
        study.result(layer="stage3")


@pytest.mark.slow
def test_parallel_cells_give_the_same_table(tiny, tmp_path: Path) -> None:
    serial = _sweep(tiny, tmp_path / "a")
    parallel = _sweep(tiny, tmp_path / "b", n_jobs=2)
    columns = ["layer", "head", *METRIC_COLUMNS]
    pd.testing.assert_frame_equal(serial.table()[columns], parallel.table()[columns])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backbones": "resnet10x"}, "Unknown backbone 'resnet10x'"),
        ({"layers": ["stage9"]}, "Unknown layer 'stage9'.*Did you mean"),
        ({"heads": ["svm"]}, "Unknown head 'svm'.*Did you mean 'svr'"),
        ({"protocol": "repeat"}, "Unknown protocol 'repeat'.*Did you mean"),
        ({"truncate": [10_000]}, "Cannot remove 10000 modules"),
    ],
)
def test_bad_sweep_arguments_fail_before_any_work(tiny, tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _sweep(tiny, tmp_path, **options)
    assert not (tmp_path / "features.zarr").exists()


def test_stages_and_truncation_axes(tiny, tmp_path: Path) -> None:
    from deepfeat_iqa.backbones import get_config

    study = _sweep(tiny, tmp_path, layers=[], truncate=[0, 1])
    table = study.table()
    assert table["layer"].tolist() == ["cut-0", "cut-1"] and table["truncate"].tolist() == [0, 1]
    assert table["dim"].tolist() == [1000, 512]  # logits; the pooled features before them
    from deepfeat_iqa.studies._plan import layer_choices

    assert [c.label for c in layer_choices(TINY_MODEL, "stages", None)] == list(get_config(TINY_MODEL).stages)


_KILLED_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}]
    from helpers.studies import make_dataset
    from sklearn.linear_model import Ridge
    import deepfeat_iqa as dfi
    from deepfeat_iqa.studies._results_store import ResultsStore
    stop_at(ResultsStore, "write_result", call=2, marker={marker!r})  # after the second cell's transaction
    from skimage import data
    photos = {{n: getattr(data, n)() for n in ("astronaut", "chelsea", "coffee", "rocket", "camera")}}
    photos["camera"] = photos["camera"][..., None].repeat(3, axis=2)
    ds = make_dataset(__import__("pathlib").Path({images!r}), photos)
    dfi.sweep(ds, backbones="resnet10t", layers="stages", heads=[Ridge()], weights="random", n_splits=2,
              store={store!r}, results={results!r}, progress=False)
    """
)


def _done_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_sweep_killed_mid_way_resumes_to_the_same_table(tmp_path: Path, photos) -> None:
    """The child is killed at a fixed point (``helpers.kill``): right after its second cell is committed."""
    images, db, marker = tmp_path / "images", tmp_path / "killed.db", tmp_path / "stopped"
    script = _KILLED_SCRIPT.format(tests=str(TESTS), images=str(images), store=str(tmp_path / "f.zarr"), results=str(db),
                                   marker=str(marker))  # fmt: skip
    run_until_marker(script, marker, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert _done_rows(db) == 2

    photo_set = dict(photos)
    photo_set.pop("motorcycle")
    from skimage import data

    photo_set["camera"] = data.camera()[..., None].repeat(3, axis=2)
    ds = make_dataset(images, photo_set)
    settings = dict(backbones=TINY_MODEL, layers="stages", heads=[Ridge()], weights="random", n_splits=2, store=tmp_path / "f.zarr", progress=False)
    resumed = dfi.sweep(ds, results=db, **settings).table()
    fresh = dfi.sweep(ds, results=tmp_path / "fresh.db", **settings).table()
    assert _done_rows(db) == len(resumed) == 6  # every cell once: no duplicates, none lost
    pd.testing.assert_frame_equal(resumed[["layer", *METRIC_COLUMNS]], fresh[["layer", *METRIC_COLUMNS]])
