"""``--client`` on every command that extracts: an unreachable scheduler fails fast with the API's message as
one error line, and ``--client local`` extracts on a LocalCluster (issue 21)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from deepfeat_iqa.cli import app
from deepfeat_iqa.cli import _heads  # noqa: F401 - registers fit/evaluate/score on app

pytest.importorskip("distributed")
runner = CliRunner()
TINY = ["--backbone", "squeezenet", "--weights", "random", "--layers", "features.12", "--num-workers", "0", "--batch-size", "4"]


@pytest.fixture()
def dead_address(monkeypatch: pytest.MonkeyPatch) -> str:
    import deepfeat_iqa.runtime.cluster as cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def _one_error_line(result, address: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert re.match(rf"Error: Cannot reach the Dask scheduler at '{re.escape(address)}' within 1 s \(", lines[0]), lines[0]
    assert "--client local" in lines[0] and "client=" not in lines[0]  # the CLI's vocabulary


def _labeled(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir())
    pd.DataFrame({"image": names, "mos": np.linspace(10, 90, len(names))}).to_csv(folder.parent / "labels.csv", index=False)
    return ["--images", str(folder), "--labels", str(folder.parent / "labels.csv")]


def test_unreachable_scheduler_fails_fast_on_every_extracting_command(photo_dir: Path, tmp_path: Path, dead_address: str) -> None:
    store = ["--store", str(tmp_path / "f.zarr")]
    _one_error_line(runner.invoke(app, ["extract", str(photo_dir), *TINY, *store, "--client", dead_address]), dead_address)
    data = _labeled(photo_dir)
    _one_error_line(runner.invoke(app, ["fit", *data, *TINY, *store, "--head", "svr", "--out", str(tmp_path / "m.dfi"),
                                        "--client", dead_address]), dead_address)  # fmt: skip
    _one_error_line(runner.invoke(app, ["evaluate", *data, *TINY, *store, "--head", "svr", "--n-splits", "2",
                                        "--client", dead_address]), dead_address)  # fmt: skip
    assert not (tmp_path / "m.dfi").exists()
    # score: a feature model fitted without --client, then scored through the dead scheduler
    fitted = runner.invoke(app, ["fit", *data, *TINY, *store, "--head", "svr", "--out", str(tmp_path / "m.dfi")])
    assert fitted.exit_code == 0, fitted.output
    _one_error_line(runner.invoke(app, ["score", str(photo_dir), "--model-file", str(tmp_path / "m.dfi"), *store,
                                        "--out", str(tmp_path / "s.csv"), "--client", dead_address]), dead_address)  # fmt: skip
    assert not (tmp_path / "s.csv").exists()


def test_client_none_and_image_heads(photo_dir: Path, tmp_path: Path) -> None:
    # --client none is this process, as no --client is
    result = runner.invoke(app, ["extract", str(photo_dir), *TINY, "--store", str(tmp_path / "f.zarr"), "--client", "none"])
    assert result.exit_code == 0, result.output
    # an image head has no extraction to send: said, not silently ignored
    result = runner.invoke(app, ["fit", *_labeled(photo_dir), "--head", "cnniqa", "--out", str(tmp_path / "m.dfi"),
                                 "--client", "local"])  # fmt: skip
    assert result.exit_code == 2 and "image head cnniqa reads the photos in this process" in result.output


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("DEEPFEAT_IQA_CLI_LOCAL_CLUSTER"),
    reason="starts a LocalCluster (34 s on the shared 2-core machine); set DEEPFEAT_IQA_CLI_LOCAL_CLUSTER=1 to run it",
)
def test_client_local_extracts_two_photos(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    store = ["--store", str(tmp_path / "f.zarr")]
    result = runner.invoke(app, ["extract", str(folder), *TINY, *store, "--client", "local"])
    assert result.exit_code == 0, result.output
    assert "features.12: 2 images x 1 views" in result.output
    alone = runner.invoke(app, ["extract", str(folder), *TINY, *store])  # the same features: read back, not recomputed
    assert alone.exit_code == 0 and "features.12: 2 images x 1 views" in alone.output


def test_sweep_and_cross_check_the_scheduler_before_any_work(dead_address: str, tmp_path: Path) -> None:
    from helpers import TESTS

    experiments = TESTS.parent / "benchmarks" / "experiments"
    for command, file in (("sweep", "seed003_table1.toml"), ("cross", "seed003_table5.toml")):
        result = runner.invoke(app, [command, str(experiments / file), "--smoke", "--dry-run", "--out", str(tmp_path),
                                     "--client", dead_address])  # fmt: skip
        assert result.exit_code == 1, result.output
        assert f"error: Cannot reach the Dask scheduler at '{dead_address}' within 1 s" in result.output
        assert "--client local" in result.output and len(result.output.strip().splitlines()) == 1
