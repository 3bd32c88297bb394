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

    python benchmarks/pretrain_ablation.py                 # default: ~20 min on 2 shared cores
    python benchmarks/pretrain_ablation.py --quick         # smoke run (~3 min)
    python benchmarks/pretrain_ablation.py --dataset livec --root /data/ChallengeDB_release   # real target DB

Writes ``benchmarks/results/pretrain_ablation[_quick].{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.heads._mlp_tasks import SideTasks
from deepfeat_iqa.training import Pipeline, TrainData, TrainSettings, fit_network

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
MODEL = "efficientnet_lite0"


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
    pretrain_pool = [photos[i] for i in order[: args.pretrain_photos]]
    target_pool = [photos[i] for i in order[args.pretrain_photos : args.pretrain_photos + args.target_photos]]
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
            "engine_patches_s": round(engine, 1), "floor_patches_s": round(floor, 1), "ratio": round(engine / floor, 3)}  # fmt: skip


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
    parser.add_argument("--pretrain-photos", type=int, default=8)
    parser.add_argument("--target-photos", type=int, default=10)
    parser.add_argument("--side", type=int, default=128, help="max side of the distorted photos (px)")
    parser.add_argument("--crop", type=int, default=96, help="crop side for EfficientNet-Lite0 (seed 002: 224)")
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--patch-epochs", type=int, default=3)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throughput-only", action="store_true", help="measure only the patch-CNN throughput")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="engine decoding workers to measure (0 = in-process)")
    parser.add_argument("--cache", type=Path, default=OUT / ".cache" / "pretrain_ablation")
    args = parser.parse_args()
    if args.quick:
        args.pretrain_photos, args.target_photos, args.side, args.crop = 4, 8, 96, 64
        args.pretrain_epochs, args.finetune_epochs, args.patch_epochs, args.splits = 1, 1, 1, 2
    torch.manual_seed(args.seed)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    pretrain_pool, target_pool = pools(args)
    per_synthetic, per_authentic = (4, 3) if args.quick else (6, 4)
    pretrain_set = dfi.synth.build(pretrain_pool, args.cache / f"syn-{len(pretrain_pool)}-{per_synthetic}-{args.side}",
                                   kind="synthetic", per_image=per_synthetic, max_side=args.side, seed=args.seed,
                                   n_jobs=2, progress=False)  # fmt: skip
    if args.dataset:
        target = dfi.datasets.load(args.dataset, root=args.root)
    else:
        target = dfi.synth.build(target_pool, args.cache / f"auth-{len(target_pool)}-{per_authentic}-{args.side}",
                                 kind="authentic", per_image=per_authentic, max_side=args.side, seed=args.seed,
                                 n_jobs=2, progress=False)  # fmt: skip
    timings["build_sets"] = round(time.perf_counter() - start, 1)
    splits = dfi.splits.repeated(target, n=args.splits, test_size=0.25, seed=args.seed)
    print(f"pretraining set {len(pretrain_set)} images of {len(pretrain_pool)} photos; target {len(target)} images "
          f"of {len(set(target.group_ids))} contents; {len(splits)} splits", flush=True)  # fmt: skip

    name = "pretrain_ablation_quick" if args.quick else "pretrain_ablation"
    if args.throughput_only:
        name = "patch_cnn_throughput"
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "target": args.dataset or "synthetic authentic-like (dfi.synth)", "pretrain_photos": [p.stem for p in pretrain_pool],
        "target_photos": [p.stem for p in target_pool] if not args.dataset else None,
        "n_pretrain_images": len(pretrain_set), "n_target_images": len(target), "per_image": [per_synthetic, per_authentic],
        "side": args.side, "crop": args.crop, "pretrain_epochs": args.pretrain_epochs, "finetune_epochs": args.finetune_epochs,
        "patch_epochs": args.patch_epochs, "splits": len(splits), "test_size": 0.25, "seed": args.seed,
        "machine": f"{platform.processor() or platform.machine()}, shared 2-core machine under other jobs' load",
        "threads": torch.get_num_threads(), "versions": {"deepfeat_iqa": dfi.__version__, "torch": torch.__version__},
        "seconds": timings,
    }  # fmt: skip
    rows: list[dict] = []
    speed: list[dict] = []

    def write(complete: bool) -> None:
        """Write what is measured so far (a run stopped early still leaves its rows), then the final tables."""
        meta["complete"] = complete
        (OUT / f"{name}.json").write_text(json.dumps({"meta": meta, "accuracy": rows, "throughput": speed}, indent=2, default=str))
        lines = [
            f"# Pretraining ablation ({'quick' if args.quick else 'default'} run{'' if complete else ', INCOMPLETE'})", "",
(f"Target: {meta['target']}, {len(target)} images of {len(set(target.group_ids))} contents; pretraining set: "
            f"{len(pretrain_set)} synthetic images ({per_synthetic} of the 39 type-level classes per photo) of "
            f"{len(pretrain_pool)} other photos; photos at most {args.side} px; EfficientNet-Lite0 crops {args.crop} px. "
            f"{len(splits)} content-separated splits (25% of contents held out), identical for every row: "
            f"{meta.get('same_splits')}. Stage 1: {args.pretrain_epochs} epochs, batch 16, Adam (trunk 1e-4, FC branches "
            f"1e-3). Stage 2: {args.finetune_epochs} epochs, 8 images x 4 random crops per step, Adam 1e-4, test = mean of "
            f"10 random crops. Patch CNNs: {args.patch_epochs} epochs, 4 images x 16 random patches per step, Adam 1e-3. "
            f"GPR: ImageNet `{MODEL}` `pool` features of the center crop. Measured on a shared 2-core CPU machine under "
            "other jobs' load; minutes include stage 1 for the pretrained rows."),
            "", pd.DataFrame(rows).set_index("model").to_markdown(floatfmt=".3f") if rows else "(no rows yet)", "",
            f"Paired test, Multi vs ImageNet fine-tuning: {meta.get('multi_vs_imagenet', 'not run')}", "",
            "## Patch-CNN training throughput (engine vs bare loop on pre-made patch tensors, fp32, same run)", "",
            "| head | patch | patches/step | steps | engine workers | engine patches/s | floor patches/s | ratio |",
            "|---|---|---|---|---|---|---|---|",
            *[f"| {r['head']} | {r['patch']} | {r['patches_per_step']} | {r['steps']} | {r['workers']} | {r['engine_patches_s']} | "
              f"{r['floor_patches_s']} | {r['ratio']} |" for r in speed],
            "", "Time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()), "",
        ]  # fmt: skip
        (OUT / f"{name}.md").write_text("\n".join(lines))

    # Throughput first: it is short, and its ratio is the goal (>= 0.85x the bare loop).
    for head, steps in (("cnniqa", 40 if args.quick else 150), ("dcnns", 4 if args.quick else 12)):
        for n_workers in args.workers:
            speed.append(throughput(head, target, steps, {}, n_workers))
            print(f"{head} ({n_workers} workers): engine {speed[-1]['engine_patches_s']} patches/s, floor "
                  f"{speed[-1]['floor_patches_s']}, ratio {speed[-1]['ratio']}", flush=True)  # fmt: skip
            write(False)
    if args.throughput_only:
        return

    results: dict[str, dfi.EvaluationResult] = {}
    common = {"splits": splits, "progress": False}

    def record(label: str, result: dfi.EvaluationResult, seconds: float, **extra) -> None:
        results[label] = result
        rows.append({**row(label, result, seconds), **extra})
        print(f"{label:32s} SROCC {rows[-1]['srocc']:.3f} ± {rows[-1]['srocc_sd']:.3f}  ({rows[-1]['minutes']:.1f} min)", flush=True)
        write(False)

    t0 = time.perf_counter()
    feats = dfi.extract(target, model=MODEL, weights="imagenet", layer="pool", crops="center", progress=False)
    record("GPR on frozen ImageNet features", dfi.evaluate(feats, head="gpr", **common), time.perf_counter() - t0)
    patch = {"epochs": args.patch_epochs, "batch_size": 4, "crops_per_image": 16, "num_workers": 1, "val_fraction": 0.0}
    meta["patch_options"] = patch
    for label, head in (("CNNIQA (from scratch)", "cnniqa"), ("DCNNS (from scratch)", "dcnns")):
        t0 = time.perf_counter()
        record(label, dfi.evaluate(target, head=head, **common, **patch), time.perf_counter() - t0)

    finetune = {"backbone": MODEL, "epochs": args.finetune_epochs, "batch_size": 8, "crops_per_image": 4,
                "lr": 1e-4, "trunk_lr": 1e-4, "crop": args.crop, "test_views": "random10", "num_workers": 1}  # fmt: skip
    meta["finetune_options"] = finetune
    t0 = time.perf_counter()
    record("FT from ImageNet", dfi.evaluate(target, head="quality-aware", weights="imagenet", **common, **finetune),
           time.perf_counter() - t0, start_weights="imagenet")  # fmt: skip
    for variant in ("cls", "reg", "multi"):
        t0 = time.perf_counter()
        weights = dfi.pretrain.pretrain(
            pretrain_set, variant, model=MODEL, weights="imagenet", epochs=args.pretrain_epochs, batch_size=16,
            lr=1e-3, trunk_lr=1e-4, crop=args.crop, resize=args.crop + args.crop // 8, precision="fp32",
            exclude=target, seed=args.seed, num_workers=1, progress=False,
        )  # fmt: skip
        timings[f"pretrain_{variant}"] = round(time.perf_counter() - t0, 1)
        result = dfi.evaluate(target, head="quality-aware", weights=weights, **common, **finetune)
        record(f"FT from {variant.upper()} pretraining", result, time.perf_counter() - t0,
               start_weights=weights.fingerprint[:19], stage1_final_loss=round(weights.record["history"][-1]["loss"], 4))  # fmt: skip

    meta["same_splits"] = len({r.signatures for r in results.values()}) == 1
    meta["multi_vs_imagenet"] = str(dfi.compare(results["FT from MULTI pretraining"], results["FT from ImageNet"]))
    write(True)
    print((OUT / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
