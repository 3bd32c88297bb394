"""Evaluation beside other CPU work: idle vs one competing process, before vs after the thread rule, in one run.

Issue 13 item 4: the demo's warm evaluate step took 18.9 s idle, 53.2 s beside one single-threaded busy
process and 133 s beside a process running 2-thread torch matrix products. The cause is thread
oversubscription: torch's intra-op pool and OpenBLAS each start one thread per core, and a few-hundred-row
head runs thousands of tiny parallel regions whose threads wait for each other while a competitor holds a
core (see ``deepfeat_iqa/threads.py``). The fix holds small problems to one thread per library.

The workload is the demo's evaluate step (``dfi.evaluate`` of the SVR and GPR heads over content-separated
repeated 80/20 splits of 273 images = 7 references x 39 distortions) on fixed synthetic features with the
demo layers' widths, so it needs no extraction. Each measurement runs the workload in a fresh process under
one condition, with a competitor started just before and stopped after:

* ``idle``: no competitor (but see below: the machine may be shared);
* ``busy1``: one single-threaded Python busy loop;
* ``torch2``: one process running 2-thread torch matrix products (512 x 512, float32) in a loop;

and for two variants: ``before`` (``DEEPFEAT_IQA_HEAD_THREADS=0``: the libraries' default threads, the
0.1.0 behaviour) and ``after`` (the thread rule). Conditions and variants are interleaved over repetitions
(each repetition rotates the order), so slow drifts of background load on a shared machine hit all cells
alike; the table reports medians and the ratios of medians, and records the 1-minute load average seen
at each measurement.

Usage::

    python benchmarks/contention.py               # 1 layer (320-d), 3 splits, 3 repetitions
    python benchmarks/contention.py --full        # the demo's 4 layers x 5 splits
    python benchmarks/contention.py --reps 5

Writes ``benchmarks/results/contention.json`` and ``.md`` (``contention_full.*`` with ``--full``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CONDITIONS = ("idle", "busy1", "torch2")
VARIANTS = ("before", "after")
DEMO_DIMS = (40, 112, 320, 1280)  # EfficientNet-Lite0 blocks.2, blocks.4, blocks.6, pool

COMPETITORS = {
    "busy1": "while True:\n    pass\n",
    "torch2": (
        "import torch\ntorch.set_num_threads(2)\na = torch.randn(512, 512)\nb = torch.randn(512, 512)\n"
        "while True:\n    a @ b\n"
    ),
}

WORKLOAD = r"""
import json, sys, time
import numpy as np
import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import Dataset, Scale
from deepfeat_iqa.features._sets import FeatureKey, LayerFeatures

dims, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
n_refs, per_ref = 7, 39
n = n_refs * per_ref
quality = rng.uniform(0, 100, size=n)
ids = [f"r{i // per_ref}_{i % per_ref:02d}.png" for i in range(n)]
ds = Dataset(ids=ids, paths=ids, mos=quality, scale=Scale(0, 100, True, "pseudo-MOS"),
             groups=np.repeat(np.arange(n_refs), per_ref), name="contention")
layers = []
for dim in dims:
    mixing = rng.normal(size=(4, dim))
    latent = np.c_[quality / 30, rng.normal(size=(n, 3))]
    X = np.maximum(latent @ mixing + rng.normal(size=(n, dim)), 0)  # ReLU-like pooled activations
    key = FeatureKey("efficientnet_lite0", "sha256:synthetic", f"d{dim}", "avg", "center", "fp32")
    layers.append(LayerFeatures(key=key, per_view=X[:, None, :].astype(np.float32), dataset=ds))
start = time.perf_counter()
for head in ("svr", "gpr"):
    for lf in layers:
        dfi.evaluate(lf, head=head, protocol="repeated", n_splits=repeats, seed=0, progress=False)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def measure(condition: str, variant: str, dims: tuple[int, ...], repeats: int) -> dict:
    """Run the workload once in a fresh process under ``condition``; return its seconds and the load."""
    competitor = None
    if condition != "idle":
        competitor = subprocess.Popen([sys.executable, "-c", COMPETITORS[condition]])
        time.sleep(1.0)  # let it reach its steady state (torch import, first products)
    env = {**os.environ, "DEEPFEAT_IQA_HEAD_THREADS": "0" if variant == "before" else ""}
    try:
        load = os.getloadavg()[0]
        done = subprocess.run(
            [sys.executable, "-c", WORKLOAD, json.dumps(list(dims)), str(repeats)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    return {"condition": condition, "variant": variant, "seconds": seconds, "load_1min": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="The demo's 4 layers x 5 splits (default: 1 layer x 3 splits).")
    parser.add_argument("--reps", type=int, default=3, help="Repetitions of every (condition, variant) cell.")
    args = parser.parse_args()
    dims, repeats = (DEMO_DIMS, 5) if args.full else ((320,), 3)
    cells = [(c, v) for c in CONDITIONS for v in VARIANTS]
    runs = []
    for rep in range(args.reps):
        order = cells[rep % len(cells):] + cells[: rep % len(cells)]  # rotate, so no cell always runs first
        for condition, variant in order:
            run = measure(condition, variant, dims, repeats) | {"rep": rep}
            runs.append(run)
            print(f"rep {rep} {condition:6s} {variant:6s} {run['seconds']:7.2f} s  (load {run['load_1min']:.1f})", flush=True)
    median = {
        (c, v): statistics.median(r["seconds"] for r in runs if (r["condition"], r["variant"]) == (c, v)) for c, v in cells
    }
    table = [
        {
            "condition": c,
            **{f"{v}_s": median[c, v] for v in VARIANTS},
            **{f"{v}_vs_idle": median[c, v] / median["idle", v] for v in VARIANTS},
            "speedup": median[c, "before"] / median[c, "after"],
        }
        for c in CONDITIONS
    ]
    loads = [r["load_1min"] for r in runs]
    report = {
        "workload": {"dims": list(dims), "splits": repeats, "heads": ["svr", "gpr"], "n_images": 273},
        "reps": args.reps,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "load_1min": {"min": min(loads), "median": statistics.median(loads), "max": max(loads)},
        "table": table,
        "runs": runs,
    }
    name = "contention_full" if args.full else "contention"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{name}.md").write_text(_markdown(report))
    print(_markdown(report))


def _markdown(report: dict) -> str:
    w = report["workload"]
    load = report["load_1min"]
    lines = [
        f"# Evaluation beside other CPU work ({'full' if w['splits'] == 5 else 'quick'})",
        "",
        f"`dfi.evaluate` of {', '.join(w['heads'])} on {w['n_images']} images (7 groups), layer widths {w['dims']}, "
        f"{w['splits']} content-separated 80/20 splits each; median of {report['reps']} interleaved repetitions per cell. "
        f"Measured on the {report['machine']['cpus']}-core machine at a 1-minute load average of "
        f"{load['min']:.1f}-{load['max']:.1f} (median {load['median']:.1f}; our competitor counts 1-2 of it), so 'idle' "
        "means no competitor of ours; compare ratios, measured side by side, not absolute seconds.",
        "",
        "| condition | before (default threads) s | after (thread rule) s | before / idle | after / idle | before / after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["table"]:
        lines.append(
            f"| {row['condition']} | {row['before_s']:.2f} | {row['after_s']:.2f} | {row['before_vs_idle']:.2f}x | "
            f"{row['after_vs_idle']:.2f}x | {row['speedup']:.1f}x |"
        )
    lines += ["", "busy1: one single-threaded busy loop; torch2: one process of 2-thread 512x512 torch matmuls.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
