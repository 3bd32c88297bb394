"""Big smartphone photos, decoded at the size they are used (issue 17 part 3).

    python benchmarks/big_photos.py [--photos 8] [--repeats 2]

Makes synthetic 12-MP JPEGs (4000x3000, quality 95) by upscaling clive-dev photos (or scikit-image's when
clive-dev is absent) and measures, side by side in one run:

* decode ms per photo: the full decode vs the reduced decode a ``full512`` view asks for (``Image.draft``),
  and the image-head engine's decode for ``resize=512`` (full decode + resize vs reduced decode + resize);
* extraction throughput of EfficientNet-Lite0 ``blocks.4`` with ``views="full512"`` (the recommended view)
  on those photos, against its floor: the same network up to ``blocks.4`` as a bare ``nn.Sequential`` over
  pre-made 512x683 tensors in the same precision, at batch 1 and at the extraction's batch, the faster
  (goal ≥ 0.85x);
* image-head training on those photos (``spaq-bl``, ``resize=512``, 224-px random crops, batch 8, the
  pixel cache cold: every photo decoded once) against its floor: forward + backward + AdamW steps of the
  same network on pre-made 224-px batches (goal ≥ 0.85x).

Writes ``results/big_photos.{json,md}`` with the machine record and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"
CLIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clive-dev" / "images"


def make_photos(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    sources = sorted(CLIVE.glob("*.JPG"))[:n] if CLIVE.is_dir() else []
    if not sources:
        from skimage import data

        sources = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    paths = []
    for i in range(n):
        source = sources[i % len(sources)]
        image = Image.open(source).convert("RGB") if isinstance(source, Path) else Image.fromarray(source)
        path = folder / f"big{i:02d}.jpg"
        image.resize((4000, 3000), Image.Resampling.BICUBIC).save(path, quality=95)
        paths.append(path)
    return paths


def decode_ms(paths: list[Path], shrink_to: int | None, repeats: int) -> float:
    from deepfeat_iqa.inputs.images import load_rgb

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            load_rgb(path, shrink_to=shrink_to)
        best = min(best, (time.perf_counter() - start) / len(paths) * 1000)
    return best


def training_decode_ms(paths: list[Path], repeats: int) -> tuple[float, float]:
    """The image-head engine's decode for ``resize=512``: the old full decode + resize, and today's reduced one."""
    from deepfeat_iqa.inputs.images import load_rgb
    from deepfeat_iqa.inputs.views import Geometry
    from deepfeat_iqa.training._data import _Images, resize_short_side

    geometry = Geometry((224, 224))
    images = _Images(paths, geometry, transform=lambda crop: crop, short_side=512)
    found = []
    for decode in (lambda i: resize_short_side(load_rgb(paths[i]), 512, geometry), images._decode):
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(len(paths)):
                decode(i)
            best = min(best, (time.perf_counter() - start) / len(paths) * 1000)
        found.append(best)
    return found[0], found[1]


def training_rates(paths: list[Path], epochs: int) -> tuple[float, float]:
    """Images per second of ``spaq-bl`` training on ``paths`` (cold pixel cache), and of its bare floor."""
    import numpy as np
    import torch

    import deepfeat_iqa as dfi

    options = dict(epochs=epochs, batch_size=8, resize=512, val_fraction=0.0, test_views="center", progress=False)
    dataset = dfi.Dataset(ids=[p.name for p in paths], paths=paths, mos=np.linspace(10, 90, len(paths)))
    head = dfi.heads.make_head("spaq-bl", **options)
    with tempfile.TemporaryDirectory() as pixels:  # a cold pixel cache: every photo is decoded once in this fit
        os.environ["DEEPFEAT_IQA_PIXEL_CACHE"] = pixels
        start = time.perf_counter()
        head.fit(dataset)
        engine = epochs * len(paths) / (time.perf_counter() - start)
        del os.environ["DEEPFEAT_IQA_PIXEL_CACHE"]
    network, precision = head.network_, head.precision_
    from deepfeat_iqa.runtime.precision import autocast, memory_format

    network.train().to(memory_format=memory_format(precision, torch.device("cpu")))
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-4)
    x = torch.randn(8, 3, 224, 224).contiguous(memory_format=memory_format(precision, torch.device("cpu")))
    y = torch.randn(8)
    start = time.perf_counter()
    steps = epochs * len(paths) // 8
    for _ in range(steps):
        optimizer.zero_grad()
        with autocast(precision, torch.device("cpu")):
            out = network(x)
        loss = torch.nn.functional.l1_loss(out["quality"].float().reshape(-1), y)
        loss.backward()
        optimizer.step()
    return engine, steps * 8 / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--train-epochs", type=int, default=2, help="epochs of the training row (0: skip it)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import torch

    import deepfeat_iqa as dfi
    from deepfeat_iqa.backbones import build_backbone
    from deepfeat_iqa.runtime import machine
    from deepfeat_iqa.runtime.precision import autocast, memory_format, resolve_precision

    load_before = os.getloadavg()[0]
    precision = resolve_precision("auto", torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_photos(Path(tmp), args.photos)
        full_ms, reduced_ms = decode_ms(paths, None, args.repeats), decode_ms(paths, 512, args.repeats)
        train_full_ms, train_reduced_ms = training_decode_ms(paths[:8], args.repeats)
        train_rate, train_floor = training_rates(paths[:16], args.train_epochs) if args.train_epochs else (0.0, 1.0)
        dfi.extract(paths[:1], layers="blocks.4", views="full512", store=None, progress=False)  # warm-up
        rate = 0.0
        for _ in range(args.repeats):
            start = time.perf_counter()
            dfi.extract(paths, layers="blocks.4", views="full512", store=None, progress=False)
            rate = max(rate, len(paths) / (time.perf_counter() - start))
    model = build_backbone("efficientnet_lite0", "imagenet").model.eval()
    trunk = torch.nn.Sequential(model.conv_stem, model.bn1, *model.blocks[:5]).to(memory_format=memory_format(precision, torch.device("cpu")))
    floor = 0.0
    with torch.inference_mode():
        for batch in sorted({1, min(args.photos, 32)}):
            x = torch.randn(batch, 3, 512, 683).contiguous(memory_format=memory_format(precision, torch.device("cpu")))
            for _ in range(args.repeats):
                start = time.perf_counter()
                for _ in range(args.photos // batch):
                    with autocast(precision, torch.device("cpu")):
                        trunk(x)
                floor = max(floor, (args.photos // batch) * batch / (time.perf_counter() - start))
    record = {
        "machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0], "photos": args.photos,
        "precision": precision, "decode_ms_full": round(full_ms, 1), "decode_ms_reduced": round(reduced_ms, 1),
        "decode_speedup": round(full_ms / reduced_ms, 2), "training_decode_ms_full": round(train_full_ms, 1),
        "training_decode_ms_reduced": round(train_reduced_ms, 1), "extract_img_per_s": round(rate, 2),
        "floor_img_per_s": round(floor, 2), "extract_vs_floor": round(rate / floor, 3),
        "train_img_per_s": round(train_rate, 2), "train_floor_img_per_s": round(train_floor, 2),
        "train_vs_floor": round(train_rate / train_floor, 3),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "big_photos.json").write_text(json.dumps(record, indent=2))
    md = (f"Measured on {machine.one_line(record['machine'])}, load {load_before:.2f} → {record['load_after']:.2f}; "
          f"{args.photos} synthetic 4000x3000 JPEGs (q95), EfficientNet-Lite0 `blocks.4`, `full512`, {precision}.\n\n"
          "| decode full (ms) | decode for full512 (ms) | speed-up | image-head decode, resize=512: before → now (ms) "
          "| extract img/s | floor img/s | extract / floor |\n"
          "|---|---|---|---|---|---|---|\n"
          f"| {record['decode_ms_full']} | {record['decode_ms_reduced']} | {record['decode_speedup']}x | "
          f"{record['training_decode_ms_full']} → {record['training_decode_ms_reduced']} | "
          f"{record['extract_img_per_s']} | {record['floor_img_per_s']} | **{record['extract_vs_floor']}** |\n\n"
          f"Image-head training (spaq-bl, resize=512, batch 8, {args.train_epochs} epochs on 16 of the photos, pixel cache cold): "
          f"{record['train_img_per_s']} img/s vs its bare forward+backward floor {record['train_floor_img_per_s']} img/s = "
          f"**{record['train_vs_floor']}**.\n")  # fmt: skip
    (args.out / "big_photos.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
