"""Ensembles of sweep cells on the shared synthetic benchmark: EfficientNet-Lite0/1/2 GPRs vs the best single one.

Builds (or reuses) the synthetic benchmark set of ``synthetic_benchmark.py`` (the 92 shared pristine
photos x 13 seed-002 distortions, pseudo-MOS), sweeps EfficientNet-Lite0/1/2 (real ImageNet weights,
offline) over two layers with GPR on content-separated 80/20 splits, takes each backbone's best layer,
and evaluates the mean of their z-scored predictions (``dfi.ensemble``) on the same splits against the
best single cell, with the one-sided paired t-test matrix. Writes ``benchmarks/results/ensemble_benchmark[_quick].{json,md}``.

    python benchmarks/ensemble_benchmark.py            # full: 92 photos
    python benchmarks/ensemble_benchmark.py --quick    # 12 photos, 6 distortions each
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import deepfeat_iqa as dfi

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
LAYERS = ("blocks.2", "blocks.4")  # the two best EfficientNet-Lite0 layers of synthetic_benchmark.md


def main() -> None:
    import synthetic_benchmark
    from synthetic_benchmark import references

    from deepfeat_iqa.studies._experiments import shared_pristine

    synthetic_benchmark.PRISTINE = shared_pristine() or synthetic_benchmark.PRISTINE  # worktrees sit one level deeper

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "results" / ".cache")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    refs = references(args.quick)
    per_image = 6 if args.quick else 13
    start = time.perf_counter()
    ds = dfi.synth.build(refs, args.cache / f"synthetic-{len(refs)}refs-{per_image}", kind="synthetic", per_image=per_image,
                         max_side=384, seed=0, n_jobs=-1, progress=False)  # fmt: skip
    seconds = {"build": time.perf_counter() - start}
    start = time.perf_counter()
    suffix = "_quick" if args.quick else ""
    study = dfi.sweep(ds, backbones=list(MODELS), layers=list(LAYERS), heads=["gpr"], n_splits=args.repeats, seed=0,
                      store=args.cache / "features.zarr", results=args.cache / f"ensemble{suffix}.db", progress=False)  # fmt: skip
    seconds["sweep"] = time.perf_counter() - start
    table = study.table()
    best = study.best(k=1)
    members = {f"{row.backbone}/{row.layer}": study.result(row.cell_id) for row in best.itertuples()}
    joined = dfi.ensemble(members, name="lite0+1+2 ensemble")
    best_single = max(members, key=lambda k: members[k].aggregate.loc["mean", "srocc"])
    matrix = dfi.significance({"ensemble": joined, **members})
    comparison = dfi.compare(joined, members[best_single])
    gain = float(joined.aggregate.loc["mean", "srocc"] - members[best_single].aggregate.loc["mean", "srocc"])
    document = {
        "meta": {"references": len(refs), "per_image": per_image, "n_images": len(ds), "repeats": args.repeats,
                 "models": MODELS, "layers": LAYERS, "head": "gpr", "seconds": seconds,
                 "machine": "shared 2-core machine (other engineers' jobs running; absolute seconds are noisy)"},
        "cells": table.drop(columns=["cell_id"]).to_dict("records"),
        "members": list(members), "best_single": best_single,
        "ensemble": {m: float(joined.aggregate.loc["mean", m]) for m in ("srocc", "plcc", "krocc", "rmse")},
        "ensemble_srocc_sd": float(joined.aggregate.loc["sd", "srocc"]),
        "srocc_gain_over_best_single": gain,
        "paired_test_vs_best_single": {"verdict": comparison.verdict, "p_value": comparison.p_value},
        "significance": json.loads(matrix.to_json()),
    }  # fmt: skip
    out = ROOT / "benchmarks" / "results"
    (out / f"ensemble_benchmark{suffix}.json").write_text(json.dumps(document, indent=2, default=str))
    lines = [
        f"# Ensemble benchmark{' (quick)' if args.quick else ''}",
        "",
        f"{len(ds)} synthetic images ({len(refs)} shared pristine photos x {per_image} seed-002 distortions, pseudo-MOS), "
        f"content-separated 80/20 splits x {args.repeats}; GPR on EfficientNet-Lite0/1/2 features (real ImageNet weights). "
        "Measured on a shared 2-core machine.",
        "",
        "## Sweep (all cells)",
        "",
        study.to_markdown(),
        f"## Ensemble of each backbone's best layer vs the best single cell ({best_single})",
        "",
        f"Ensemble (mean of per-split z-scored predictions of {', '.join(members)}): SROCC "
        f"{document['ensemble']['srocc']:.4f} ± {document['ensemble_srocc_sd']:.4f}; gain over the best single cell "
        f"{gain:+.4f} SROCC; one-sided paired t-test verdict {comparison.verdict:+d} (p = {comparison.p_value:.3g}).",
        "",
        matrix.to_markdown(),
        f"Time: build {seconds['build']:.0f} s, sweep {seconds['sweep']:.0f} s.",
        "",
    ]
    (out / f"ensemble_benchmark{suffix}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
