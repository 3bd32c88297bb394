"""GPU check, a few minutes on one CUDA device: extraction and training throughput, and CUDA vs CPU features.

What it measures (``efficientnet_lite0`` with its offline ImageNet weights, 224 px center crops):

1. **Extraction throughput** of ``dfi.extract`` on CUDA with the automatic choices (precision
   ``"auto"``: bf16 where the GPU has it, else fp16; 128 images a batch; pinned, non-blocking copies),
   against the same call on the CPU over fewer images, in images/s.
2. **Agreement**: CUDA fp32 features (TF32 off) against CPU fp32 features of the same images, as the
   mean centered cosine per layer (features minus the CPU features' column mean). Goal >= 0.999.
   The CUDA auto-precision features are compared too (reported; bf16 is expected to be lower).
3. **Training throughput**: a plain fine-tuning loop (backbone + linear head, MSE, AdamW, AMP with a
   gradient scaler for fp16, channels_last, pinned host batches), images/s, against fp32.

Without CUDA it says so and exits with status 2, so it can never pass silently on a CPU.
Writes ``benchmarks/results/gpu_check.json`` and ``.md``.

Usage::

    python benchmarks/gpu_check.py                 # 1024 images on CUDA, 64 on the CPU
    python benchmarks/gpu_check.py --images 256    # shorter
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "efficientnet_lite0"
LAYERS = ["blocks.3", "blocks.6"]
GOAL_COSINE = 0.999


def make_images(folder: Path, n: int) -> list[Path]:
    """``n`` natural-photo JPEGs: random crops and scales of scikit-image's sample photos."""
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.stereo_motorcycle()[0]]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        top, left = rng.integers(0, h // 4), rng.integers(0, w // 4)
        crop = Image.fromarray(photo[top : top + 3 * h // 4, left : left + 3 * w // 4, :3])
        crop = crop.resize((int(crop.width * rng.uniform(0.6, 1.0)), int(crop.height * rng.uniform(0.6, 1.0))))
        path = folder / f"{i:05d}.jpg"
        crop.save(path, quality=90)
        paths.append(path)
    return paths


def centered_cosine(x: np.ndarray, reference: np.ndarray) -> float:
    """Mean row cosine after subtracting the reference's column mean (so a shared offset cannot help)."""
    center = reference.mean(axis=0, keepdims=True)
    a, b = x - center, reference - center
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    return float(cos.mean())


def extraction(paths: list[Path], cpu_images: int, store: Path) -> dict:
    import deepfeat_iqa as dfi

    subset = paths[:cpu_images]
    dfi.extract(paths[:16], backbone=MODEL, layers=LAYERS, device="cuda", store=None, progress=False)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    gpu = dfi.extract(paths, backbone=MODEL, layers=LAYERS, device="cuda", store=store / "gpu.zarr", progress=False)
    gpu_s = time.perf_counter() - start
    start = time.perf_counter()
    cpu_auto = dfi.extract(subset, backbone=MODEL, layers=LAYERS, device="cpu", store=None, progress=False)
    cpu_s = time.perf_counter() - start
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gpu32 = dfi.extract(subset, backbone=MODEL, layers=LAYERS, device="cuda", precision="fp32", store=None, progress=False)
    cpu32 = dfi.extract(subset, backbone=MODEL, layers=LAYERS, device="cpu", precision="fp32", store=None, progress=False)
    rows = np.arange(len(subset))
    agreement = {
        layer: {
            "cuda_fp32_vs_cpu_fp32": centered_cosine(gpu32[layer].X, cpu32[layer].X),
            f"cuda_{gpu[layer].key.precision}_vs_cpu_fp32": centered_cosine(gpu[layer].subset(rows).X, cpu32[layer].X),
        }
        for layer in LAYERS
    }
    return {
        "images_cuda": len(paths), "images_cpu": len(subset),
        "cuda_precision": gpu[LAYERS[0]].key.precision, "cpu_precision": cpu_auto[LAYERS[0]].key.precision,
        "cuda_img_per_s": len(paths) / gpu_s, "cpu_img_per_s": len(subset) / cpu_s,
        "agreement": agreement,
        "agreement_ok": all(v["cuda_fp32_vs_cpu_fp32"] >= GOAL_COSINE for v in agreement.values()),
    }  # fmt: skip


def training(steps: int, batch: int) -> dict:
    from deepfeat_iqa.runtime.precision import autocast_dtype, resolve_precision
    from deepfeat_iqa.backbones import build_backbone

    device = torch.device("cuda")
    out = {}
    for precision in (resolve_precision("auto", device), "fp32"):
        net = build_backbone(MODEL, "imagenet", device=device).model.train().to(memory_format=torch.channels_last)
        head = torch.nn.LazyLinear(1).to(device)
        half = autocast_dtype(precision)
        host_x = torch.randn(batch, 3, 224, 224).pin_memory()
        host_y = torch.randn(batch, 1).pin_memory()
        with torch.autocast("cuda", dtype=half or torch.float32, enabled=half is not None):
            head(net(host_x[:2].to(device)))  # materialize the lazy head
        optimizer = torch.optim.AdamW(list(net.parameters()) + list(head.parameters()), lr=1e-4)
        scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
        timed = 0.0
        for step in range(steps + 5):
            if step == 5:
                torch.cuda.synchronize()
                timed = time.perf_counter()
            x = host_x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = host_y.to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=half or torch.float32, enabled=half is not None):
                loss = torch.nn.functional.mse_loss(head(net(x)).float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        torch.cuda.synchronize()
        out[precision] = batch * steps / (time.perf_counter() - timed)
    return {"batch": batch, "steps": steps, "img_per_s": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--cpu-images", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--train-batch", type=int, default=64)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA device here; nothing was measured. Run it on a GPU machine.")
        sys.exit(2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        paths = make_images(folder, args.images)
        result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
        result["extraction"] = extraction(paths, args.cpu_images, Path(tmp))
    result["training"] = training(args.train_steps, args.train_batch)
    result["wall_s"] = time.perf_counter() - started
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gpu_check.json").write_text(json.dumps(result, indent=2))
    ex, tr = result["extraction"], result["training"]
    lines = [
        f"# GPU check on {result['device']} (torch {result['torch']}, CUDA {result['cuda']})", "",
        (f"* extraction ({MODEL}, {', '.join(LAYERS)}): CUDA {ex['cuda_precision']} **{ex['cuda_img_per_s']:.0f} img/s** "
         f"({ex['images_cuda']} images) vs CPU {ex['cpu_precision']} {ex['cpu_img_per_s']:.1f} img/s ({ex['images_cpu']} images)"),
        *[f"* {layer}: centered cosine " + ", ".join(f"{k} {v:.5f}" for k, v in vals.items()) for layer, vals in ex["agreement"].items()],
        f"* CUDA fp32 vs CPU fp32 >= {GOAL_COSINE}: {'PASS' if ex['agreement_ok'] else 'FAIL'}",
        f"* training (batch {tr['batch']}): " + ", ".join(f"{k} {v:.0f} img/s" for k, v in tr["img_per_s"].items()),
        f"* wall time {result['wall_s']:.0f} s", "",
    ]  # fmt: skip
    (RESULTS / "gpu_check.md").write_text("\n".join(lines))
    print("\n".join(lines))
    sys.exit(0 if ex["agreement_ok"] else 1)


if __name__ == "__main__":
    main()
