"""Where a CNNIQA/DCNNS training step's time goes: the data work per item, and the main process's side.

Times, single-threaded and in-process, each part of one training item (decode, random crops, grayscale,
LCN, stacking) and of a batch (collate), then runs the engine with 0 and 1 decoding workers and the
bare loop, and profiles the in-process engine run with cProfile (top functions by own time). With
``--decoded-cache`` the engine runs once more per worker count with every image decoded beforehand
(a stand-in for a decoded-pixel cache in ``training/_data.py``: ``_Images._image`` is patched here, in
this experiment only, to read the pre-decoded arrays; forked workers inherit them), and again with
``_Images._stack`` calling :meth:`GrayLCN.stack` (one batched LCN per image instead of one call per crop).

    python benchmarks/experiments/patch_pipeline_profile.py --images DIR_OR_GLOB [--head cnniqa] [--steps 60]

Writes ``benchmarks/results/patch_pipeline_profile_<head>.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deepfeat_iqa.heads import make_head
from deepfeat_iqa.training._side_tasks import SideTasks
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.patchcnn import local_contrast_normalize, to_gray
from deepfeat_iqa.training import Pipeline, TrainData, TrainSettings, fit_network
from deepfeat_iqa.training._data import TrainCrops, _collate, _Images, content_id
from deepfeat_iqa.inputs.views import View, parse_views

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pretrain_ablation import _bare as bare  # noqa: E402  (the one floor loop of the patch-CNN benchmarks)

OUT = Path(__file__).resolve().parents[1] / "results"


def per_call(fn, repeats: int) -> float:
    """Mean milliseconds of ``fn()`` over ``repeats`` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) * 1000 / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True, help="a folder of PNGs or a glob")
    parser.add_argument("--head", default="cnniqa", choices=("cnniqa", "dcnns"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--decoded-cache", action="store_true", help="also run with pre-decoded images")
    parser.add_argument("--threads", type=int, nargs="+", default=[0], help="torch threads of the engine and floor runs (0: default)")
    args = parser.parse_args()
    pattern = args.images if any(c in args.images for c in "*?[") else str(Path(args.images) / "*.png")
    paths = sorted(Path(p) for p in glob.glob(pattern))
    head = make_head(args.head)
    network, loss, geometry, transform = head.build_network(SideTasks(targets={}), pretrained=True)
    count, batch = head.crops_per_image, head.batch_size
    per_step = count * batch
    view = View("random", geometry, count=count, seed=0)
    image = load_rgb(paths[0])
    crops = view.crops(image, "x/epoch1")
    gray = to_gray(crops[0])
    report: dict = {"head": args.head, "image_shape": list(image.shape), "crops_per_image": count, "batch_size": batch,
                    "load_1min": round(os.getloadavg()[0], 2), "threads": torch.get_num_threads()}  # fmt: skip
    torch.set_num_threads(1)  # the data work runs single-threaded in a worker
    item = TrainCrops(paths, geometry, transform, None, count=count, seed=0)
    parts = {
        "decode (load_rgb)": per_call(lambda: load_rgb(paths[0]), 50),
        "content_id (hash, cached after first)": per_call(lambda: content_id(paths[0]), 50),
        f"random crops x{count}": per_call(lambda: view.crops(image, "x/epoch1"), 50),
        f"to_gray x{count}": per_call(lambda: [to_gray(c) for c in crops], 20),
        f"LCN x{count}": per_call(lambda: [local_contrast_normalize(gray) for _ in crops], 20),
        f"transform (gray+LCN) x{count}": per_call(lambda: [transform(c) for c in crops], 20),
        "stack to tensor": per_call(lambda: item._stack(crops), 20),
        "whole item (__getitem__)": per_call(lambda: item[(0, 1)], 20),
    }
    items = [item[(i % len(paths), 1)] for i in range(batch)]
    parts[f"collate ({batch} items)"] = per_call(lambda: _collate(items), 50)
    torch.set_num_threads(report["threads"])
    report["ms"] = {k: round(v, 3) for k, v in parts.items()}
    report["data_ms_per_step"] = round(parts["whole item (__getitem__)"] * batch + parts[f"collate ({batch} items)"], 2)

    x = torch.randn(per_step, 1, *geometry.size)
    y = {"quality": torch.linspace(-1, 1, per_step)}
    state = {k: v.clone() for k, v in network.state_dict().items()}
    bare(network, loss, x, y, 3)
    n_images = args.steps * batch
    data = TrainData([paths[i % len(paths)] for i in range(n_images)], {"quality": np.linspace(-1, 1, n_images).astype(np.float32)})
    report["engine"] = {}
    runs = [(n, False, False, t) for t in args.threads for n in args.workers]
    runs += [(n, True, False, t) for t in args.threads for n in args.workers] if args.decoded_cache else []
    runs += [(n, "stacked", False, t) for t in args.threads for n in args.workers] if args.decoded_cache else []
    runs.append((0, False, True, 0))  # profiled (its time is not a ratio: cProfile slows Python code)
    original_stack = _Images._stack
    original = _Images._image
    decoded = {}
    for n_workers, cached, profiled, threads in runs:
        torch.set_num_threads(threads or report["threads"])
        if profiled:
            _Images._image, _Images._stack = original, original_stack
        if cached and not decoded:
            decoded.update({str(p): load_rgb(p) for p in paths})
            _Images._image = lambda self, row: decoded[str(self.paths[row])]
        if cached == "stacked":  # the transform's batch method, where the engine's _stack would call it
            _Images._stack = lambda self, crops: torch.from_numpy(self.transform.stack(crops))
        network.load_state_dict(state)
        floor = bare(network, loss, x, y, args.steps)  # next to each engine run: the load moves between runs
        network.load_state_dict(state)
        settings = TrainSettings(epochs=1, batch_size=batch, optimizer="adam", lr=1e-3, weight_decay=0.0, schedule="constant",
                                 crops_per_image=count, target_level="patch", precision="fp32", device="cpu",
                                 num_workers=n_workers, progress=False)  # fmt: skip
        profiler = cProfile.Profile() if profiled else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        fit_network(network, loss, data, None, settings=settings, pipeline=Pipeline(geometry, transform),
                    val_view=parse_views("center", geometry))  # fmt: skip
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
        label = f"workers={n_workers}, threads={threads or report['threads']}" + (", decoded cache" if cached else "")
        label += " + GrayLCN.stack" if cached == "stacked" else ""
        if not profiled:
            report["engine"][label] = {"ms_per_step": round(seconds * 1000 / args.steps, 2),
                                       "floor_ms_per_step": round(floor * 1000 / args.steps, 2), "ratio": round(floor / seconds, 3),
                                       "load_1min": round(os.getloadavg()[0], 2)}  # fmt: skip
        if profiler:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
            report["profile_workers0"] = [line for line in text.getvalue().splitlines() if line.strip()][-22:]
    _Images._image, _Images._stack = original, original_stack
    torch.set_num_threads(report["threads"])
    report["load_1min_end"] = round(os.getloadavg()[0], 2)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"patch_pipeline_profile_{args.head}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
