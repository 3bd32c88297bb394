"""Do models move between CPUs? Predictions from bf16 vs fp32 features of the same photos (issue 17 part 2).

    python benchmarks/precision_transfer.py [--splits 5]

On clive-dev, EfficientNet-Lite0 (real ImageNet weights) ``block4-6 + conv_head``, ``avg+std``, whole
photo: features are extracted once in fp32 and once in bf16. For each of ``--splits`` content-separated
80/20 splits a GPR is fitted on the training photos' features of one precision and predicts the test
photos from features of both precisions. Reported per direction (fit fp32 → predict bf16, fit bf16 →
predict fp32): SROCC between the two prediction vectors, and SROCC against MOS of the cross-precision
predictions next to same-precision ones. This is what a model fitted on an AMX laptop and used on an
AVX2 server (or the reverse) does under the library's rule that fp32 and bf16 features stand in for
each other (``deepfeat_iqa.runtime.precision.INTERCHANGEABLE``). Writes ``results/precision_transfer.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_accuracy import clive_dev  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
LAYERS = ["block4", "block5", "block6", "conv_head"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--store", default=os.environ.get("REAL_ACCURACY_STORE", "cache"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    ds = clive_dev()
    if ds is None:
        return 2
    import warnings

    from scipy.stats import spearmanr

    import deepfeat_iqa as dfi
    from deepfeat_iqa.runtime import machine

    warnings.filterwarnings("ignore", message="precision='bf16' on a CPU")
    feats = {p: dfi.extract(ds, layers=LAYERS, pooling="avg+std", views="full512", precision=p, store=args.store, progress=False).concat(LAYERS)
             for p in ("fp32", "bf16")}  # fmt: skip
    rows = {"fit fp32 -> predict bf16": ("fp32", "bf16"), "fit bf16 -> predict fp32": ("bf16", "fp32")}
    out: dict[str, dict[str, list[float]]] = {name: {"agreement": [], "same": [], "cross": []} for name in rows}
    for split in dfi.splits.repeated(ds, n_splits=args.splits, seed=0):
        for name, (fitted_on, given) in rows.items():
            model = dfi.fit(feats[fitted_on].subset(split.train), head="gpr")
            same = model.predict(feats[fitted_on].subset(split.test))
            cross = model.predict(feats[given].subset(split.test))
            mos = ds.mos[split.test]
            out[name]["agreement"].append(float(spearmanr(same, cross).statistic))
            out[name]["same"].append(float(spearmanr(same, mos).statistic))
            out[name]["cross"].append(float(spearmanr(cross, mos).statistic))
    record = {"machine": machine.describe(), "splits": args.splits, "rows": out}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "precision_transfer.json").write_text(json.dumps(record, indent=2))
    lines = [f"Measured on {machine.one_line(record['machine'])}; clive-dev, {args.splits} content-separated splits, "
             "Lite0 block4-6+conv_head avg+std full512, GPR.", "",
             "| direction | SROCC(same-precision pred, cross-precision pred) | SROCC vs MOS, same precision | SROCC vs MOS, cross precision |",
             "|---|---|---|---|"]  # fmt: skip
    for name, values in out.items():
        a, s, c = (np.asarray(values[k]) for k in ("agreement", "same", "cross"))
        lines.append(f"| {name} | {a.mean():.4f} (min {a.min():.4f}) | {s.mean():.4f} ± {s.std(ddof=1):.4f} | {c.mean():.4f} ± {c.std(ddof=1):.4f} |")
    md = "\n".join(lines) + "\n"
    (args.out / "precision_transfer.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
