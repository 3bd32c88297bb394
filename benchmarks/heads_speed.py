"""Feature-head speed and accuracy, side by side in one run: our GPR vs scikit-learn's GPR vs LinearSVR.

Writes ``benchmarks/results/heads_speed.json`` and ``.md`` (``heads_speed_quick.*`` with ``--quick``). Synthetic features: a noisy linear image
of 6 latent factors in D dimensions (pooled deep features are roughly low-rank like this), and a
smooth nonlinear score of a 2-D projection of the factors plus noise. Every model gets the same
block-standardized features; each is timed with the same thread count for torch and for the BLAS
that numpy/scipy (and so scikit-learn) call: one by default, as seed 003 reported single-core CPU.

Goals checked (see docs/heads.md):

* our GPR at least as accurate (test SROCC) as ``GaussianProcessRegressor(Matern(nu=2.5) + WhiteKernel)``;
* our GPR fit >= 5x faster than scikit-learn's at N=3000;
* prediction for 1000 images under 1 s;
* a 3000-image, 30-trial optuna tuning run: total time and ms per prediction against seed 003's
  23 minutes and 120 ms.

Usage::

    python benchmarks/heads_speed.py            # N in {1000, 3000, 8000}, D in {512, 2048}, 30 trials
    python benchmarks/heads_speed.py --quick    # N in {1000, 3000}, D=512, 10 trials
    python benchmarks/heads_speed.py --threads 2
    python benchmarks/heads_speed.py --scale    # GPR at 3000 (vs scikit-learn), 10k, 50k: see gpr_scale.py
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from deepfeat_iqa.runtime.machine import describe as describe_machine
from deepfeat_iqa.heads import GPR, BlockStandardizer, LinearSVRHead

RESULTS = Path(__file__).resolve().parent / "results"
SEED_003_TUNING_MIN = 23.0
SEED_003_PREDICT_MS = 120.0
SKLEARN_LIMIT_S = 600.0
N_TEST = 1000


def make_data(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of ``dim`` features and a smooth nonlinear score of a low-dim projection."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-2, 2, size=(n, 6))
    mixing = np.random.default_rng(1234).normal(size=(6, dim))  # same feature map for train and test
    X = np.tanh(z @ mixing / 2) + 0.2 * rng.normal(size=(n, dim))
    p = z @ np.random.default_rng(99).normal(size=(6, 2)) / np.sqrt(6)
    y = np.sin(1.5 * p[:, 0]) + 0.5 * p[:, 1] ** 2 + 0.15 * rng.normal(size=n)
    return X, y


def timed(fn):  # noqa: ANN001, ANN201 - any zero-argument callable
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run_case(n: int, dim: int, skip_sklearn_over: float | None) -> dict:
    """Fit the three heads on ``n`` rows of ``dim`` features, test on 1000 more."""
    X, y = make_data(n + N_TEST, dim, seed=n + dim)
    Z = BlockStandardizer().fit(X[:n]).transform(X)
    Ztr, ytr, Zte, yte = Z[:n], y[:n], Z[n:], y[n:]
    row: dict = {"n": n, "dim": dim}

    ours, row["gpr_fit_s"] = timed(lambda: GPR(device="cpu").fit(Ztr, ytr))
    pred, row["gpr_predict_1000_s"] = timed(lambda: ours.predict(Zte))
    row["gpr_srocc"] = float(spearmanr(pred, yte).statistic)
    row["gpr_n_iter"] = int(ours.n_iter_)

    svr, row["linear_svr_fit_s"] = timed(lambda: LinearSVRHead().fit(Ztr, ytr))
    row["linear_svr_srocc"] = float(spearmanr(svr.predict(Zte), yte).statistic)

    if skip_sklearn_over is not None and skip_sklearn_over > SKLEARN_LIMIT_S:
        row["sklearn_skipped"] = f"estimated {skip_sklearn_over / 60:.0f} min > {SKLEARN_LIMIT_S / 60:.0f} min"
        return row
    # scikit-learn started at a sensible length scale for standardized D-dim features (issue 11)
    kernel = ConstantKernel() * Matern(length_scale=float(np.sqrt(dim)), nu=2.5) + WhiteKernel()
    sk, row["sklearn_fit_s"] = timed(lambda: GaussianProcessRegressor(kernel, normalize_y=True).fit(Ztr, ytr))
    sk_pred, row["sklearn_predict_1000_s"] = timed(lambda: sk.predict(Zte))
    row["sklearn_srocc"] = float(spearmanr(sk_pred, yte).statistic)
    row["speedup_vs_sklearn"] = row["sklearn_fit_s"] / row["gpr_fit_s"]
    return row


def tuning_run(n: int, dim: int, trials: int) -> dict:
    """Fit with ``trials`` GPSampler trials and time it, then time single-image predictions."""
    X, y = make_data(n + N_TEST, dim, seed=7)
    start = GPR(device="cpu").fit(X[:n], y[:n])
    model, seconds = timed(lambda: GPR(device="cpu", tune_trials=trials).fit(X[:n], y[:n]))
    model.predict(X[n : n + 1])  # build the posterior cache once, as a deployed model would have
    single = [timed(lambda i=i: model.predict(X[n + i : n + i + 1]))[1] for i in range(50)]
    values = [t.value for t in model.study_.trials if t.value is not None]
    return {
        "n": n,
        "dim": dim,
        "trials": trials,
        "total_s": seconds,
        "cv_srocc_start": values[0],
        "cv_srocc_best": model.study_.best_value,
        "best_params": model.best_params_,
        "test_srocc_untuned": float(spearmanr(start.predict(X[n:]), y[n:]).statistic),
        "test_srocc_tuned": float(spearmanr(model.predict(X[n:]), y[n:]).statistic),
        "predict_ms_single": 1000 * float(np.median(single)),
        "seed003_total_s": SEED_003_TUNING_MIN * 60,
        "seed003_predict_ms": SEED_003_PREDICT_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in {1000, 3000}, D=512, 10 tuning trials")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (seed 003: one core)")
    parser.add_argument("--tuning-only", action="store_true", help="only the 30-trial tuning run (heads_speed_tuning.*)")
    parser.add_argument("--scale", action="store_true", help="GPR at scale: vs sklearn at 3000, exact vs inducing at 10k, 50k (gpr_scale.py)")
    args = parser.parse_args()
    if args.scale:
        import sys

        import gpr_scale

        sys.argv = [sys.argv[0], "--threads", str(args.threads)] + (["--quick"] if args.quick else [])
        gpr_scale.main()
        return
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        if args.tuning_only:
            run_tuning_only(args.threads)
        else:
            run(args.quick, args.threads)


def run_tuning_only(threads: int) -> None:
    """The 3000-image, 30-trial tuning run alone, for when the size cases were measured separately."""
    GPR(device="cpu", max_iter=2).fit(*make_data(20, 8, seed=0))
    tuning = tuning_run(3000, 512, 30)
    print(json.dumps(tuning))  # noqa: T201
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"threads": threads, "cpu": describe_machine(), "tuning": tuning}
    (RESULTS / "heads_speed_tuning.json").write_text(json.dumps(payload, indent=2, default=str))


def run(quick: bool, threads: int) -> None:
    """Run the cases and the tuning run, and write the JSON and Markdown reports."""
    sizes = (1000, 3000) if quick else (1000, 3000, 8000)
    dims = (512,) if quick else (512, 2048)
    trials = 10 if quick else 30

    # Pay one-time lazy imports and thread-pool start-up outside the timings.
    GPR(device="cpu", max_iter=2).fit(*make_data(20, 8, seed=0))
    rows = []
    for dim in dims:
        previous_sklearn: tuple[int, float] | None = None
        for n in sizes:
            estimate = None if previous_sklearn is None else previous_sklearn[1] * (n / previous_sklearn[0]) ** 3
            row = run_case(n, dim, estimate)
            if "sklearn_fit_s" in row:
                previous_sklearn = (n, row["sklearn_fit_s"])
            print(json.dumps(row))  # noqa: T201 - progress of a script, not library code
            rows.append(row)
    tuning = tuning_run(3000, 512, trials)
    print(json.dumps(tuning))  # noqa: T201
    result = {
        "quick": quick,
        "threads": threads,
        "cpu": describe_machine(),
        "versions": {"torch": torch.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__},
        "cases": rows,
        "tuning": tuning,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "heads_speed_quick" if quick else "heads_speed"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    (RESULTS / f"{name}.md").write_text(to_markdown(result))


def to_markdown(result: dict) -> str:
    """The results as a Markdown report with the goals beside the measurements."""
    lines = [
        f"# Feature heads: speed and accuracy ({'quick' if result['quick'] else 'full'} run, "
        f"{result['threads']} thread(s))",
        "",
        "| N | D | our GPR fit s | iters | SROCC | predict 1000 s | sklearn GPR fit s | SROCC | speed-up "
        "| LinearSVR fit s | SROCC |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["cases"]:
        sk = (
            f"{r['sklearn_fit_s']:.1f} | {r['sklearn_srocc']:.3f} | {r['speedup_vs_sklearn']:.1f}x"
            if "sklearn_fit_s" in r
            else f"skipped ({r['sklearn_skipped']}) | - | -"
        )
        lines.append(
            f"| {r['n']} | {r['dim']} | {r['gpr_fit_s']:.1f} | {r['gpr_n_iter']} | {r['gpr_srocc']:.3f} | "
            f"{r['gpr_predict_1000_s']:.2f} | {sk} | {r['linear_svr_fit_s']:.1f} | {r['linear_svr_srocc']:.3f} |"
        )
    t = result["tuning"]
    lines += [
        "",
        f"## Tuning: N={t['n']}, D={t['dim']}, {t['trials']} GPSampler trials, 3-fold CV SROCC",
        "",
        "| | ours | seed 003 |",
        "|---|---|---|",
        f"| training + tuning | {t['total_s'] / 60:.1f} min | {t['seed003_total_s'] / 60:.0f} min |",
        f"| one prediction | {t['predict_ms_single']:.1f} ms | < {t['seed003_predict_ms']:.0f} ms |",
        f"| CV SROCC start -> best | {t['cv_srocc_start']:.3f} -> {t['cv_srocc_best']:.3f} | |",
        f"| test SROCC untuned -> tuned | {t['test_srocc_untuned']:.3f} -> {t['test_srocc_tuned']:.3f} | |",
        f"| best params | {t['best_params']} | |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
