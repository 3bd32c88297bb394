"""How accuracy grows with the number of rated training photos, on clive-dev (issue 19's 0.84 goal).

    python benchmarks/learning_curve.py [--seed 0] [--fractions 0.25,0.5,0.75,1.0]

The 10 content-separated 80/20 splits of ``benchmarks/real_accuracy.py`` (the same seed, the same test photos);
each split's training photos are subsampled to a fraction (seeded, nested: the 25 % are inside the 50 %), and
the recommended combination (five GPRs, the bundled model's recipe) and the frozen single-backbone baseline are
fitted on them and scored on the full test set. Features come from the store ``real_accuracy.py`` filled, so
nothing is extracted twice. The fitted log-linear trend says what the same recipe would reach with the 928
training photos of the whole LIVE In the Wild release, the setting of the published numbers the issue quotes.
Writes ``results/learning_curve.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_accuracy import BASELINE, OUT, RECOMMENDED_MEMBERS, ROWS, clive_dev  # noqa: E402

#: Training photos of one 80/20 split of the whole release (1,162 photos), for the extrapolation.
FULL_RELEASE_TRAIN = 928


def nested_subsets(train: np.ndarray, fractions: list[float], seed: int) -> dict[float, np.ndarray]:
    """Each fraction's training rows: the first ``f * n`` of one seeded permutation, so smaller sets nest."""
    order = np.random.default_rng(seed).permutation(train)
    return {f: np.sort(order[: max(8, int(round(f * len(train))))]) for f in fractions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--fractions", default="0.25,0.5,0.75,1.0")
    parser.add_argument("--store", default=os.environ.get("REAL_ACCURACY_STORE", "cache"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    ds = clive_dev()
    if ds is None:
        return 2
    import deepfeat_iqa as dfi
    from deepfeat_iqa.datasets.splits import Split
    from deepfeat_iqa.runtime import machine

    fractions = [float(f) for f in args.fractions.split(",")]
    splits = dfi.splits.repeated(ds, n_splits=args.splits, test_size=0.2, seed=args.seed)
    per_fraction = {f: [] for f in fractions}
    for index, split in enumerate(splits):
        for f, train in nested_subsets(split.train, fractions, seed=1000 + index).items():
            per_fraction[f].append(Split(train, split.test))
    base = ROWS[BASELINE]
    rows = []
    for f in fractions:
        chosen = per_fraction[f]
        combo = dfi.evaluate(ds, head="combination", members=RECOMMENDED_MEMBERS, combiner="mean", precision="fp32",
                             store=args.store, splits=chosen, progress=False)  # fmt: skip
        feats = dfi.extract(ds, backbone=base["backbone"], layers=base["layers"], pooling=base["pooling"], views=base["views"],
                            precision="fp32", store=args.store, progress=False)  # fmt: skip
        baseline = dfi.evaluate(feats, head="gpr", layers=base["layers"], splits=chosen, progress=False)
        row = {"fraction": f, "train_photos": int(np.mean([len(s.train) for s in chosen])),
               "combination": [round(float(v), 5) for v in combo.per_split["srocc"]],
               "baseline": [round(float(v), 5) for v in baseline.per_split["srocc"]]}  # fmt: skip
        rows.append(row)
        print(f"{f:.2f} ({row['train_photos']} photos): combination {np.mean(row['combination']):.4f}, "
              f"baseline {np.mean(row['baseline']):.4f}", flush=True)  # fmt: skip
    trend = {}
    for name in ("combination", "baseline"):
        x = np.log2([r["train_photos"] for r in rows])
        y = np.array([np.mean(r[name]) for r in rows])
        slope, intercept = np.polyfit(x, y, 1)
        trend[name] = {"per_doubling": round(float(slope), 4),
                       "at_full_release": round(float(intercept + slope * np.log2(FULL_RELEASE_TRAIN)), 4)}  # fmt: skip
    record = {"machine": machine.describe(), "seed": args.seed, "n_splits": len(splits), "rows": rows, "trend": trend}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learning_curve.json").write_text(json.dumps(record, indent=2))
    lines = [f"clive-dev, split seed {args.seed}, {len(splits)} content-separated 80/20 splits (the same test photos in "
             "every row); training photos subsampled, nested. SROCC mean ± sd.\n",
             "| training photos | recommended combination | frozen L0 GPR baseline |", "|---|---|---|"]  # fmt: skip
    for r in rows:
        c, b = np.array(r["combination"]), np.array(r["baseline"])
        lines.append(f"| {r['train_photos']} ({r['fraction']:.0%}) | {c.mean():.4f} ± {c.std(ddof=1):.4f} | {b.mean():.4f} ± {b.std(ddof=1):.4f} |")
    lines.append("")
    for name, t in trend.items():
        lines.append(f"- {name}: {t['per_doubling']:+.4f} SROCC per doubling of the training photos; the log-linear "
                     f"trend at {FULL_RELEASE_TRAIN} photos (an 80/20 split of the whole release): {t['at_full_release']:.4f}")  # fmt: skip
    (args.out / "learning_curve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
