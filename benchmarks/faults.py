"""Fault-injection matrix (issue 20): damage what the library writes, then check it is detected, named and healed.

Every fault runs on the library's real code paths with tiny data: 16 generated 64 px JPEGs, random-weight
timm networks (``resnet10t`` for features and sweeps, ``test_efficientnet`` for an image head), store chunks
of 2 rows. For each fault the matrix records:

* ``detected``: an error or warning says something is wrong (or a kill left state the rerun recognized);
* ``names_object``: that message names the file/store (and array or cell) it is about;
* ``recomputed`` / ``lost``: rows (images, epochs or cells) the rerun computed again / rows whose final
  value differs from a clean run's;
* ``equal``: the final result (feature values, predictions, sweep table) equals a clean run's exactly.

Faults: store chunks truncated / bit-flipped / deleted, a deleted done-mask chunk; a full disk (``ENOSPC``
from the zarr store's writes) at several points; SIGKILL at seeded random moments of extraction, image-head
training and a sweep (``--kills`` each, default 20; the job runs in a forked child, the parent kills it after
a delay drawn uniformly from the job's clean duration, then reruns in-process and compares); truncated and
bit-flipped model files; damaged training checkpoints; damaged, locked and row-changed results databases.

Writes ``benchmarks/results/faults.{json,md}`` with the machine record. About 10-15 minutes on 2 busy cores.

    python benchmarks/faults.py             # the full matrix
    python benchmarks/faults.py --kills 3   # a quick check
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout, not whichever one the environment installed
WORK = Path(tempfile.mkdtemp(prefix="dfi-faults-"))
os.environ["DEEPFEAT_IQA_CACHE"] = str(WORK / "cache")  # the pixel cache too: never the user's cache
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

import deepfeat_iqa as dfi  # noqa: E402
from deepfeat_iqa.datasets import Dataset, Scale  # noqa: E402
from deepfeat_iqa.errors import DeepfeatError  # noqa: E402
from deepfeat_iqa.store import _zarr  # noqa: E402
from deepfeat_iqa.training import _checkpoint  # noqa: E402

torch.set_num_threads(1)  # bit-identical reruns, and forked children without an OpenMP pool to inherit
_zarr.MIN_CHUNK_ROWS = 2  # chunks of 2 rows: a damaged chunk is a few rows, as in a big store

EXTRACT = {"backbone": "resnet10t", "layers": "layer3", "weights": "random", "precision": "fp32", "batch_size": 2,
           "num_workers": 0, "progress": False}  # fmt: skip
TRAIN = {"backbone": "test_efficientnet", "weights": "random", "batch_size": 4, "crop_size": 32, "test_views": "center",
         "val_views": "center", "num_workers": 0, "progress": False, "precision": "fp32", "epochs": 4}  # fmt: skip
SWEEP = {"backbones": "resnet10t", "layers": ["stage2", "stage3", "stage4"], "heads": [Ridge()], "weights": "random", "n_splits": 2,
         "precision": "fp32", "progress": False}  # fmt: skip


#: ``names_object`` of a kill: nothing to name (no error; the rerun resumes and logs what it recomputes).
NOT_APPLICABLE = -1


@dataclass
class Outcome:
    """One row of the matrix (see the module docstring)."""

    fault: str
    runs: int
    detected: int
    names_object: int
    recomputed: str
    lost: int
    equal: int
    note: str = ""


# -- tiny data ------------------------------------------------------------------------------------------------
def make_images(folder: Path, n: int = 16) -> Dataset:
    """``n`` random-texture JPEGs (64 px) in 4 content groups, scored by how much they are blurred."""
    from PIL import Image, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths, mos, groups = [], [], []
    for i in range(n):
        base = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        level = i % 4
        path = folder / f"img{i:02d}.jpg"
        Image.fromarray(base).filter(ImageFilter.GaussianBlur(level)).save(path, quality=90)
        paths.append(path)
        mos.append(80.0 - 15 * level + rng.normal())
        groups.append(f"g{i // 4}")
    return Dataset(ids=[p.name for p in paths], paths=paths, mos=np.asarray(mos), scale=Scale(0, 100),
                   groups=np.asarray(groups), name="faults")  # fmt: skip


# -- what the library said ------------------------------------------------------------------------------------
class Said(logging.Handler):
    """Collects the library's log lines while a fault is handled."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def listening() -> Iterator[Said]:
    """The library's log lines (INFO and up) while the block runs."""
    handler, logger = Said(), logging.getLogger("deepfeat_iqa")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def raised(call: Callable[[], Any]) -> str | None:
    """The message of the DeepfeatError ``call`` raises, or ``None`` (any other exception is a failure of the matrix)."""
    try:
        call()
    except DeepfeatError as error:
        return str(error)
    return None


def extracted_count(said: Said) -> int:
    """Images the last ``extract`` computed, from its 'Extracting k of n images' line (0 when all were stored)."""
    counts = [int(line.split()[1]) for line in said.lines if line.startswith("Extracting ")]
    return sum(counts)


# -- feature store ----------------------------------------------------------------------------------------------
def features(ds: Dataset, store: Path | None, **options: Any) -> np.ndarray:
    return np.asarray(dfi.extract(ds, store=store, **{**EXTRACT, **options})["layer3"].per_view)


def array_dir(store: Path, name: str) -> Path:
    (values,) = [p for p in store.rglob("values") if p.is_dir()]
    return values.parent / name


def damage_file(file: Path, how: str) -> None:
    """Truncate to 7 bytes, invert 4 bytes in the middle, or delete ``file``."""
    if how == "delete":
        file.unlink()
    elif how == "truncate":
        file.write_bytes(file.read_bytes()[:7])
    else:
        data = bytearray(file.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 4):
            data[i] ^= 0xFF
        file.write_bytes(bytes(data))


def store_chunk_fault(ds: Dataset, clean_store: Path, clean: np.ndarray, array: str, chunk: str, how: str) -> Outcome:
    """Damage one chunk of a finished store; ``store verify`` it, then rerun the same extract and compare."""
    store = WORK / f"store-{array}-{how}"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(clean_store, store)
    damage_file(array_dir(store, array) / "c" / chunk, how)
    report = dfi.store.verify(store)
    found = "; ".join(f"{report.url}: {d.array} {d.rows}: {d.reason}" for d in report.damaged)
    with listening() as said:
        healed = features(ds, store)
    repaired = "\n".join(line for line in said.lines if line.startswith("Repaired"))
    named = all(str(store) in text and f"/{array}" in text for text in (found, repaired))
    return Outcome(f"store: {array} chunk {how}", 1, int(bool(found) and bool(repaired)), int(named), str(extracted_count(said)),
                   int((~np.all(healed == clean, axis=tuple(range(1, clean.ndim)))).sum()), int(np.array_equal(healed, clean)),
                   repaired.replace(str(WORK), "…")[:200])  # fmt: skip


@contextmanager
def disk_full_after(match: str, allowed: int) -> Iterator[None]:
    """zarr's local store raises ENOSPC on the write after the ``allowed``-th whose key contains ``match``."""
    from zarr.storage import LocalStore

    original, seen = LocalStore.set, [0]

    async def set_or_fail(self: LocalStore, key: str, value: Any) -> None:
        if match in key:
            seen[0] += 1
            if seen[0] > allowed:
                raise OSError(errno.ENOSPC, "No space left on device")
        await original(self, key, value)

    LocalStore.set = set_or_fail
    try:
        yield
    finally:
        LocalStore.set = original


def disk_full_fault(ds: Dataset, clean: np.ndarray, where: str, match: str, allowed: int) -> Outcome:
    """Extract into a fresh store whose disk fills at ``where``; then rerun with space and compare."""
    store = WORK / f"store-full-{where.replace(' ', '-')}"
    shutil.rmtree(store, ignore_errors=True)
    with disk_full_after(match, allowed):
        message = raised(lambda: features(ds, store))
    with listening() as said:
        resumed = features(ds, store)
    return Outcome(f"disk full (ENOSPC): {where}", 1, int(message is not None), int(str(store) in (message or "")),
                   str(extracted_count(said)), int((~np.all(resumed == clean, axis=tuple(range(1, clean.ndim)))).sum()),
                   int(np.array_equal(resumed, clean)), (message or "no error")[:160])  # fmt: skip


# -- SIGKILL at random moments ----------------------------------------------------------------------------------
def run_and_kill(job: Callable[[], None], delay: float) -> bool:
    """Run ``job`` in a forked child and SIGKILL it after ``delay`` seconds; ``True`` if it was still running."""
    child = multiprocessing.get_context("fork").Process(target=job)
    child.start()
    child.join(delay)
    killed = child.is_alive()
    if killed:
        os.kill(child.pid, signal.SIGKILL)
    child.join()
    return killed


def clean_duration(job: Callable[[], None]) -> float:
    """Seconds one uninterrupted forked run of ``job`` takes (the window kill moments are drawn from)."""
    start = time.perf_counter()
    run_and_kill(job, 3600)
    return time.perf_counter() - start


@dataclass
class KillTrial:
    """What one kill and rerun gave."""

    killed: bool
    recomputed: int
    lost: int
    equal: bool


def kill_matrix(name: str, kills: int, seed: int, total: int, job: Callable[[int], None], rerun: Callable[[int], KillTrial]) -> Outcome:
    """``kills`` runs of ``job(i)`` killed after a seeded random delay, each followed by ``rerun(i)`` (of ``total`` rows)."""
    window = clean_duration(lambda: job(-1))
    rng = np.random.default_rng(seed)
    trials, attempts = [], 0
    while len(trials) < kills and attempts < 3 * kills:  # a delay past the job's end kills nothing: draw again
        attempts += 1
        killed = run_and_kill(lambda: job(attempts), float(rng.uniform(0.02, 0.9) * window))
        trial = rerun(attempts)
        if killed:
            trials.append(trial)
    recomputed = [t.recomputed for t in trials]
    resumed = sum(t.recomputed < total for t in trials)
    return Outcome(f"SIGKILL during {name}", len(trials), len(trials), NOT_APPLICABLE,
                   f"{min(recomputed, default=0)}-{max(recomputed, default=0)} of {total}", sum(t.lost for t in trials),
                   sum(t.equal for t in trials),
                   f"{len(trials)} kills mid-run in {attempts} tries (delays uniform over 2-90% of the {window:.1f} s job); "
                   f"{resumed} reruns kept work from before the kill")  # fmt: skip


def extraction_kills(ds: Dataset, clean: np.ndarray, kills: int) -> Outcome:
    store = lambda i: WORK / f"kill-extract-{i}"  # noqa: E731

    def job(i: int) -> None:
        features(ds, store(i))

    def rerun(i: int) -> KillTrial:
        with listening() as said:
            values = features(ds, store(i))
        lost = int((~np.all(values == clean, axis=tuple(range(1, clean.ndim)))).sum())
        shutil.rmtree(store(i))
        return KillTrial(True, extracted_count(said), lost, bool(np.array_equal(values, clean)))

    return kill_matrix("extraction (16 images, blocks of 2; images recomputed)", kills, 1, len(ds), job, rerun)


def training_kills(ds: Dataset, clean: np.ndarray, kills: int) -> Outcome:
    folder = lambda i: WORK / f"kill-train-{i}"  # noqa: E731

    def job(i: int) -> None:
        dfi.heads.make_head("spaq-bl", checkpoint_dir=str(folder(i)), **TRAIN).fit(ds)

    def rerun(i: int) -> KillTrial:
        with listening() as said:
            predicted = dfi.heads.make_head("spaq-bl", checkpoint_dir=str(folder(i)), **TRAIN).fit(ds).predict(ds)
        resumed = [int(line.rsplit(" ", 1)[-1].rstrip(".")) for line in said.lines if line.startswith("Resuming from the checkpoint")]
        shutil.rmtree(folder(i), ignore_errors=True)
        return KillTrial(True, TRAIN["epochs"] - (resumed[0] if resumed else 0), int((predicted != clean).sum()),
                         bool(np.array_equal(predicted, clean)))  # fmt: skip

    return kill_matrix(f"image-head training ({TRAIN['epochs']} epochs; epochs recomputed)", kills, 2, TRAIN["epochs"], job, rerun)


def cell_count(db: Path) -> int:
    """Cells recorded in a results file (0 when there is none yet)."""
    try:
        with sqlite3.connect(db) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM cells").fetchone()[0])
    except sqlite3.Error:
        return 0


def sweep_table(ds: Dataset, results: Path, store: Path) -> pd.DataFrame:
    table = dfi.sweep(ds, results=results, store=store, **SWEEP).table()
    return table[["layer", "head", "srocc", "plcc", "krocc", "rmse", "status"]]


def sweep_kills(ds: Dataset, clean: pd.DataFrame, kills: int) -> Outcome:
    paths = lambda i: (WORK / f"kill-sweep-{i}.db", WORK / f"kill-sweep-{i}.zarr")  # noqa: E731

    def job(i: int) -> None:
        sweep_table(ds, *paths(i))

    def rerun(i: int) -> KillTrial:
        db, store = paths(i)
        before = cell_count(db)
        table = sweep_table(ds, db, store)
        differing = int((table.reset_index(drop=True) != clean.reset_index(drop=True)).any(axis=1).sum())
        shutil.rmtree(store, ignore_errors=True)
        db.unlink(missing_ok=True)
        return KillTrial(True, len(clean) - before, differing, table.equals(clean))

    return kill_matrix(f"a sweep ({len(clean)} cells; cells recomputed)", kills, 3, len(clean), job, rerun)


# -- model files, checkpoints, results databases -----------------------------------------------------------------
def model_file_faults(ds: Dataset, store: Path) -> list[Outcome]:
    """A saved model cut in half / with bytes flipped in its arrays: refused by name; the intact copy predicts as before."""
    feats = dfi.extract(ds, store=store, **EXTRACT)
    model = dfi.fit(feats, head="svr", layers=["layer3"])
    clean = model.predict(feats)
    good = WORK / "model.dfi"
    dfi.save_model(model, good)
    rows = []
    for how in ("truncate", "flip"):
        bad = WORK / f"model-{how}.dfi"
        data = bytearray(good.read_bytes())
        if how == "truncate":
            data = data[: len(data) // 2]
        else:
            at = data.index(b"arrays.safetensors") + 200  # inside the arrays member
            for i in range(at, at + 4):
                data[i] ^= 0xFF
        bad.write_bytes(bytes(data))
        message = raised(lambda: dfi.load_model(bad))
        again = dfi.load_model(good).predict(feats)
        rows.append(Outcome(f"model file (.dfi) {'truncated' if how == 'truncate' else 'bit-flipped'}", 1, int(message is not None),
                            int(str(bad) in (message or "")), "refused", 0, int(np.array_equal(again, clean)),
                            (message or "loaded")[:160]))  # fmt: skip
    return rows


def checkpoint_faults(ds: Dataset, clean: np.ndarray) -> list[Outcome]:
    """A finished run's latest checkpoint (or both) damaged; the rerun skips it / starts over, and equals a clean run."""
    rows = []
    for which, how in (("latest", "flip"), ("latest", "truncate"), ("latest and previous", "flip")):
        folder = WORK / f"ckpt-{which.replace(' ', '-')}-{how}"
        dfi.heads.make_head("spaq-bl", checkpoint_dir=str(folder), **TRAIN).fit(ds)
        (run,) = folder.glob("run-*")
        files = [run / _checkpoint.FILENAME] + ([run / _checkpoint.PREVIOUS] if which != "latest" else [])
        for file in files:
            damage_file(file, how)
        with listening() as said:
            predicted = dfi.heads.make_head("spaq-bl", checkpoint_dir=str(folder), **TRAIN).fit(ds).predict(ds)
        warned = "\n".join(line for line in said.lines if "damaged" in line)
        epochs = 1 if which == "latest" else TRAIN["epochs"]  # the last epoch again / every epoch
        rows.append(Outcome(f"checkpoint damaged ({which}, {how})", 1, int(bool(warned)), int(all(str(f) in warned for f in files)),
                            f"{epochs} epoch(s)", int((predicted != clean).sum()), int(np.array_equal(predicted, clean)),
                            warned.replace(str(WORK), "…")[:160]))  # fmt: skip
    return rows


def results_db_faults(ds: Dataset, clean: pd.DataFrame) -> list[Outcome]:
    """A finished sweep's results file damaged, changed in one cell row, or locked; then the documented way out."""
    from deepfeat_iqa.studies._results_store import ResultsStore

    rows = []
    for how in ("header overwritten", "truncated to half", "one cell row changed", "locked by another process"):
        db, store = WORK / f"db-{how.split()[0]}.db", WORK / "db-features.zarr"
        sweep_table(ds, db, store)
        data = bytearray(db.read_bytes())
        recovery = "moved aside, sweep rerun"
        if how.startswith("header"):
            data[:100] = b"\xa5" * 100
        elif how.startswith("truncated"):
            del data[len(data) // 2 :]
        elif how.startswith("one cell"):
            at = data.index(b'"rmse": ') + len(b'"rmse": ')
            data[at] = ord("7") if data[at] != ord("7") else ord("8")
            recovery = "sweep rerun"
        if not how.startswith("locked"):
            db.write_bytes(bytes(data))
            message = raised(lambda: dfi.studies.open_study(db).table())
        else:
            locker = sqlite3.connect(db, isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")
            message = raised(lambda: ResultsStore(db, timeout=0.5).definitions())
            locker.close()
            recovery = "lock released, sweep rerun"
        if recovery.startswith("moved"):
            db.rename(db.with_suffix(".damaged"))
        with listening() as said:
            table = sweep_table(ds, db, store)
        healed = {line for line in said.lines if "computing it again" in line}  # the fast-path check and the runner both log it
        recomputed = len(clean) if recovery.startswith("moved") else len(healed)
        rows.append(Outcome(f"results database: {how}", 1, int(message is not None), int(str(db) in (message or "")),
                            f"{recomputed} cell(s) ({recovery})", int((table != clean).any(axis=1).sum()), int(table.equals(clean)),
                            (message or "no error").replace(str(WORK), "…")[:160]))  # fmt: skip
    return rows


# -- report --------------------------------------------------------------------------------------------------------
def to_markdown(rows: list[Outcome], machine: str, seconds: float) -> str:
    yes = lambda n, runs: "n/a" if n == NOT_APPLICABLE else "yes" if n == runs else ("no" if n == 0 else f"{n}/{runs}")  # noqa: E731
    lines = [
        "# Fault-injection matrix (issue 20)", "",
        f"Machine: {machine}. Run {time.strftime('%Y-%m-%d')}, {seconds / 60:.1f} min, `python benchmarks/faults.py`.", "",
        "| fault | runs | detected | message names the object | rows recomputed | rows lost | final result equals a clean run | what was said |",
        "|---|---:|---|---|---|---:|---|---|",
    ]  # fmt: skip
    for r in rows:
        note = r.note.replace("|", "/").replace("\n", " ")
        lines.append(f"| {r.fault} | {r.runs} | {yes(r.detected, r.runs)} | {yes(r.names_object, r.runs)} | {r.recomputed} | {r.lost} "
                     f"| {yes(r.equal, r.runs)} | {note} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per job (extraction, training, sweep)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "faults")
    args = parser.parse_args()
    from deepfeat_iqa.runtime.machine import describe, one_line

    started = time.perf_counter()
    ds = make_images(WORK / "images")
    clean_store = WORK / "clean.zarr"
    clean = features(ds, clean_store)
    assert np.array_equal(clean, features(ds, None)), "a stored extraction differs from an in-memory one"
    rows: list[Outcome] = []
    for array, chunk, how in (("values", "1/0/0", "truncate"), ("values", "1/0/0", "flip"), ("values", "1/0/0", "delete"),
                              ("done", "2", "delete"), ("done", "2", "flip")):  # fmt: skip
        rows.append(store_chunk_fault(ds, clean_store, clean, array, chunk, how))
    for where, match, allowed in (("creating the arrays", "zarr.json", 3), ("first values chunk", "/values/c/", 0),
                                  ("fourth values chunk", "/values/c/", 3), ("a done-mask chunk", "/done/c/", 2)):  # fmt: skip
        rows.append(disk_full_fault(ds, clean, where, match, allowed))
    rows += model_file_faults(ds, clean_store)
    print(*(asdict(r) for r in rows), sep="\n", flush=True)

    trained = dfi.heads.make_head("spaq-bl", **TRAIN).fit(ds).predict(ds)
    rows += checkpoint_faults(ds, trained)
    table = sweep_table(ds, WORK / "clean.db", WORK / "clean-sweep.zarr")
    rows += results_db_faults(ds, table)
    print(*(asdict(r) for r in rows[-7:]), sep="\n", flush=True)

    rows.append(extraction_kills(ds, clean, args.kills))
    print(asdict(rows[-1]), flush=True)
    rows.append(training_kills(ds, trained, args.kills))
    print(asdict(rows[-1]), flush=True)
    rows.append(sweep_kills(ds, table, args.kills))
    print(asdict(rows[-1]), flush=True)

    seconds = time.perf_counter() - started
    machine = describe()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"machine": machine, "kills": args.kills, "seconds": seconds,
                                                          "rows": [asdict(r) for r in rows]}, indent=2) + "\n")  # fmt: skip
    args.out.with_suffix(".md").write_text(to_markdown(rows, one_line(machine), seconds))
    print(to_markdown(rows, one_line(machine), seconds))
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
