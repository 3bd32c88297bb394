"""Does content-separated inner model selection change the chosen hyper-parameters and the test SROCC?

Same data as ``synthetic_benchmark.py`` (the shared pristine photos, seed 002's synthetic distortions,
pseudo-MOS, EfficientNet-Lite0 ImageNet features, bf16). The outer splits are content-separated 80/20
repeats; inside each split every head is fitted twice on the same training rows: once with the
training rows' content groups (what ``dfi.fit``/``dfi.evaluate`` do now) and once without them (row
K-fold / random validation rows, what the heads did before issue 12). Both fits are tested on the
same held-out references, so the difference is the inner selection alone.

Writes ``benchmarks/results/inner_groups[_quick].{json,md}``.

    python benchmarks/inner_groups_benchmark.py            # 92 photos x 13 distortions
    python benchmarks/inner_groups_benchmark.py --quick    # 24 photos x 8 distortions
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import deepfeat_iqa as dfi
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.evaluation.metrics import srocc
from deepfeat_iqa.datasets.splits import repeated

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data/pristine beside the checkout (a worktree may sit one level deeper).
PRISTINE = next((p / "shared" / "data" / "pristine" for p in ROOT.parents if (p / "shared" / "data" / "pristine").is_dir()),
                ROOT.parent / "shared" / "data" / "pristine")
MODEL = "efficientnet_lite0"
LAYER = "blocks.2"  # the best single layer of synthetic_benchmark.md

#: Each head with the inner selection it runs, and the fitted attributes that record the choice.
HEADS = {
    "svr": ({}, ("C_",)),
    "rbf-svr": ({}, ("C_", "gamma_")),
    "mlp": ({"hidden": (128,), "max_epochs": 150, "patience": 15, "device": "cpu"}, ("best_epoch_",)),
    "gpr": ({"tune_trials": 4, "tune_cv": 3, "tune_sampler": "tpe", "device": "cpu"}, ("noise_floor_", "n_components_", "standardize_")),
}


def references(n: int) -> list[Path]:
    folders = [PRISTINE / "kodak24", PRISTINE / "cbsd68"]
    if not all(f.is_dir() for f in folders):
        raise SystemExit(f"Pristine photos not found under {PRISTINE}; this benchmark needs ../shared/data/pristine.")
    paths = [p for f in folders for p in sorted(f.glob("*.png"))]
    return paths[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="24 photos x 8 distortions")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "results" / ".cache")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--heads", nargs="+", default=list(HEADS))
    parser.add_argument("--gpr-splits", type=int, default=1, help="outer splits for GPR (its tuning is the slow part)")
    args = parser.parse_args()

    n_refs, per_image = (24, 8) if args.quick else (92, 13)
    start = time.perf_counter()
    ds = dfi.synth.build(references(n_refs), args.cache / f"synthetic-{n_refs}refs-{per_image}", kind="synthetic",
                         per_image=per_image, max_side=384, seed=0, n_jobs=-1, progress=False)  # fmt: skip
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    lf = dfi.extract(ds, backbone=MODEL, layers=LAYER, precision="bf16", store=args.cache / "features.zarr", progress=False)[LAYER]
    extract_s = time.perf_counter() - start
    X, y, groups = lf.X, lf.dataset.mos, np.asarray(lf.dataset.groups)

    splits = repeated(lf.dataset, n_splits=args.repeats, test_size=0.2, seed=0)
    rows: list[dict] = []
    for head in args.heads:
        options, chosen = HEADS[head]
        # GPR tuning refits 3 folds per trial: on a shared 2-core machine it gets fewer outer splits.
        for split_index, split in enumerate(splits[: args.gpr_splits] if head == "gpr" else splits):
            train, test = np.asarray(split.train), np.asarray(split.test)
            for inner in ("group", "row"):
                t0 = time.perf_counter()
                estimator = make_head(head, **options)
                estimator.fit(X[train], y[train], groups=groups[train] if inner == "group" else None)
                pred = estimator.predict(X[test])
                rows.append({
                    "head": head, "split": split_index, "inner": inner,
                    "test_srocc": srocc(y[test], pred),
                    "chosen": {name: _plain(getattr(estimator, name)) for name in chosen},
                    "inner_estimate": _inner_estimate(estimator),
                    "seconds": round(time.perf_counter() - t0, 2),
                })  # fmt: skip
                print(f"split {split_index} {head:8s} {inner:5s} SROCC {rows[-1]['test_srocc']:.4f} {rows[-1]['chosen']}", flush=True)
        _write(rows, args, n_refs, per_image, len(lf), {"build": round(build_s, 1), "extract": round(extract_s, 1)})


def _write(rows: list[dict], args: argparse.Namespace, n_refs: int, per_image: int, n_images: int, seconds: dict) -> None:
    """Write the JSON and Markdown of the rows so far (after each head, so a long run leaves results)."""
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=["head", "split"], columns="inner", values="test_srocc")
    wide["delta (group - row)"] = wide["group"] - wide["row"]
    chosen = table.assign(chosen=table["chosen"].map(lambda c: ", ".join(f"{k}={v}" for k, v in c.items())))
    chosen = chosen.pivot(index=["head", "split"], columns="inner", values="chosen")
    changed = (chosen["group"] != chosen["row"]).groupby("head").sum()
    per_head = wide.groupby("head").mean()
    per_head["splits"] = wide.groupby("head").size()
    per_head["splits where the choice changed"] = changed
    name = "inner_groups_quick" if args.quick else "inner_groups"
    out = ROOT / "benchmarks" / "results"
    meta = {
        "references": n_refs, "per_image": per_image, "n_images": n_images, "repeats": args.repeats,
        "gpr_splits": args.gpr_splits, "model": MODEL, "layer": LAYER, "precision": "bf16", "weights": "imagenet",
        "heads": {h: HEADS[h][0] for h in args.heads}, "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "seconds": seconds,
        "note": "measured on a shared 2-core machine; the SROCC numbers do not depend on load",
    }  # fmt: skip
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str))
    lines = [
        f"# Inner model selection by content group vs by row ({'quick' if args.quick else 'full'})", "",
        f"{n_refs} pristine photos x {per_image} synthetic distortions = {n_images} images, pseudo-MOS; `{MODEL}` "
        f"ImageNet `{LAYER}` (bf16); {args.repeats} content-separated 80/20 outer splits ({args.gpr_splits} for GPR, "
        "whose tuning refits 3 folds per trial). In each split each head is fitted on the same training rows with "
        "group-aware inner selection (`group`, now the default through dfi.fit/evaluate) and with row-wise inner "
        "folds (`row`, before issue 12), and tested on the same held-out references. Head settings: "
        f"{meta['heads']}. Measured on a shared 2-core machine (times are not comparable; SROCC is).", "",
        "## Test SROCC, mean over splits", "", per_head.to_markdown(floatfmt=".4f"), "",
        "## Per split: test SROCC", "", wide.to_markdown(floatfmt=".4f"), "",
        "## Per split: chosen hyper-parameters", "", chosen.to_markdown(), "",
    ]
    (out / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines), flush=True)


def _inner_estimate(estimator: object) -> float | None:
    """The SROCC the head's own search expected of its choice (SVR grid, GPR study), if it has one."""
    if getattr(estimator, "cv_results_", None):
        return float(max(estimator.cv_results_.values()))
    study = getattr(estimator, "study_", None)
    return float(study.best_value) if study is not None else None


def _plain(value: object) -> object:
    if isinstance(value, (np.floating, float)):
        return float(f"{float(value):.4g}")
    if isinstance(value, np.integer):
        return int(value)
    return value


if __name__ == "__main__":
    main()
