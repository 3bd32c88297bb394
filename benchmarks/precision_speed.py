"""Does the default precision run at the speed of the faster explicit one, on this CPU? (issue 17)

    python benchmarks/precision_speed.py [--images 24] [--size 448] [--repeats 3]

Side by side in one run, on the same photos (clive-dev's first photos resized to ``--size``, or the
photos scikit-image ships when clive-dev is absent), EfficientNet-Lite0 with real ImageNet weights:

* ``dfi.extract(..., layers="blocks.4", views="full", store=None)`` with the **default** precision, with
  ``precision="fp32"`` and with ``precision="bf16"`` (img/s, best of ``--repeats``);
* the floor: a bare ``forward_features`` loop over pre-made tensors in fp32 and under bf16 autocast.

Goal: default / max(fp32, bf16) ≥ 0.85 on every CPU kind. Writes ``results/precision_speed.{json,md}``
with the machine record (CPU model, avx2 / avx512_bf16 / amx flags, cores, torch) of where it ran.
Run it with nothing else running (load ≤ 1): the load average before and after is recorded.

An AVX2-only CPU can be imitated on an AMX machine by capping the instruction sets oneDNN and ATen may use:
``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/precision_speed.py --name
precision_speed_avx2cap`` (the machine record then says "capped to AVX2"; clock and caches stay the AMX
machine's, so compare ratios, not img/s, with a real AVX2 CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results"
CLIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clive-dev" / "images"


def photos(folder: Path, n: int, size: int) -> list[Path]:
    from PIL import Image

    sources = sorted(CLIVE.glob("*.*"))[:n] if CLIVE.is_dir() else []
    if not sources:
        from skimage import data

        arrays = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
        sources = [arrays[i % len(arrays)] for i in range(n)]
    paths = []
    for i, source in enumerate(sources):
        image = Image.open(source).convert("RGB") if isinstance(source, Path) else Image.fromarray(source)
        path = folder / f"{i:03d}.png"
        image.resize((size, size)).save(path)
        paths.append(path)
    return paths


def extract_rate(paths: list[Path], precision: str | None, repeats: int) -> tuple[float, str]:
    import deepfeat_iqa as dfi

    options = {} if precision is None else {"precision": precision}
    best, resolved = 0.0, ""
    for _ in range(repeats):
        start = time.perf_counter()
        feats = dfi.extract(paths, layers="blocks.4", views="full", store=None, progress=False, **options)
        best = max(best, len(paths) / (time.perf_counter() - start))
        resolved = feats.only().key.precision
    return best, resolved


def floor_rate(n: int, size: int, precision: str, repeats: int) -> float:
    import torch

    from deepfeat_iqa.backbones import build_backbone
    from deepfeat_iqa.runtime.precision import autocast, memory_format

    model = build_backbone("efficientnet_lite0", "imagenet").model.eval().to(memory_format=memory_format(precision, torch.device("cpu")))
    batches = [torch.randn(8, 3, size, size).contiguous(memory_format=memory_format(precision, torch.device("cpu"))) for _ in range(max(1, n // 8))]
    best = 0.0
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            for x in batches:
                with autocast(precision, torch.device("cpu")):
                    model.forward_features(x)
            best = max(best, 8 * len(batches) / (time.perf_counter() - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--name", default="precision_speed", help="file stem of the results (e.g. one per CPU kind)")
    args = parser.parse_args()
    import warnings

    from deepfeat_iqa.runtime import machine

    warnings.filterwarnings("ignore", message="precision='bf16' on a CPU")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos(Path(tmp), args.images, args.size)
        extract_rate(paths[:2], "fp32", 1)  # warm-up: weights, kernels
        default, resolved = extract_rate(paths, None, args.repeats)
        fp32, _ = extract_rate(paths, "fp32", args.repeats)
        bf16, _ = extract_rate(paths, "bf16", args.repeats)
    floor = {p: floor_rate(args.images, args.size, p, args.repeats) for p in ("fp32", "bf16")}
    record = {
        "machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0],
        "images": args.images, "size": args.size, "default_resolves_to": resolved,
        "img_per_s": {"default": round(default, 2), "fp32": round(fp32, 2), "bf16": round(bf16, 2)},
        "floor_img_per_s": {k: round(v, 2) for k, v in floor.items()},
        "default_vs_best_explicit": round(default / max(fp32, bf16), 3),
        "default_vs_its_floor": round(default / floor[resolved], 3),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=2))
    rate = record["img_per_s"]
    md = (f"Measured on {machine.one_line(record['machine'])}, load {load_before:.2f} → {record['load_after']:.2f}; "
          f"{args.images} photos of {args.size} px, EfficientNet-Lite0 `blocks.4`, `full` view.\n\n"
          "| default (→ {r}) | fp32 | bf16 | default / best explicit | floor fp32 | floor bf16 | default / its floor |\n"
          "|---|---|---|---|---|---|---|\n"
          f"| {rate['default']} | {rate['fp32']} | {rate['bf16']} | **{record['default_vs_best_explicit']}** | "
          f"{record['floor_img_per_s']['fp32']} | {record['floor_img_per_s']['bf16']} | {record['default_vs_its_floor']} |\n").replace("{r}", resolved)
    (args.out / f"{args.name}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
