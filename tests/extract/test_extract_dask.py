"""Distributed extraction on a 2-process LocalCluster writing one store: equality, resume after a killed
worker, failures per row, bad clients, and two concurrent extractions into one store."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image

import deepfeat_iqa as dfi
from deepfeat_iqa.errors import ConfigError, DataError

distributed = pytest.importorskip("distributed")

SETTINGS = {"model": "resnet18", "layer": ["layer2", "layer4"], "weights": "random", "precision": "fp32", "batch_size": 4, "progress": False}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as c:
        yield c


def _images(folder: Path, n: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def _reference(images: Path) -> dfi.FeatureSet:
    saved = __import__("torch").get_num_threads()
    __import__("torch").set_num_threads(1)  # the workers run one thread each
    try:
        return dfi.extract(images, store=None, num_workers=0, **SETTINGS)
    finally:
        __import__("torch").set_num_threads(saved)


def _assert_same(got: dfi.FeatureSet, want: dfi.FeatureSet) -> None:
    for layer in SETTINGS["layer"]:
        np.testing.assert_array_equal(np.asarray(got[layer].per_view), np.asarray(want[layer].per_view))
        assert got[layer].dataset.ids == want[layer].dataset.ids
        assert len(set(got[layer].dataset.ids)) == len(got[layer])


def _done_mask(store: Path, layer: str) -> np.ndarray:
    (path,) = (p for p in store.rglob("done") if p.is_dir() and layer in p.relative_to(store).parts)
    return zarr.open_array(str(path), mode="r")[:]


def test_two_workers_write_one_store_equal_to_one_process(client, tmp_path: Path) -> None:
    # A package function runs on the workers by reference; a lambda of this module would be pickled by
    # value with this process's counter, and count the wrong process.
    from deepfeat_iqa.extraction._block import backbone_builds

    images = _images(tmp_path / "images", 24)  # 3 blocks of 8 rows: some worker runs two of them
    feats = dfi.extract(images, store=tmp_path / "f.zarr", client=client, **SETTINGS)
    _assert_same(feats, _reference(images))
    after = client.run(backbone_builds)
    # Every worker process has built this backbone at most once, whatever earlier tests of this module
    # (pytest-xdist order) sent to the shared cluster, and some worker built it.
    assert all(count <= 1 for count in after.values()) and any(after.values()), after
    again = dfi.extract(images, store=tmp_path / "f.zarr", client=client, **SETTINGS)  # a cache hit sends nothing
    _assert_same(again, feats)
    assert client.run(backbone_builds) == after


def test_a_worker_raising_on_an_image_records_that_row_and_finishes_its_block(client, tmp_path: Path) -> None:
    images = _images(tmp_path / "images", 16)
    (images / "005.png").write_bytes(b"\x89PNG truncated")
    store = tmp_path / "f.zarr"
    with pytest.raises(DataError, match=r"005\.png.*on_error='skip'"):
        dfi.extract(images, store=store, client=client, **SETTINGS)
    feats = dfi.extract(images, store=store, client=client, on_error="skip", **SETTINGS)
    assert len(feats["layer4"]) == 15 and "005.png" not in feats["layer4"].dataset.ids
    for path in (p.parent for p in store.rglob("done") if p.is_dir()):
        group = zarr.open_group(str(path), mode="r")
        assert group["failed"][:].tolist() == [i == 5 for i in range(16)]
        assert group["done"][:].tolist() == [i != 5 for i in range(16)]
        assert "005.png" in str(group["error"][5]) and str(group["error"][4]) == ""


def test_memory_store_cannot_be_shared_with_workers(client, photo_dir: Path) -> None:
    with pytest.raises(ConfigError, match="memory.*cannot see it"):
        dfi.extract(photo_dir, store=f"memory://{uuid.uuid4().hex}", client=client, **SETTINGS)
    with pytest.raises(ConfigError, match="pass a store="):
        dfi.extract(photo_dir, store=None, client=client, **SETTINGS)


def test_unreachable_scheduler_fails_fast(photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import deepfeat_iqa.runtime.cluster as driver

    monkeypatch.setattr(driver, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    timeouts = []  # "fast" = the connect is bounded by CONNECT_TIMEOUT_S and nothing is planned first; no clock

    class RecordingClient(distributed.Client):
        def __init__(self, *args, **kwargs):
            timeouts.append(kwargs.get("timeout"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(driver.distributed, "Client", RecordingClient)
    with pytest.raises(ConfigError, match=rf"Cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}' within 1 s"):
        dfi.extract(photo_dir, store=tmp_path / "f.zarr", client=f"tcp://127.0.0.1:{port}", **SETTINGS)
    assert timeouts == ["1s"] and not (tmp_path / "f.zarr").exists()
    monkeypatch.undo()
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        closed = distributed.Client(cluster, set_as_default=False)
    closed.close()
    with pytest.raises(ConfigError, match="cannot reach its scheduler.*nothing was sent"):
        dfi.extract(photo_dir, store=tmp_path / "f.zarr", client=closed, **SETTINGS)


def test_two_extractions_of_different_settings_into_one_store_at_once(tmp_path: Path) -> None:
    images = _images(tmp_path / "images", 12)
    store = tmp_path / "f.zarr"
    runs = {"center": {"views": "center"}, "random2": {"views": "random2", "pooling": "max"}}
    start, results, errors = threading.Barrier(2), {}, []

    def run(name: str) -> None:
        try:
            start.wait()
            results[name] = dfi.extract(images, store=store, num_workers=0, **{**SETTINGS, **runs[name]})
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    groups = sorted(str(p.parent.relative_to(store)) for p in store.rglob("done") if p.is_dir())
    assert len(groups) == 4 and sum("random2@seed0/fp32" in g for g in groups) == 2  # two layers x two settings
    for name, settings in runs.items():
        alone = dfi.extract(images, store=None, num_workers=0, **{**SETTINGS, **settings})
        for layer in SETTINGS["layer"]:
            np.testing.assert_allclose(np.asarray(results[name][layer].per_view), np.asarray(alone[layer].per_view), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_killed_worker_leaves_only_its_block_and_a_rerun_does_exactly_the_missing_rows(
    client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One worker is killed at a fixed point: right after its first write (layer2 of its block's first batch).

    The hook (``helpers.kill``) is installed in that worker only and signals the test, which sends SIGKILL. The
    test's own cluster allows no retries, so the outcome is one: the run stops with the StoreError that says
    to run again, the victim's block holds exactly that one batch of layer2 and nothing of layer4, and a
    rerun computes exactly the rows still missing, to the features of one process.
    """
    import dask

    from helpers.kill import stop_feature_writes

    images = _images(tmp_path / "images", 64)  # 8 blocks of 8 rows
    store, marker = tmp_path / "f.zarr", tmp_path / "stopped"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as doomed:
        victim_address, victim = min(doomed.run(os.getpid).items(), key=lambda item: item[1])
        doomed.run(stop_feature_writes, 1, str(marker), workers=[victim_address])

        def kill_at_marker() -> None:
            deadline = time.monotonic() + 300  # bounds a hung run only; the kill point is the marker
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill_at_marker)
        killer.start()
        with pytest.raises(dfi.errors.StoreError, match=r"Dask workers died .*Run extract again"):
            dfi.extract(images, store=store, client=doomed, **SETTINGS)
        killer.join()
        assert marker.read_text() == str(victim)
    # The cluster is closed: no task of the stopped run can still write while the store is read below. The
    # other worker's block is wherever the close found it; the victim's is exactly its first batch of layer2.
    written = json.loads(Path(f"{marker}.rows").read_text())
    block = slice(written[0] // 8 * 8, written[0] // 8 * 8 + 8)
    done = {layer: _done_mask(store, layer) for layer in SETTINGS["layer"]}
    assert np.flatnonzero(done["layer2"][block]).tolist() == [r - block.start for r in written] == [0, 1, 2, 3]
    assert not done["layer4"][block].any()
    missing = int((~(done["layer2"] & done["layer4"])).sum())
    assert missing >= 8
    with caplog.at_level(logging.INFO, logger="deepfeat_iqa.extraction._extract"):
        feats = dfi.extract(images, store=store, client=client, **SETTINGS)
    assert f"Extracting {missing} of 64" in caplog.text
    _assert_same(feats, _reference(images))
