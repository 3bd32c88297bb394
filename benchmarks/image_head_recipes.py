"""Which fine-tuning recipe makes SPAQ-BL competitive with GPR on frozen multi-layer features?

A plain fine-tune (pooled output, one frozen epoch, trunk lr 1e-4) scored below GPR on frozen
multi-layer features of the same network on real ratings. This script compares recipes of the
``spaq-bl`` image head on identical content-separated splits, next to that GPR baseline:

- ``plain``: the paper's BL on the pooled output (the head's defaults);
- ``multi``: four trunk layers pooled, each layer-normalized, concatenated (the GPR's input, learned);
- ``multi-lpft``: ``multi``, plus a linear-probe phase (the trunk frozen for the first third of the
  epochs, so the new head is fitted before its gradients reach the trunk) and a 3x lower trunk lr;
- ``multi-lpft-2crops``: ``multi-lpft`` with two random crops per image per step, averaged per image;
- ``...-ens3`` (with ``--ensemble``): three members of a recipe with seeds 0-2, predictions averaged.

The set is a **development** set (CBSD68 references that the end_to_end.py accuracy table does not
use), so a recipe chosen here is then tested on other content. EfficientNet-Lite0 ImageNet weights.

    python benchmarks/image_head_recipes.py                       # 24 references x 6 distortions, 3 splits
    python benchmarks/image_head_recipes.py --recipes plain,multi --splits 5 --epochs 15
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from deepfeat_iqa.runtime.machine import describe as describe_machine, one_line as one_line_machine
import deepfeat_iqa as dfi
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.evaluation.metrics import summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import GPR_LAYERS, OUT, PRISTINE, summarize  # noqa: E402

RECIPES = {
    "plain": {},
    "multi": {"layers": tuple(GPR_LAYERS)},
    "multi-lpft": {"layers": tuple(GPR_LAYERS), "lpft": True, "trunk_lr": 3e-5},
    "multi-lpft-2crops": {"layers": tuple(GPR_LAYERS), "lpft": True, "trunk_lr": 3e-5, "crops_per_image": 2},
}


def options(recipe: str, epochs: int, ensemble: int) -> dict:
    """``make_head`` keywords of a recipe name (``-ens3`` suffix: an ensemble of three)."""
    base, _, members = recipe.partition("-ens")
    extra = dict(RECIPES[base])
    if extra.pop("lpft", False):
        extra["freeze_trunk_epochs"] = max(1, epochs // 3)
    return {"epochs": epochs, "batch_size": 8, "accumulate": 2, "crop": 224, "progress": False,
            "ensemble": int(members) if members else ensemble, **extra}  # fmt: skip


def development_set(refs: int, per_image: int):
    """``refs`` CBSD68 references from the end of the list (end_to_end.py's table uses the first ones)."""
    photos = sorted((PRISTINE / "cbsd68").glob("*.png"))[-refs:]
    out = OUT / ".cache" / f"recipes-dev-{refs}refs-{per_image}"
    return dfi.synth.build(photos, out, per_image=per_image, max_side=384, seed=1, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refs", type=int, default=24)
    parser.add_argument("--per-image", type=int, default=6)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--recipes", default="plain,multi,multi-lpft")
    parser.add_argument("--ensemble", type=int, default=1, help="members per recipe (1: single networks)")
    parser.add_argument("--from-partial", action="store_true",
                        help="write the table from image_head_recipes_partial.json (the splits a stopped run finished)")
    args = parser.parse_args()
    torch.manual_seed(0)
    ds = development_set(args.refs, args.per_image)
    partial = OUT / "image_head_recipes_partial.json"
    if args.from_partial:
        saved = json.loads(partial.read_text())
        return write(summarize(saved["rows"], saved["minutes"]), ds, args, note="partial: a stopped run; 'splits' says how many each finished")
    splits = dfi.splits.repeated(ds, n_splits=args.splits, test_size=0.2, seed=0)
    rows: dict[str, list[dict]] = {}
    minutes: dict[str, float] = {}
    start = time.perf_counter()
    frozen = dfi.extract(ds, backbone="efficientnet_lite0", layers=GPR_LAYERS, views="grid", store=None, progress=False)
    gpr = dfi.evaluate(frozen, head="gpr", layers=GPR_LAYERS, splits=splits, progress=False)
    rows["GPR, frozen features (4 layers)"] = gpr.per_split.to_dict("records")
    minutes["GPR, frozen features (4 layers)"] = (time.perf_counter() - start) / 60
    print("GPR frozen", gpr.summary(), flush=True)
    for recipe in args.recipes.split(","):
        label = f"SPAQ-BL {recipe}"
        rows[label], minutes[label] = [], 0.0
        for split in splits:
            t0 = time.perf_counter()
            head = make_head("spaq-bl", **options(recipe, args.epochs, args.ensemble)).fit(ds.subset(split.train))
            test = ds.subset(split.test)
            rows[label].append(summary(test.mos, head.predict(test)))
            minutes[label] += (time.perf_counter() - t0) / 60
            print(label, round(rows[label][-1]["srocc"], 4), f"{minutes[label]:.1f} min", flush=True)
            partial.write_text(json.dumps({"rows": rows, "minutes": minutes}, indent=1, default=float))
    write(summarize(rows, minutes), ds, args)


def write(table: list[dict], ds, args: argparse.Namespace, note: str | None = None) -> None:
    """``image_head_recipes.{json,md}``: the table and exactly what made it."""
    meta = {"cpu": describe_machine(), "machine": f"{one_line_machine()}, 1-min load average "
                       f"{os.getloadavg()[0]:.1f} at the end (other jobs change minutes, not SROCC)",
            "dataset": ds.name, "n_images": len(ds), "n_groups": len(set(ds.group_ids)), "splits": args.splits,
            "epochs": args.epochs, "recipes": {r: options(r, args.epochs, args.ensemble) for r in args.recipes.split(",")},
            "common": "EfficientNet-Lite0 ImageNet, AdamW head lr 1e-3 (trunk lr 1e-4 unless set), one-cycle, batch 8 x 2 "
                      "accumulated, random 224 crops, L1, test: 224 grid at stride 112 averaged, validation: 20% of the "
                      "training content groups, best epoch by SROCC", "note": note}  # fmt: skip
    result = {"meta": meta, "table": table}
    (OUT / "image_head_recipes.json").write_text(json.dumps(result, indent=2, default=str))
    lines = ["# SPAQ-BL fine-tuning recipes vs GPR on frozen features (development set)", "", "```",
             json.dumps(meta, indent=1, default=str), "```", "", "| method | splits | SROCC | PLCC | minutes |", "|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['splits']} | {r['srocc_mean']:.3f} ± {r['srocc_sd']:.3f} | "
              f"{r['plcc_mean']:.3f} ± {r['plcc_sd']:.3f} | {r['minutes']} |" for r in table]  # fmt: skip
    (OUT / "image_head_recipes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
