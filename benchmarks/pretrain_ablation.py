"""Seed 002's pretraining ablation next to the patch CNNs and GPR, plus patch-CNN training throughput.

Offline, on the shared pristine photos (Kodak24 + CBSD68), split **by photo** with a seeded shuffle into
a pretraining pool and a target pool (never the same photo in both):

* pretraining set: seed 002's synthetic distortions of the pretraining pool (``dfi.synth``, pseudo-MOS);
* target set: authentic-like mixtures of the target pool (``dfi.synth``), split into content-separated
  repeated train/test splits (the same splits for every model, checked by split signatures).

Models: EfficientNet-Lite0 fine-tuned (seed 002 stage 2, head ``quality-aware``) from ImageNet, and from
stage-1 weights pretrained with CLS, REG and Multi; CNNIQA and DCNNS trained from scratch; GPR on frozen
ImageNet EfficientNet-Lite0 features. Throughput: CNNIQA/DCNNS patches/s through the shared engine vs a
bare forward+backward+step loop on pre-made patch tensors (same network, batch, optimizer, precision).

    python benchmarks/pretrain_ablation.py                 # default: ~45-60 min on 2 shared cores
    python benchmarks/pretrain_ablation.py --quick         # smoke run (~3 min)
    python benchmarks/pretrain_ablation.py --splits 1 --models imagenet multi   # estimate one split / variant
    python benchmarks/pretrain_ablation.py --throughput-only --workers 0 1      # patch-CNN throughput (quiet machine)
    python benchmarks/pretrain_ablation.py --dataset livec --root /data/ChallengeDB_release   # real target DB

Writes ``benchmarks/results/pretrain_ablation[_quick].{json,md}`` (``patch_cnn_throughput.{json,md}``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.training._side_tasks import SideTasks
from deepfeat_iqa.training import Pipeline, TrainData, TrainSettings, fit_network

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
MODEL = "efficientnet_lite0"
ROWS = ("gpr", "imagenet", "cls", "reg", "multi", "cnniqa", "dcnns")


def pristine_folder() -> Path:
    """``$DEEPFEAT_IQA_SHARED/data/pristine``, else ``../shared`` of the checkout (main or a worktree)."""
    candidates = [Path(os.environ["DEEPFEAT_IQA_SHARED"])] if "DEEPFEAT_IQA_SHARED" in os.environ else []
    candidates += [ROOT.parent / "shared", ROOT.parents[1] / "shared"]
    for base in candidates:
        if (base / "data" / "pristine").is_dir():
            return base / "data" / "pristine"
    raise SystemExit(f"Pristine photos not found under {[str(c) for c in candidates]}; set DEEPFEAT_IQA_SHARED.")


def pools(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """A seeded shuffle of all pristine photos, cut into disjoint pretraining and target pools."""
    folder = pristine_folder()
    photos = sorted(p for sub in ("kodak24", "cbsd68") for p in (folder / sub).glob("*.png"))
    order = np.random.default_rng(args.seed).permutation(len(photos))
    target_pool = [photos[i] for i in order[: args.target_photos]]
    rest = order[args.target_photos :]
    pretrain_pool = [photos[i] for i in rest[: args.pretrain_photos or len(rest)]]  # 0: every other photo
    return pretrain_pool, target_pool


def throughput(name: str, target: dfi.Dataset, steps: int, options: dict, num_workers: int = 1) -> dict:
    """Patches/s of the engine (decode + crop + LCN in a worker, train) and of a bare loop on pre-made patches."""
    head = make_head(name, **options)
    network, loss, geometry, transform = head.build_network(SideTasks(targets={}), pretrained=True)
    per_step = head.batch_size * head.crops_per_image
    n_images = steps * head.batch_size
    paths = [target.paths[i % len(target)] for i in range(n_images)]
    targets = {"quality": np.linspace(-1, 1, n_images).astype(np.float32)}
    settings = TrainSettings(epochs=1, batch_size=head.batch_size, optimizer="adam", lr=1e-3, weight_decay=0.0,
                             schedule="constant", crops_per_image=head.crops_per_image, target_level="patch",
                             precision="fp32", device="cpu", num_workers=num_workers, progress=False)  # fmt: skip
    state = {k: v.clone() for k, v in network.state_dict().items()}
    size = geometry.size
    x = torch.randn(per_step, 1, *size)
    y = {"quality": torch.linspace(-1, 1, per_step)}
    _bare(network, loss, x, y, 2)  # warm up oneDNN on these shapes
    network.load_state_dict(state)
    start = time.perf_counter()
    fit_network(network, loss, TrainData(paths, targets), None, settings=settings, pipeline=Pipeline(geometry, transform),
                val_view=dfi.views.parse_views("center", geometry))  # fmt: skip
    engine = steps * per_step / (time.perf_counter() - start)
    network.load_state_dict(state)
    floor = steps * per_step / _bare(network, loss, x, y, steps)
    return {"head": name, "patch": f"{size[0]}x{size[1]}", "patches_per_step": per_step, "steps": steps, "workers": num_workers,
            "engine_patches_s": round(engine, 1), "floor_patches_s": round(floor, 1), "ratio": round(engine / floor, 3),
            "load_1min": round(os.getloadavg()[0], 2)}  # fmt: skip


def _bare(network, loss, x: torch.Tensor, y: dict, steps: int) -> float:
    """Seconds for ``steps`` forward+backward+Adam steps on one pre-made patch batch: the floor."""
    network.train()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        value = loss(network, network(x), y)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return time.perf_counter() - start


def histories(folder: Path) -> list[list[float]]:
    """Per-epoch training loss of every fit checkpointed under ``folder`` (one list per split)."""
    runs = sorted(folder.glob("run-*/checkpoint.pt")) + sorted(folder.glob("*/run-*/checkpoint.pt"))
    return [[h["loss"] for h in torch.load(p, map_location="cpu", weights_only=True)["history"]] for p in runs]


def loss_fall(losses: list[list[float]]) -> str:
    """``first -> last`` epoch loss, averaged over the splits' fits."""
    if not losses:
        return ""
    return f"{np.mean([h[0] for h in losses]):.3f} -> {np.mean([h[-1] for h in losses]):.3f}"


def row(label: str, result: dfi.EvaluationResult, seconds: float) -> dict:
    agg = result.aggregate
    return {"model": label, "srocc": float(agg.loc["mean", "srocc"]), "srocc_sd": float(agg.loc["sd", "srocc"]),
            "plcc": float(agg.loc["mean", "plcc"]), "plcc_sd": float(agg.loc["sd", "plcc"]),
            "minutes": round(seconds / 60, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer photos, epochs and crops")
    parser.add_argument("--dataset", help="a registered database as the target (with --root) instead of the synthetic one")
    parser.add_argument("--root", type=Path, help="the target database's folder")
    parser.add_argument("--target-photos", type=int, default=40, help="pristine photos of the target pool")
    parser.add_argument("--pretrain-photos", type=int, default=0, help="photos of the pretraining pool (0: all the others)")
    parser.add_argument("--per-synthetic", type=int, default=8, help="distorted versions per pretraining photo")
    parser.add_argument("--per-authentic", type=int, default=4, help="authentic-like versions per target photo")
    parser.add_argument("--side", type=int, default=320, help="max side of the distorted photos (px)")
    parser.add_argument("--crop", type=int, default=128, help="crop side for EfficientNet-Lite0 (seed 002: 224)")
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--finetune-epochs", type=int, default=8)
    parser.add_argument("--test-crops", type=int, default=20, help="random crops averaged per test image (seed 002: 60)")
    parser.add_argument("--patch-epochs", type=int, default=3)
    parser.add_argument("--finetune-crops", type=int, default=2, help="fresh random crops per image per step (seed 002: 100 fixed)")
    parser.add_argument("--patch-crops", type=int, default=8, help="random patches per image per step (CNNIQA/DCNNS)")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); 1 on an oversubscribed machine")
    parser.add_argument("--models", nargs="+", default=list(ROWS), choices=ROWS, help="rows to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throughput-only", action="store_true", help="measure only the patch-CNN throughput")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="engine decoding workers to measure (0 = in-process)")
    parser.add_argument("--name", help="results file name (default: pretrain_ablation[_quick], patch_cnn_throughput)")
    parser.add_argument("--cache", type=Path, default=OUT / ".cache" / "pretrain_ablation")
    args = parser.parse_args()
    if args.quick:
        args.pretrain_photos, args.target_photos, args.side, args.crop = 4, 8, 96, 64
        args.per_synthetic, args.per_authentic, args.test_crops = 4, 3, 5
        args.pretrain_epochs, args.finetune_epochs, args.patch_epochs, args.splits = 1, 1, 1, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    pretrain_pool, target_pool = pools(args)
    per_synthetic, per_authentic = args.per_synthetic, args.per_authentic
    pretrain_set = dfi.synth.build(pretrain_pool, args.cache / f"syn-{len(pretrain_pool)}-{per_synthetic}-{args.side}-s{args.seed}",
                                   kind="synthetic", per_image=per_synthetic, max_side=args.side, seed=args.seed,
                                   n_jobs=2, progress=False)  # fmt: skip
    if args.dataset:
        target = dfi.datasets.load(args.dataset, root=args.root)
    else:
        target = dfi.synth.build(target_pool, args.cache / f"auth-{len(target_pool)}-{per_authentic}-{args.side}-s{args.seed}",
                                 kind="authentic", per_image=per_authentic, max_side=args.side, seed=args.seed,
                                 n_jobs=2, progress=False)  # fmt: skip
    timings["build_sets"] = round(time.perf_counter() - start, 1)
    splits = dfi.splits.repeated(target, n_splits=args.splits, test_size=0.25, seed=args.seed)
    n_train = len(splits[0].train)
    print(f"pretraining set {len(pretrain_set)} images of {len(pretrain_pool)} photos; target {len(target)} images "
          f"of {len(set(target.group_ids))} contents; {len(splits)} splits, {n_train} training images", flush=True)  # fmt: skip

    name = args.name or ("patch_cnn_throughput" if args.throughput_only else "pretrain_ablation_quick" if args.quick else "pretrain_ablation")
    OUT.mkdir(parents=True, exist_ok=True)
    checkpoints = args.cache / "checkpoints" / name
    shutil.rmtree(checkpoints, ignore_errors=True)  # every fit of this run trains from its start weights
    finetune = {"backbone": MODEL, "epochs": args.finetune_epochs, "batch_size": 8, "crops_per_image": args.finetune_crops, "lr": 1e-3,
                "trunk_lr": 1e-4, "crop": args.crop, "test_views": f"random{args.test_crops}", "precision": "fp32",
                "num_workers": 1}  # fmt: skip
    patch = {"epochs": args.patch_epochs, "batch_size": 4, "crops_per_image": args.patch_crops, "num_workers": 1, "val_fraction": 0.0}
    stage1 = {"epochs": args.pretrain_epochs, "batch_size": 16, "lr": 1e-3, "trunk_lr": 1e-4, "crop": args.crop,
              "resize": round(args.crop * 8 / 7), "precision": "fp32"}  # fmt: skip
    meta = {
        "command": "python benchmarks/pretrain_ablation.py" + "".join(f" {a}" for a in sys.argv[1:]),
        "target": args.dataset or "synthetic authentic-like (dfi.synth)", "pretrain_photos": [p.stem for p in pretrain_pool],
        "target_photos": [p.stem for p in target_pool] if not args.dataset else None,
        "n_pretrain_images": len(pretrain_set), "n_target_images": len(target), "per_image": [per_synthetic, per_authentic],
        "side": args.side, "crop": args.crop, "pretrain_epochs": args.pretrain_epochs, "finetune_epochs": args.finetune_epochs,
        "patch_epochs": args.patch_epochs, "splits": len(splits), "test_size": 0.25, "seed": args.seed, "n_train": n_train,
        "stage1_options": stage1, "finetune_options": finetune, "patch_options": patch,
        "stage1_steps": args.pretrain_epochs * (len(pretrain_set) // stage1["batch_size"]),
        "finetune_steps": args.finetune_epochs * (n_train // finetune["batch_size"]),
        "machine": f"{platform.processor() or platform.machine()}, shared 2-core machine (other engineers' jobs run beside it)",
        "threads": torch.get_num_threads(), "versions": {"deepfeat_iqa": dfi.__version__, "torch": torch.__version__},
        "load_1min_start": round(os.getloadavg()[0], 2), "seconds": timings,
    }  # fmt: skip
    rows: list[dict] = []
    speed: list[dict] = []

    def write(complete: bool) -> None:
        """Write what is measured so far (a run stopped early still leaves its rows), then the final tables."""
        meta["complete"] = complete
        meta["load_1min_now"] = round(os.getloadavg()[0], 2)
        (OUT / f"{name}.json").write_text(json.dumps({"meta": meta, "accuracy": rows, "throughput": speed}, indent=2, default=str))
        speed_table = [
            "| head | patch | patches/step | steps | engine workers | engine patches/s | floor patches/s | ratio | 1-min load |",
            "|---|---|---|---|---|---|---|---|---|",
            *[f"| {r['head']} | {r['patch']} | {r['patches_per_step']} | {r['steps']} | {r['workers']} | {r['engine_patches_s']} | "
              f"{r['floor_patches_s']} | {r['ratio']} | {r.get('load_1min', '')} |" for r in speed],
        ]  # fmt: skip
        if args.throughput_only:
            lines = [f"# Patch-CNN training throughput{'' if complete else ' (INCOMPLETE)'}", "", f"Command: `{meta['command']}`", "",
                     (f"Engine (DataLoader decoding {meta['target']} images of at most {args.side} px, random patches, "
                      "gray + LCN per patch, then the step) vs a bare forward+backward+Adam loop on one pre-made patch "
                      "tensor (same network, batch, optimizer), fp32, each row's two sides measured back to back. Shared "
                      "2-core CPU machine; the 1-min load average at each row is in the table."), "", *speed_table, ""]  # fmt: skip
            (OUT / f"{name}.md").write_text("\n".join(lines))
            return
        lines = [
            f"# Pretraining ablation ({'quick' if args.quick else 'default'} run{'' if complete else ', INCOMPLETE'})", "",
            f"Command: `{meta['command']}`", "",
            (f"Target: {meta['target']}, {len(target)} images of {len(set(target.group_ids))} contents; pretraining set: "
             f"{len(pretrain_set)} synthetic images ({per_synthetic} of the 39 type-level classes per photo) of "
             f"{len(pretrain_pool)} other photos; photos at most {args.side} px; EfficientNet-Lite0 crops {args.crop} px, fp32. "
             f"{len(splits)} content-separated splits (25% of contents held out, {n_train} training images), identical for "
             f"every row: {meta.get('same_splits')}. Stage 1: {args.pretrain_epochs} epochs, batch 16 "
             f"({meta['stage1_steps']} steps), one random {args.crop} crop per image after resizing the short side to "
             f"{stage1['resize']}, Adam (trunk 1e-4, FC branches 1e-3). Stage 2: {args.finetune_epochs} epochs, 8 images "
             f"x {args.finetune_crops} fresh random crops per step ({meta['finetune_steps']} steps), Adam (trunk 1e-4, new FC head 1e-3), "
             f"test = mean of {args.test_crops} random crops, last epoch kept (no validation). Patch CNNs: "
             f"{args.patch_epochs} epochs, 4 images x {args.patch_crops} random patches per step, Adam 1e-3. GPR: ImageNet `{MODEL}` "
             "`pool` features of the center crop. `loss` is the mean training loss of the first -> last epoch (stage 2 "
             "and patch CNNs: mean over the splits' fits; stage 1 under `stage1_loss`). Measured on a shared 2-core CPU "
             f"machine (1-min load {meta['load_1min_start']} at the start, {meta['load_1min_now']} at the last write); "
             "minutes include stage 1 for the pretrained rows."),
            "", pd.DataFrame(rows).set_index("model").to_markdown(floatfmt=".3f") if rows else "(no rows yet)", "",
            *[f"Paired test, {k}: {v}" for k, v in meta.get("paired", {}).items()], "",
            "Patch-CNN throughput: `--throughput-only` (benchmarks/results/patch_cnn_throughput.md).", "",
            "Time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()), "",
        ]  # fmt: skip
        (OUT / f"{name}.md").write_text("\n".join(lines))

    # Throughput is its own run (--throughput-only): its ratio needs a quiet machine, the ablation does not.
    if args.throughput_only:
        for head, steps in (("cnniqa", 40 if args.quick else 150), ("dcnns", 4 if args.quick else 12)):
            for n_workers in args.workers:
                speed.append(throughput(head, target, steps, {}, n_workers))
                print(f"{head} ({n_workers} workers): engine {speed[-1]['engine_patches_s']} patches/s, floor "
                      f"{speed[-1]['floor_patches_s']}, ratio {speed[-1]['ratio']} (load {speed[-1]['load_1min']})", flush=True)  # fmt: skip
                write(False)
        write(True)
        return

    results: dict[str, dfi.EvaluationResult] = {}
    common = {"splits": splits, "progress": False}

    def record(label: str, result: dfi.EvaluationResult, seconds: float, folder: Path | None = None, **extra) -> None:
        results[label] = result
        loss = {"loss": loss_fall(histories(folder))} if folder is not None else {}
        rows.append({**row(label, result, seconds), **loss, **extra})
        print(f"{label:32s} SROCC {rows[-1]['srocc']:.3f} ± {rows[-1]['srocc_sd']:.3f}  ({rows[-1]['minutes']:.1f} min) "
              f"{loss.get('loss', '')}", flush=True)  # fmt: skip
        write(False)

    def fine_tune(label: str, weights, seconds_before: float, **extra) -> None:
        folder = checkpoints / label.split()[2].lower()
        t0 = time.perf_counter()
        result = dfi.evaluate(target, head="quality-aware", weights=weights, checkpoint_dir=str(folder), **common, **finetune)
        record(label, result, seconds_before + time.perf_counter() - t0, folder, **extra)

    if "gpr" in args.models:
        t0 = time.perf_counter()
        feats = dfi.extract(target, backbone=MODEL, weights="imagenet", layers="pool", views="center", progress=False)
        record("GPR on frozen ImageNet features", dfi.evaluate(feats, head="gpr", **common), time.perf_counter() - t0)
    if "imagenet" in args.models:
        fine_tune("FT from ImageNet", "imagenet", 0.0, start_weights="imagenet")
    for variant in ("cls", "reg", "multi"):
        if variant not in args.models:
            continue
        t0 = time.perf_counter()
        weights = dfi.pretrain.pretrain(pretrain_set, variant, backbone=MODEL, weights="imagenet", **stage1, exclude=target,
                                        seed=args.seed, num_workers=1, progress=False)  # fmt: skip
        timings[f"pretrain_{variant}"] = round(time.perf_counter() - t0, 1)
        losses = [h["loss"] for h in weights.record["history"]]
        head = make_head("quality-aware", weights=weights, **finetune)
        head.build_network(SideTasks(targets={}), pretrained=True)
        if head.trunk_weights_ != weights.fingerprint:  # stage 2 must start from exactly the stage-1 tensors
            raise SystemExit(f"stage 2 started from {head.trunk_weights_}, not the stage-1 weights {weights.fingerprint}")
        fine_tune(f"FT from {variant.upper()} pretraining", weights, timings[f"pretrain_{variant}"],
                  start_weights=weights.fingerprint[:19], stage1_loss=f"{losses[0]:.3f} -> {losses[-1]:.3f}")  # fmt: skip
    for label, head_name, key in (("CNNIQA (from scratch)", "cnniqa", "cnniqa"), ("DCNNS (from scratch)", "dcnns", "dcnns")):
        if key not in args.models:
            continue
        t0 = time.perf_counter()
        folder = checkpoints / key
        result = dfi.evaluate(target, head=head_name, checkpoint_dir=str(folder), **common, **patch)
        record(label, result, time.perf_counter() - t0, folder)

    meta["same_splits"] = len({r.signatures for r in results.values()}) == 1
    meta["paired"] = {}
    ft = [label for label in results if label.startswith("FT from")]
    for a, b in zip(ft[1:][::-1], ft[:-1][::-1]):  # Multi vs REG, REG vs CLS, CLS vs ImageNet: the claimed order
        meta["paired"][f"{a} vs {b}"] = str(dfi.compare(results[a], results[b]))
    if "FT from MULTI pretraining" in results and "FT from ImageNet" in results:
        meta["paired"]["FT from MULTI pretraining vs FT from ImageNet"] = str(dfi.compare(results["FT from MULTI pretraining"], results["FT from ImageNet"]))
    write(True)
    print((OUT / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
