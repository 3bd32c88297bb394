"""Offline benchmark on the shared pristine photos: the demo's protocol at a larger scale.

Distorts the 92 pristine photos of ``../shared/data/pristine`` (Kodak24 + CBSD68) with seed 002's
synthetic distortions and its authentic-like mixtures, labels them with pseudo-MOS, extracts
EfficientNet-Lite0 features with real ImageNet weights and with random weights (the control), and
evaluates LinearSVR and GPR per layer (and on all layers concatenated) over content-separated
repeated 80/20 splits. Also compares fp32 and bf16 features (the precision default's question).
Writes ``benchmarks/results/synthetic_benchmark[_quick].{json,md}``.

    python benchmarks/synthetic_benchmark.py            # full: 92 photos
    python benchmarks/synthetic_benchmark.py --quick    # 12 photos, fewer distortions
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch

import deepfeat_iqa as dfi

ROOT = Path(__file__).resolve().parents[1]
PRISTINE = ROOT.parent / "shared" / "data" / "pristine"
LAYERS = ("blocks.2", "blocks.4", "blocks.6", "pool")
MODEL = "efficientnet_lite0"


def references(quick: bool) -> list[Path]:
    folders = [PRISTINE / "kodak24", PRISTINE / "cbsd68"]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"Pristine photos not found: {missing}. This benchmark needs ../shared/data/pristine.")
    per_folder = [sorted(f.glob("*.png")) for f in folders]
    return [p for paths in per_folder for p in (paths[:6] if quick else paths)]


def evaluate_rows(feats: dfi.FeatureSet, *, kind: str, weights: str, precision: str, heads: list[str], repeats: int) -> list[dict]:
    rows = []
    candidates = {layer: feats[layer] for layer in LAYERS} | {"all": feats.concat(list(LAYERS))}
    for head in heads:
        for layer, lf in candidates.items():
            start = time.perf_counter()
            result = dfi.evaluate(lf, head=head, n_splits=repeats, seed=0, progress=False)
            agg = result.aggregate
            rows.append(
                {
                    "kind": kind, "weights": weights, "precision": precision, "head": head, "layer": layer,
                    "dim": lf.dim, "n_images": len(lf),
                    **{m: float(agg.loc["mean", m]) for m in ("srocc", "plcc", "krocc", "rmse")},
                    "srocc_sd": float(agg.loc["sd", "srocc"]),
                    "seconds": round(time.perf_counter() - start, 2),
                }
            )
            print(f"{kind:9s} {weights:8s} {precision} {head:4s} {layer:9s} SROCC {rows[-1]['srocc']:.3f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="12 photos, fewer distortions per photo")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "results" / ".cache", help="images + feature store")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--heads", nargs="+", default=["svr", "gpr"])
    args = parser.parse_args()

    refs = references(args.quick)
    per_image = {"synthetic": 6 if args.quick else 13, "authentic": 3 if args.quick else 6}
    timings: dict[str, float] = {}
    rows: list[dict] = []
    store = args.cache / "features.zarr"
    for kind in ("synthetic", "authentic"):
        start = time.perf_counter()
        ds = dfi.synth.build(refs, args.cache / f"{kind}-{len(refs)}refs-{per_image[kind]}", kind=kind,
                             per_image=per_image[kind], max_side=384, seed=0, n_jobs=-1, progress=False)
        timings[f"build_{kind}"] = time.perf_counter() - start
        runs = [("imagenet", "bf16"), ("imagenet", "fp32"), ("random", "bf16")]
        for weights, precision in runs:
            start = time.perf_counter()
            feats = dfi.extract(ds, backbone=MODEL, layers=list(LAYERS), weights=weights, precision=precision,
                                store=store, progress=False)
            timings[f"extract_{kind}_{weights}_{precision}"] = time.perf_counter() - start
            heads = args.heads if (weights, precision) == ("imagenet", "bf16") else ["gpr"]
            rows += evaluate_rows(feats, kind=kind, weights=weights, precision=precision, heads=heads, repeats=args.repeats)

    table = pd.DataFrame(rows)
    name = "synthetic_benchmark_quick" if args.quick else "synthetic_benchmark"
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "references": len(refs), "per_image": per_image, "repeats": args.repeats, "model": MODEL,
        "layers": list(LAYERS), "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "versions": {"deepfeat_iqa": dfi.__version__, "torch": torch.__version__},
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        f"# Synthetic benchmark ({'quick' if args.quick else 'full'})", "",
        f"{len(refs)} pristine photos (Kodak24 + CBSD68), distorted per photo: {per_image}; max side 384; "
        f"pseudo-MOS; `{MODEL}`; content-separated 80/20 splits x {args.repeats} (mean, sd of SROCC).", "",
        table.set_index(["kind", "weights", "precision", "head", "layer"]).drop(columns=["n_images"]).to_markdown(floatfmt=".3f"),
        "", "Time (s): " + ", ".join(f"{k} {v:.0f}" for k, v in meta["seconds"].items()), "",
    ]
    (out / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
