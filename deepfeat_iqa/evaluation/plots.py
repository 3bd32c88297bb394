"""Diagnostic figures of test predictions (seed 003 Figures 6-8): scatter with logistic fit, residual histogram, QQ plot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

# Figures are built on matplotlib.figure.Figure directly (rendered by Agg on savefig), never through
# pyplot, so plotting neither needs a display nor touches global pyplot state that a caller may own.
_SIZE = (5.0, 4.0)
_DPI = 120


def scatter_with_logistic(
    y_true: np.ndarray, y_pred: np.ndarray, mapping: Callable[[np.ndarray], np.ndarray], path: Path, *, title: str = ""
) -> Path:
    """Predicted score against MOS with the fitted logistic curve, the picture behind PLCC (seed 003 Fig. 6).

    ``mapping`` is the logistic fitted from predictions to MOS (``metrics.logistic_fit``); drawing it
    shows how much of PLCC comes from a monotone rescaling rather than from the raw predictions.
    """
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    ax.scatter(y_pred, y_true, s=8, alpha=0.5, edgecolors="none", label="test images")
    grid = np.linspace(np.min(y_pred), np.max(y_pred), 200)
    ax.plot(grid, mapping(grid), color="tab:red", linewidth=2, label="logistic fit")
    ax.set_xlabel("predicted score")
    ax.set_ylabel("MOS")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def residual_histogram(residuals: np.ndarray, path: Path, *, title: str = "") -> Path:
    """Histogram of residuals with the maximum-likelihood Gaussian over it (seed 003 Fig. 8a).

    A symmetric, bell-shaped histogram centred on zero is the visual check that the head is unbiased
    and that its errors are close to normal, the assumption behind the paired t-test in :func:`compare`.
    """
    mu, sigma = stats.norm.fit(residuals)
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    ax.hist(residuals, bins="auto", density=True, alpha=0.6, color="tab:blue", label="residuals")
    if sigma > 0:
        grid = np.linspace(np.min(residuals), np.max(residuals), 200)
        ax.plot(grid, stats.norm.pdf(grid, mu, sigma), color="tab:red", linewidth=2, label=f"N({mu:.3g}, {sigma:.3g}²)")
    ax.set_xlabel("residual (MOS − predicted)")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def qq_plot(residuals: np.ndarray, path: Path, *, title: str = "") -> Path:
    """Normal probability plot of residuals (seed 003 Fig. 8b): points on the line mean normal residuals."""
    (theoretical, ordered), (slope, intercept, r) = stats.probplot(residuals, dist="norm")
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    ax.scatter(theoretical, ordered, s=8, alpha=0.6, edgecolors="none")
    ax.plot(theoretical, slope * theoretical + intercept, color="tab:red", linewidth=2, label=f"R² = {r * r:.3f}")
    ax.set_xlabel("theoretical normal quantiles")
    ax.set_ylabel("ordered residuals")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def prediction_figures(y_true: np.ndarray, y_pred: np.ndarray, out_dir: str | Path, *, stem: str = "eval", title: str = "") -> list[Path]:
    """Write the three diagnostics for one set of predictions as ``<stem>_{scatter,residuals,qq}.png``."""
    from deepfeat_iqa.evaluation.metrics import logistic_fit

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    residuals = y_true - y_pred
    return [
        scatter_with_logistic(y_true, y_pred, logistic_fit(y_pred, y_true, params=4), out_dir / f"{stem}_scatter.png", title=title),
        residual_histogram(residuals, out_dir / f"{stem}_residuals.png", title=title),
        qq_plot(residuals, out_dir / f"{stem}_qq.png", title=title),
    ]


def _save(fig: Figure, path: Path) -> Path:
    return save_figure(fig, path, dpi=_DPI)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = _DPI) -> Path:
    """Lay out ``fig`` and write it to ``path`` (parent folders created); the one place figures are written."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path
