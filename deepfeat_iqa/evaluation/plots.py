"""Diagnostic figures of test predictions (seed 003 Figures 6-8): scatter with logistic fit, residual histogram, QQ plot."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

# Figures are built on matplotlib.figure.Figure directly (rendered by Agg on savefig), never through
# pyplot, so plotting neither needs a display nor touches global pyplot state that a caller may own.
_SIZE = (5.0, 4.0)
_DPI = 120
_TITLE_SIZE = 9


def mos_label(scale: Mapping[str, Any] | None = None) -> str:
    """The MOS axis label with the dataset's units: ``MOS (dataset scale 0-100)``, ``DMOS (0-9, lower is better)``.

    A bare "MOS" leaves the reader guessing whether 43 is good; the scale is what makes the number read.
    """
    if not scale:
        return "MOS (dataset scale)"
    kind = str(scale.get("kind") or "MOS")
    low, high = scale.get("low"), scale.get("high")
    if low is None or high is None:
        return f"{kind} (sd units)" if kind.startswith("z-scored") else kind
    text = f"{kind} (dataset scale {float(low):g}–{float(high):g}"
    return text + (", lower is better)" if scale.get("higher_is_better") is False else ")")


def _new_figure(title: str, size: tuple[float, float] = _SIZE) -> tuple[Figure, Any]:
    """A figure whose title wraps to its width and whose height grows by the lines the title takes.

    Long titles (head, dataset, layer, counts) were cut off at the frame; wrapping keeps every word and
    growing the figure keeps the axes their size, so the figure size follows its content.
    """
    width_chars = max(20, int(size[0] * 72 / (_TITLE_SIZE * 0.6)))  # ~0.6 em per character at this size
    lines = textwrap.wrap(title, width=width_chars) if title else []
    fig = Figure(figsize=(size[0], size[1] + 0.17 * max(0, len(lines) - 1)))
    ax = fig.add_subplot()
    if lines:
        ax.set_title("\n".join(lines), fontsize=_TITLE_SIZE)
    return fig, ax


def scatter_with_logistic(
    y_true: np.ndarray, y_pred: np.ndarray, mapping: Callable[[np.ndarray], np.ndarray], path: Path, *, title: str = "",
    scale: Mapping[str, Any] | None = None,
) -> Path:
    """Predicted score against MOS with the fitted logistic curve, the picture behind PLCC (seed 003 Fig. 6).

    ``mapping`` is the logistic fitted from predictions to MOS (``metrics.logistic_fit``); drawing it
    shows how much of PLCC comes from a monotone rescaling rather than from the raw predictions.
    """
    fig, ax = _new_figure(title)
    ax.scatter(y_pred, y_true, s=8, alpha=0.5, edgecolors="none", label="test images")
    grid = np.linspace(np.min(y_pred), np.max(y_pred), 200)
    ax.plot(grid, mapping(grid), color="tab:red", linewidth=2, label="logistic fit")
    ax.set_xlabel("predicted score (head output)")
    ax.set_ylabel(mos_label(scale))
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def residual_histogram(residuals: np.ndarray, path: Path, *, title: str = "", scale: Mapping[str, Any] | None = None) -> Path:
    """Histogram of residuals with the maximum-likelihood Gaussian over it (seed 003 Fig. 8a).

    A symmetric, bell-shaped histogram centred on zero is the visual check that the head is unbiased
    and that its errors are close to normal, the assumption behind the paired t-test in :func:`compare`.
    """
    mu, sigma = stats.norm.fit(residuals)
    fig, ax = _new_figure(title)
    ax.hist(residuals, bins="auto", density=True, alpha=0.6, color="tab:blue", label="residuals")
    if sigma > 0:
        grid = np.linspace(np.min(residuals), np.max(residuals), 200)
        ax.plot(grid, stats.norm.pdf(grid, mu, sigma), color="tab:red", linewidth=2, label=f"N({mu:.3g}, {sigma:.3g}²)")
    ax.set_xlabel(f"residual: MOS − predicted ({_units(scale)})")
    ax.set_ylabel("density (per unit of residual)")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


def qq_plot(residuals: np.ndarray, path: Path, *, title: str = "", scale: Mapping[str, Any] | None = None) -> Path:
    """Normal probability plot of residuals (seed 003 Fig. 8b): points on the line mean normal residuals."""
    (theoretical, ordered), (slope, intercept, r) = stats.probplot(residuals, dist="norm")
    fig, ax = _new_figure(title)
    ax.scatter(theoretical, ordered, s=8, alpha=0.6, edgecolors="none")
    ax.plot(theoretical, slope * theoretical + intercept, color="tab:red", linewidth=2, label=f"R² = {r * r:.3f}")
    ax.set_xlabel("theoretical normal quantiles (sd)")
    ax.set_ylabel(f"ordered residuals ({_units(scale)})")
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


#: The diagnostics :func:`prediction_figures` can draw, in the order reports show them.
FIGURES = ("scatter", "residuals", "qq")


def prediction_figures(y_true: np.ndarray, y_pred: np.ndarray, out_dir: str | Path, *, stem: str = "eval", title: str = "",
                       scale: Mapping[str, Any] | None = None, kinds: Sequence[str] = FIGURES) -> list[Path]:  # fmt: skip
    """Write diagnostics for one set of predictions as ``<stem>_{scatter,residuals,qq}.png`` (``kinds``, in that order).

    ``scale`` is the dataset's score scale (``EvaluationResult.info["scale"]``), named on the MOS axes.
    ``kinds`` picks a subset: a sweep's cell pages draw only the scatter, so a page per cell stays light.
    """
    from deepfeat_iqa.evaluation.metrics import logistic_fit

    unknown = sorted(set(kinds) - set(FIGURES))
    if unknown:
        raise ValueError(f"Unknown figure kind(s) {unknown}; choose from {', '.join(FIGURES)}.")
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    residuals = y_true - y_pred
    draw = {
        "scatter": lambda path: scatter_with_logistic(y_true, y_pred, logistic_fit(y_pred, y_true, params=4), path, title=title, scale=scale),
        "residuals": lambda path: residual_histogram(residuals, path, title=title, scale=scale),
        "qq": lambda path: qq_plot(residuals, path, title=title, scale=scale),
    }
    return [draw[kind](out_dir / f"{stem}_{kind}.png") for kind in FIGURES if kind in kinds]


def _units(scale: Mapping[str, Any] | None) -> str:
    """Short units of a residual: the MOS kind it is measured in."""
    return "sd units" if scale and str(scale.get("kind", "")).startswith("z-scored") else f"{(scale or {}).get('kind') or 'MOS'} points"


def _save(fig: Figure, path: Path) -> Path:
    return save_figure(fig, path, dpi=_DPI)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = _DPI) -> Path:
    """Lay out ``fig`` and write it to ``path`` (parent folders created); the one place figures are written.

    ``bbox_inches="tight"`` makes the saved image follow its content: long tick labels or titles grow the
    image instead of being cut at the frame, and unused margins are trimmed.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    return path
