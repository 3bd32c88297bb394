"""Results stores damaged, locked or shared (issue 20 part 6a): a named StoreError, a healed cell, or both sweeps work."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import Ridge

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import StoreError
from deepfeat_iqa.studies._results_store import ResultsStore

from helpers import TESTS
from helpers.studies import TINY_MODEL, make_dataset

COLUMNS = ["layer", "srocc", "plcc", "krocc", "rmse", "status"]


def _settings(tmp_path: Path) -> dict:
    return dict(backbones=TINY_MODEL, layers=["stage2", "stage3"], heads=[Ridge()], weights="random", n_splits=2,
                store=tmp_path / "features.zarr", progress=False)  # fmt: skip


@pytest.fixture()
def clean(tiny, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A finished two-cell sweep's results file and its table."""
    db = tmp_path / "study.db"
    return db, dfi.sweep(tiny, results=db, **_settings(tmp_path)).table()[COLUMNS]


@pytest.mark.parametrize("how", ["header", "truncate"])
def test_a_damaged_file_names_itself_and_the_fix_and_a_fresh_file_gives_the_clean_table(tiny, tmp_path, clean, how):
    db, table = clean
    data = bytearray(db.read_bytes())
    if how == "header":
        data[:100] = b"\xa5" * 100
    else:
        del data[len(data) // 2 :]
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        dfi.sweep(tiny, results=db, **_settings(tmp_path)).table()
    message = str(caught.value)
    assert str(db) in message and "is damaged" in message and "Move it aside" in message, message
    db.rename(db.with_suffix(".damaged"))
    again = dfi.sweep(tiny, results=db, **_settings(tmp_path)).table()[COLUMNS]
    pd.testing.assert_frame_equal(again, table)


def _flip_inside_a_cell_row(db: Path) -> None:
    """Change one digit of the first cell's per-split metrics in place: still valid SQLite and valid JSON."""
    data = bytearray(db.read_bytes())
    at = data.index(b'"rmse": ') + len(b'"rmse": ')
    data[at] = ord("7") if data[at] != ord("7") else ord("8")
    db.write_bytes(bytes(data))


def test_a_changed_cell_row_is_refused_by_name_and_recomputed_by_the_next_sweep(tiny, tmp_path, clean, caplog):
    db, table = clean
    _flip_inside_a_cell_row(db)
    with pytest.raises(StoreError, match=r"Cell \w+ in results store .* is damaged .* recomputes that cell"):
        dfi.studies.open_study(db).table()
    with caplog.at_level(logging.WARNING, logger="deepfeat_iqa"):
        healed = dfi.sweep(tiny, results=db, **_settings(tmp_path)).table()[COLUMNS]
    assert caplog.text.count("no longer matches its checksum; computing it again") >= 1
    pd.testing.assert_frame_equal(healed, table)
    assert dfi.studies.open_study(db).db.intact(dfi.studies.open_study(db).cell_ids)


_LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time, pathlib
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    pathlib.Path(sys.argv[2]).write_text("locked")
    time.sleep(60)
    """
)


def test_a_file_another_process_keeps_locked_says_so_after_the_timeout(tmp_path, clean):
    db, _ = clean
    marker = tmp_path / "locked"
    locker = subprocess.Popen([sys.executable, "-c", _LOCKER, str(db), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            ResultsStore(db, timeout=0.5).definitions()
        assert time.monotonic() - started >= 0.5
    finally:
        locker.kill()
        locker.wait()
    message = str(caught.value)
    assert str(db) in message and "stayed locked by another process for 0.5 s" in message and "timeout=" in message
    assert ResultsStore(db, timeout=0.5).definitions()  # released: readable again


_SWEEP = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}]
    from pathlib import Path
    from skimage import data
    from sklearn.linear_model import Ridge
    import deepfeat_iqa as dfi
    from helpers.studies import make_dataset
    photos = {{n: getattr(data, n)() for n in ("astronaut", "chelsea", "coffee", "rocket")}}
    ds = make_dataset(Path({images!r}), photos)
    dfi.sweep(ds, backbones="resnet10t", layers="stages", heads=[Ridge(), "svr"], weights="random", n_splits=2,
              store=None, results={results!r}, progress=False)
    """
)


@pytest.mark.slow
def test_two_sweeps_writing_one_results_file_at_once_both_finish_with_each_cell_once(tmp_path, photos):
    images, db = tmp_path / "images", tmp_path / "shared.db"
    subset = {name: photos[name] for name in ("astronaut", "chelsea", "coffee", "rocket")}
    ds = make_dataset(images, subset)  # written once here, so both children read the same files
    script = _SWEEP.format(tests=str(TESTS), images=str(images), results=str(db))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    children = [subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [child.communicate(timeout=600)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0], errors
    settings = dict(backbones=TINY_MODEL, layers="stages", heads=[Ridge(), "svr"], weights="random", n_splits=2, store=None, progress=False)
    shared = dfi.studies.open_study(db).table()
    fresh = dfi.sweep(ds, results=tmp_path / "fresh.db", **settings).table()
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT COUNT(*), COUNT(DISTINCT cell_id) FROM cells").fetchone()
    assert rows == (len(fresh), len(fresh))  # every cell once
    pd.testing.assert_frame_equal(shared[COLUMNS], fresh[COLUMNS])
    shutil.rmtree(images)
