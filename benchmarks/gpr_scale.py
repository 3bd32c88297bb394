"""GPR at scale, side by side in one run: our GPR vs scikit-learn at N=3000, exact at N=10k, inducing at 50k.

Cases (synthetic low-rank features from ``heads_speed.make_data``, block-standardized, 1000 test rows):

* N=3000, D=512: our default GPR against scikit-learn's
  ``GaussianProcessRegressor(ConstantKernel() * Matern(length_scale=sqrt(D), nu=2.5) + WhiteKernel(), normalize_y=True)``
  started at that sensible length scale. Goal: >= 10x faster fit at equal test SROCC.
* N=10k, D=512: exact posterior (goal <= 30 s), and the inducing-point posterior on the same rows
  (goal: SROCC within 0.01 of exact).
* N=50k, D=512: ``method="auto"`` (inducing points beyond 20k rows). Goal <= 5 min.

Each case runs in its own child process, so its peak RSS (``ru_maxrss``) is its own. Torch and the
BLAS get the same thread count (``--threads``, default 1). Writes ``benchmarks/results/gpr_scale.json``
and ``.md``. Measured on the shared 2-core machine: times are inflated by other users' jobs; the
ratio to scikit-learn is measured in the same run under the same load.

Usage::

    python benchmarks/gpr_scale.py               # all cases
    python benchmarks/gpr_scale.py --quick       # N=1000 vs sklearn, 3000 exact vs inducing, 10k auto
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from deepfeat_iqa.runtime.machine import describe as describe_machine
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_TEST = 1000


def _case(kind: str, n: int, dim: int, threads: int) -> dict:
    """Run one case in this process and return its measurements (peak RSS included)."""
    import torch
    from scipy.stats import spearmanr
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(HERE))
    from heads_speed import make_data

    from deepfeat_iqa.heads import GPR, BlockStandardizer

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        X, y = make_data(n + N_TEST, dim, seed=n + dim)
        Z = BlockStandardizer().fit(X[:n]).transform(X)
        Ztr, ytr, Zte, yte = Z[:n], y[:n], Z[n:], y[n:]
        GPR(device="cpu", max_iter=2).fit(Ztr[:50], ytr[:50])  # one-time imports and thread start-up
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        if kind == "sklearn":
            from sklearn.gaussian_process import GaussianProcessRegressor
            from sklearn.gaussian_process.kernels import (
                ConstantKernel,
                Matern,
                WhiteKernel,
            )

            kernel = ConstantKernel() * Matern(length_scale=math.sqrt(dim), nu=2.5) + WhiteKernel()
            model = GaussianProcessRegressor(kernel, normalize_y=True).fit(Ztr, ytr)
            method = "sklearn"
        else:
            model = GPR(device="cpu", method=kind).fit(Ztr, ytr)
            method = model.method_
        fit_s = time.perf_counter() - start
        pred = model.predict(Zte)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "kind": kind, "method": method, "n": n, "dim": dim, "fit_s": fit_s,
        "srocc": float(spearmanr(pred, yte).statistic), "peak_rss_mb": peak / 1024, "rss_above_start_mb": (peak - base) / 1024,
    }  # fmt: skip


def _child(kind: str, n: int, dim: int, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", kind, str(n), str(dim), "--threads", str(threads)], check=True, capture_output=True, text=True
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--case", nargs=3, metavar=("KIND", "N", "DIM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        kind, n, dim = args.case
        print(json.dumps(_case(kind, int(n), int(dim), args.threads)))
        return
    load_at_start = os.getloadavg()[0]
    small, mid, large = (1000, 3000, 10_000) if args.quick else (3000, 10_000, 50_000)
    dim = 512
    ours = _child("auto", small, dim, args.threads)
    sk = _child("sklearn", small, dim, args.threads)
    exact = _child("exact", mid, dim, args.threads)
    inducing = _child("inducing", mid, dim, args.threads)
    large_run = _child("auto", large, dim, args.threads)
    result = {
        "quick": args.quick, "threads": args.threads, "cpu": describe_machine(),
        "machine": f"2-core machine, 1-min load average {load_at_start:.1f} at the start (above ~2 other jobs inflate "
        "absolute times; ratios are measured in the same run)",
        "vs_sklearn": {"ours": ours, "sklearn": sk, "speedup": sk["fit_s"] / ours["fit_s"], "srocc_diff": ours["srocc"] - sk["srocc"]},
        "exact_vs_inducing": {"exact": exact, "inducing": inducing, "srocc_diff": inducing["srocc"] - exact["srocc"]},
        "large": large_run,
        "goals": {
            f"speedup_vs_sklearn_at_{small}_ge_10x": sk["fit_s"] / ours["fit_s"] >= 10,
            f"exact_{mid}_le_30s": exact["fit_s"] <= 30,
            f"inducing_srocc_within_0.01_at_{mid}": abs(inducing["srocc"] - exact["srocc"]) <= 0.01,
            f"n{large}_le_300s": large_run["fit_s"] <= 300,
        },
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    name = "gpr_scale_quick" if args.quick else "gpr_scale"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    (RESULTS / f"{name}.md").write_text(to_markdown(result))
    print(to_markdown(result))


def to_markdown(result: dict) -> str:
    rows = [result["vs_sklearn"]["ours"], result["vs_sklearn"]["sklearn"], result["exact_vs_inducing"]["exact"],
            result["exact_vs_inducing"]["inducing"], result["large"]]  # fmt: skip
    lines = [
        f"# GPR at scale ({'quick' if result['quick'] else 'full'} run, {result['threads']} thread(s), D=512)", "",
        f"Measured on the {result['machine']}.", "",
        "| model | posterior | N | fit s | test SROCC | peak RSS MB |", "|---|---|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in rows:
        label = "scikit-learn GPR (Matern length_scale=sqrt(D) start)" if r["kind"] == "sklearn" else f"ours, method={r['kind']!r}"
        lines.append(f"| {label} | {r['method']} | {r['n']:,} | {r['fit_s']:.1f} | {r['srocc']:.4f} | {r['peak_rss_mb']:.0f} |")
    vs, ei = result["vs_sklearn"], result["exact_vs_inducing"]
    lines += [
        "", f"* speed-up over scikit-learn at N={vs['ours']['n']:,}: **{vs['speedup']:.1f}x**, SROCC difference {vs['srocc_diff']:+.4f}",
        f"* inducing vs exact SROCC on the same {ei['exact']['n']:,} rows: {ei['srocc_diff']:+.4f}",
        "* goals: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in result["goals"].items()), "",
    ]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
