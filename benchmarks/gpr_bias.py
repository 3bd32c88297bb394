"""Are GPR predictions biased on unseen content, and is it the model's prior or the data?

On the data of ``synthetic_benchmark.py`` (shared pristine photos, seed 002's synthetic distortions,
pseudo-MOS, EfficientNet-Lite0 ImageNet ``blocks.2`` bf16), over content-separated 80/20 splits,
compares per split:

* ``learned``: our GPR with a learned constant prior mean (deepfeat-iqa 0.1's behaviour);
* ``zero``: our GPR with the prior mean fixed at the training mean (the fix of issue 12);
* ``sklearn``: scikit-learn's ``GaussianProcessRegressor(normalize_y=True)`` with
  ``C * Matern(nu=2.5) + WhiteKernel`` on the same standardized features (zero prior mean on
  standardized targets);

and the data's own shift: mean test score minus mean training score. Residual = prediction - score.
Writes ``benchmarks/results/gpr_bias_<refs>refs.{json,md}``.

    python benchmarks/gpr_bias.py --refs 24 --repeats 5   # Kodak24 only: few references, as in the demo
    python benchmarks/gpr_bias.py --refs 92 --repeats 3   # all 92 shared pristine photos
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

import deepfeat_iqa as dfi
from deepfeat_iqa.heads import GPR, BlockStandardizer
from deepfeat_iqa.evaluation.metrics import srocc
from deepfeat_iqa.datasets.splits import repeated

ROOT = Path(__file__).resolve().parents[1]
PRISTINE = next((p / "shared" / "data" / "pristine" for p in ROOT.parents if (p / "shared" / "data" / "pristine").is_dir()),
                ROOT.parent / "shared" / "data" / "pristine")
LAYER = "blocks.2"


class LearnedMeanGPR(GPR):
    """deepfeat-iqa 0.1's GPR: the constant prior mean is a free hyperparameter of the likelihood."""

    def _start(self, x):  # noqa: ANN001, ANN202
        start, bounds = super()._start(x)
        return start, bounds[:-1] + [(None, None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refs", type=int, default=92)
    parser.add_argument("--per-image", type=int, default=13)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / "results" / ".cache")
    args = parser.parse_args()

    refs = [p for f in ("kodak24", "cbsd68") for p in sorted((PRISTINE / f).glob("*.png"))][: args.refs]
    ds = dfi.synth.build(refs, args.cache / f"synthetic-{len(refs)}refs-{args.per_image}", kind="synthetic",
                         per_image=args.per_image, max_side=384, seed=0, n_jobs=-1, progress=False)  # fmt: skip
    lf = dfi.extract(ds, backbone="efficientnet_lite0", layers=LAYER, precision="bf16", store=args.cache / "features.zarr", progress=False)[LAYER]
    X, y = lf.X.astype(np.float64), lf.dataset.mos
    rows = []
    for index, split in enumerate(repeated(lf.dataset, n_splits=args.repeats, test_size=0.2, seed=0)):
        train, test = np.asarray(split.train), np.asarray(split.test)
        row: dict = {"split": index, "n_test": len(test), "data_shift": float(y[test].mean() - y[train].mean())}
        for name, model in (("learned", LearnedMeanGPR(device="cpu")), ("zero", GPR(device="cpu"))):
            start = time.perf_counter()
            model.fit(X[train], y[train])
            pred = model.predict(X[test])
            constant = float(model.gp_state_["mean_module.raw_constant"])
            row.update({
                f"{name}_prior_mean": model.y_mean_ + constant * model.y_std_,
                f"{name}_lengthscale": float(model.lengthscale_[0]),
                f"{name}_residual_mean": float((pred - y[test]).mean()),
                f"{name}_srocc": srocc(y[test], pred),
                f"{name}_range": [float(pred.min()), float(pred.max())],
                f"{name}_seconds": round(time.perf_counter() - start, 1),
            })  # fmt: skip
        Z = BlockStandardizer().fit(X[train])
        kernel = ConstantKernel(1.0) * Matern(length_scale=1.0, nu=2.5) + WhiteKernel(0.1)
        start = time.perf_counter()
        sk = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0).fit(Z.transform(X[train]), y[train])
        pred = sk.predict(Z.transform(X[test]))
        row.update({
            "sklearn_prior_mean": float(y[train].mean()),
            "sklearn_lengthscale": float(sk.kernel_.k1.k2.length_scale),
            "sklearn_residual_mean": float((pred - y[test]).mean()),
            "sklearn_srocc": srocc(y[test], pred),
            "sklearn_range": [float(pred.min()), float(pred.max())],
            "sklearn_seconds": round(time.perf_counter() - start, 1),
            "train_mean": float(y[train].mean()),
        })  # fmt: skip
        rows.append(row)
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)

    table = pd.DataFrame(rows).set_index("split")
    columns = ["n_test", "train_mean", "data_shift"] + [f"{m}_{q}" for m in ("learned", "zero", "sklearn")
                                                        for q in ("prior_mean", "lengthscale", "residual_mean", "srocc")]  # fmt: skip
    shown = table[columns]
    out = ROOT / "benchmarks" / "results"
    meta = {"references": len(refs), "per_image": args.per_image, "n_images": len(lf), "layer": LAYER, "repeats": args.repeats,
            "note": "measured on a shared 2-core machine"}  # fmt: skip
    (out / f"gpr_bias_{len(refs)}refs.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# GPR bias on unseen content", "",
        f"{len(refs)} pristine photos x {args.per_image} synthetic distortions ({len(lf)} images, pseudo-MOS 0-100), "
        f"`efficientnet_lite0` ImageNet `{LAYER}` bf16, {args.repeats} content-separated 80/20 splits. "
        "`data_shift` = mean test score - mean training score; residual = prediction - score. "
        "`learned`: constant prior mean fitted by the likelihood (0.1); `zero`: prior mean = training mean (now); "
        "`sklearn`: GaussianProcessRegressor(normalize_y=True).", "",
        shown.to_markdown(floatfmt=".3f"), "",
        "Mean over splits:", "", shown.mean().to_frame("mean").T.to_markdown(floatfmt=".3f"), "",
    ]
    (out / f"gpr_bias_{len(refs)}refs.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
