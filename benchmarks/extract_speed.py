"""Extraction speed, side by side in one run: pipeline vs bare forward, layers, cache hits, memory, NASNet-Large.

Writes ``benchmarks/results/extract_speed.json`` and ``.md``. Random weights throughout (speed does not
depend on weight values). ``--quick`` shrinks every workload to a smoke test.

Goals checked (see docs/extraction.md):

* full pipeline (decode + crop + normalize + forward + pool) >= 0.85x a bare forward on pre-made tensors;
* 4 layers from one pass <= 1.15x the time of 1 layer;
* re-run on a complete store >= 50x faster than extracting;
* peak RSS does not grow from 200 to 1000 images;
* NASNet-Large, 1 thread: seconds per image, against seed 003's 1.8 s/image.

Usage::

    python benchmarks/extract_speed.py            # ~10 minutes on 2 busy cores
    python benchmarks/extract_speed.py --quick    # ~2 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from deepfeat_iqa.runtime.machine import describe as describe_machine
import deepfeat_iqa as dfi
from deepfeat_iqa.backbones import build_backbone, forward_layers, resolve_layers
from deepfeat_iqa.extraction._forward import forward_batch
from deepfeat_iqa.runtime.precision import DEFAULT_PRECISION, autocast, memory_format

RESULTS = Path(__file__).resolve().parent / "results"
SEED_003_NASNET_S_PER_IMAGE = 1.8
LAYERS = ["layer1", "layer2", "layer3", "layer4"]

_RSS_CHILD = """
import resource, sys
import deepfeat_iqa as dfi
dfi.extract(sys.argv[1], backbone="resnet50", layers="layer4", weights="random", store=sys.argv[2],
            precision=sys.argv[3], batch_size=32, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_jpegs(folder: Path, n: int, size: tuple[int, int] = (512, 384)) -> list[Path]:
    """``n`` distinct smooth-noise JPEGs of ``size`` (width, height), made once per folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"{i:05d}.jpg"
        if not path.exists():
            coarse = rng.integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def timed(fn, repeats: int = 1) -> float:  # noqa: ANN001 - any zero-argument callable
    """Best wall-clock seconds of ``repeats`` calls (best-of filters out other users of the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bare_forward(n: int, precision: str, batch_size: int) -> Callable[[], float]:
    """A zero-argument callable: images/s of one pass of resnet50 up to layer4 over pre-made normalized tensors
    (no decoding, no pooling).

    The tensors have the layout and batch the library's own forward uses on this CPU (channels_last at every
    precision, :func:`forward_batch` crops per pass: 8 at 224 px, the fastest measured batch), so the floor is
    the fastest bare loop, not one handicapped by a slower layout or batch.
    """
    device = torch.device("cpu")
    loaded = build_backbone("resnet50", "random")
    path = resolve_layers(loaded, ["layer4"])
    fmt = memory_format(precision, device)
    model = loaded.model.eval().to(memory_format=fmt)
    step = forward_batch(batch_size, (224, 224, 3), device)
    batches = [torch.randn(min(step, n - i), 3, 224, 224).contiguous(memory_format=fmt) for i in range(0, n, step)]

    def run() -> None:
        with torch.inference_mode(), autocast(precision, device):
            for x in batches:
                forward_layers(model, x, path)

    forward_layers(model, batches[0][:2], path)
    return lambda: n / timed(run)


def pipeline(paths: list[Path], precision: str, batch_size: int, layers: list[str], store: object = None) -> float:
    """Seconds for one ``extract`` over ``paths`` (the model is cached in-process after the first call)."""
    return timed(
        lambda: dfi.extract(paths, backbone="resnet50", layers=layers, weights="random", store=store, precision=precision,
                            batch_size=batch_size, progress=False)  # fmt: skip
    )


def peak_rss_mb(folder: Path, store: Path, precision: str) -> float:
    """Peak RSS (MB) of a fresh process extracting every image of ``folder`` into ``store``."""
    result = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(folder), str(store), precision], capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def nasnet_seconds_per_image(paths: list[Path], precision: str) -> float:
    """NASNet-Large (331x331) on one thread, batch 1, full pipeline."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)

    def run(subset: list[Path]) -> None:
        dfi.extract(subset, backbone="nasnetalarge", weights="random", store=None, batch_size=1, num_workers=0, precision=precision, progress=False)

    try:
        run(paths[:1])  # build the model and warm its kernels
        seconds = timed(lambda: run(paths))
    finally:
        torch.set_num_threads(saved)
    return seconds / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke-size workloads (about 2 minutes).")
    parser.add_argument("--work", type=Path, default=None, help="Folder for generated images and stores (default: a temp dir).")
    parser.add_argument("--tag", default="", help="suffix of the result names, e.g. one per CPU kind (extract_speed_quick_TAG.*)")
    args = parser.parse_args()
    n_small, n_large, n_nasnet = (40, 200, 1) if args.quick else (200, 1000, 3)
    batch_size = 32
    work = args.work or Path(tempfile.mkdtemp(prefix="deepfeat-speed-"))
    small = make_jpegs(work / "images_small", n_small)
    large_folder = work / "images_large"
    make_jpegs(large_folder, n_large)

    result: dict = {
        "quick": args.quick, "n_images": n_small, "batch_size": batch_size, "model": "resnet50 (random weights) @224",
        "machine": {**describe_machine(), "python": platform.python_version(), "load_avg_at_start": os.getloadavg()},
    }  # fmt: skip
    build_backbone("resnet50", "random")
    for precision in ("fp32", "bf16"):
        pipeline(small[: batch_size + 8], precision, batch_size, LAYERS)  # warm-up: model cache, kernels of both batch shapes
        floor = bare_forward(n_small, precision, batch_size)
        # Floor and pipeline interleaved, best of 3 each, so drifts of the machine's speed hit both sides alike.
        rounds = [(floor(), pipeline(small, precision, batch_size, ["layer4"]), pipeline(small, precision, batch_size, LAYERS)) for _ in range(3)]
        bare, one, four = max(r[0] for r in rounds), min(r[1] for r in rounds), min(r[2] for r in rounds)
        full = n_small / one
        result[precision] = {
            "bare_forward_img_s": round(bare, 2), "pipeline_img_s": round(full, 2), "pipeline_over_bare": round(full / bare, 3),
            "four_layers_s": round(four, 2), "one_layer_s": round(one, 2), "four_over_one": round(four / one, 3),
        }  # fmt: skip
        print(precision, result[precision], flush=True)

    run_dir = Path(tempfile.mkdtemp(prefix="stores-", dir=work))  # fresh stores: nothing cached from earlier runs
    first = pipeline(small, DEFAULT_PRECISION, batch_size, ["layer4"], store=run_dir / "store.zarr")
    rerun = pipeline(small, DEFAULT_PRECISION, batch_size, ["layer4"], store=run_dir / "store.zarr")
    result["cache"] = {"precision": DEFAULT_PRECISION, "extract_s": round(first, 3), "rerun_s": round(rerun, 4), "speedup": round(first / rerun, 1)}
    print("cache", result["cache"], flush=True)

    rss_small = peak_rss_mb(work / "images_small", run_dir / "rss_small.zarr", DEFAULT_PRECISION)
    rss_large = peak_rss_mb(large_folder, run_dir / "rss_large.zarr", DEFAULT_PRECISION)
    result["peak_rss_mb"] = {f"{n_small}": round(rss_small), f"{n_large}": round(rss_large), "growth": round(rss_large / rss_small, 3)}
    print("rss", result["peak_rss_mb"], flush=True)

    result["nasnet_large_1_thread"] = {}
    for precision in ("fp32", "bf16"):
        seconds = nasnet_seconds_per_image(small[:n_nasnet], precision)
        result["nasnet_large_1_thread"][precision] = {"s_per_image": round(seconds, 2), "ratio_to_seed_003": round(seconds / SEED_003_NASNET_S_PER_IMAGE, 2)}
    print("nasnet", result["nasnet_large_1_thread"], flush=True)
    result["machine"]["load_avg_at_end"] = os.getloadavg()

    RESULTS.mkdir(parents=True, exist_ok=True)
    name = ("extract_speed_quick" if args.quick else "extract_speed") + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    (RESULTS / f"{name}.md").write_text(to_markdown(result))
    print(f"wrote {RESULTS / name}.json and .md")


def to_markdown(result: dict) -> str:
    """The results as a small Markdown report with the goals beside the measurements."""
    lines = [f"# Extraction speed ({'quick' if result['quick'] else 'full'} run)", "",
             f"{result['model']}, {result['n_images']} JPEGs 512x384, batch {result['batch_size']}; machine {result['machine']}", "",
             "Floor: the same network up to layer4 on pre-made tensors, in the layout and forward batch the library uses "
             "(channels_last, 8 crops a pass), best of 3 rounds interleaved with the pipeline's.", "",
             "| precision | bare forward img/s | pipeline img/s | pipeline/bare (goal >= 0.85) | 4 layers / 1 layer (goal <= 1.15) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for precision in ("fp32", "bf16"):
        r = result[precision]
        lines.append(f"| {precision} | {r['bare_forward_img_s']} | {r['pipeline_img_s']} | {r['pipeline_over_bare']} | {r['four_over_one']} |")
    cache, rss, nas = result["cache"], result["peak_rss_mb"], result["nasnet_large_1_thread"]
    lines += ["", f"- Re-run on a complete store ({cache['precision']}): {cache['extract_s']} s -> {cache['rerun_s']} s, "
              f"**{cache['speedup']}x** (goal >= 50x)",
              f"- Peak RSS (MB, by image count): {rss} (goal: no growth)"]  # fmt: skip
    for precision, r in nas.items():
        lines.append(f"- NASNet-Large, 1 thread, {precision}: **{r['s_per_image']} s/image**, {r['ratio_to_seed_003']}x seed 003's 1.8 s/image")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
