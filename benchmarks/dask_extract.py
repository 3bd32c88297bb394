"""Extraction throughput: one process against a 2-worker Dask LocalCluster on the same cores, same run.

Both sides extract the shared pristine photos (92, ``../shared/data/pristine``; the five scikit-image
photos repeated when absent) with ``efficientnet_lite0``'s offline ImageNet weights into a fresh
store each time. The single process uses ``extract``'s defaults (torch on all cores, one decoding
worker); the cluster has two single-threaded worker processes (``threads_per_worker=1``), each
building the backbone once in its worker plugin. Sides alternate (S, D, S, D, ...) so a change in the
machine's load hits both; the median of each side is compared. The cluster's start-up and first
backbone build are timed separately (``cold``), since a long-lived cluster pays them once.

Goal (issue 11): 2-worker LocalCluster >= 0.85x the single-process throughput on 2 cores.
Writes ``benchmarks/results/dask_extract.json`` and ``.md``. Measured on the shared 2-core machine.

Usage::

    python benchmarks/dask_extract.py              # 3 rounds
    python benchmarks/dask_extract.py --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PRISTINE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pristine"


def images(folder: Path) -> list[Path]:
    found = sorted(p for p in PRISTINE.glob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
    if found:
        return found
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.stereo_motorcycle()[0]]
    paths = []
    for i in range(92):
        path = folder / f"{i:03d}.jpg"
        Image.fromarray(photos[i % 5][..., :3]).save(path, quality=90)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="efficientnet_lite0")
    args = parser.parse_args()

    import distributed

    import deepfeat_iqa as dfi

    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        paths = images(Path(tmp))
        settings = {"model": args.model, "progress": False}
        dfi.extract(paths[:4], store=None, **settings)  # this process: imports and backbone build, untimed
        started = time.perf_counter()
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            with distributed.Client(cluster) as client:
                dfi.extract(paths[:4], store=Path(tmp) / "warm.zarr", client=client, **settings)
                cold_s = time.perf_counter() - started
                single, dask = [], []
                for round_ in range(args.rounds):
                    start = time.perf_counter()
                    a = dfi.extract(paths, store=Path(tmp) / f"single-{round_}.zarr", **settings)
                    single.append(len(paths) / (time.perf_counter() - start))
                    start = time.perf_counter()
                    b = dfi.extract(paths, store=Path(tmp) / f"dask-{round_}.zarr", client=client, **settings)
                    dask.append(len(paths) / (time.perf_counter() - start))
                    same = float(np.abs(a.only().X - b.only().X).max())
                    print(f"round {round_}: single {single[-1]:.2f} img/s, 2-worker cluster {dask[-1]:.2f} img/s, max |diff| {same:.2g}", flush=True)
    ratio = statistics.median(dask) / statistics.median(single)
    result = {
        "machine": f"shared {cores}-core machine (other jobs running); both sides alternate under the same load",
        "images": len(paths), "model": args.model, "rounds": args.rounds,
        "single_img_per_s": single, "dask_2_workers_img_per_s": dask, "ratio_median": ratio,
        "cluster_cold_start_s": cold_s, "goal_ratio_ge_0.85": ratio >= 0.85, "max_abs_feature_diff_last_round": same,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dask_extract.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Extraction: one process vs a 2-worker Dask LocalCluster ({len(paths)} photos, {args.model}, {cores} cores)", "",
        f"Measured on the {result['machine']}.", "",
        "| round | single process img/s | 2-worker LocalCluster img/s |", "|---:|---:|---:|",
        *[f"| {i} | {s:.2f} | {d:.2f} |" for i, (s, d) in enumerate(zip(single, dask))],
        "", f"* median ratio cluster / single: **{ratio:.2f}x** (goal >= 0.85x: {'met' if ratio >= 0.85 else 'NOT met'})",
        f"* cluster start-up + backbone build in both workers (paid once per cluster): {cold_s:.1f} s",
        f"* largest feature difference between the two sides (last round): {same:.2g}", "",
    ]  # fmt: skip
    (RESULTS / "dask_extract.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
