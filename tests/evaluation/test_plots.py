"""The diagnostic figures show the predictions they are drawn from (issue 22: "a PNG over 1000 bytes" passed a
blank image, swapped axes, a figure of other data, or a histogram that is not a density)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from deepfeat_iqa.evaluation.plots import prediction_figures
from helpers.plots import assert_png_not_blank, captured_figures


def test_the_three_figures_draw_these_predictions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scatter: one point per prediction at (predicted, MOS) with a rising logistic over it; histogram: a density
    of the residuals MOS - predicted; QQ: the sorted residuals against normal quantiles; each PNG has ink."""
    rng = np.random.default_rng(0)
    y_true = rng.uniform(0, 100, size=37)
    y_pred = 0.02 * y_true + rng.normal(scale=0.2, size=37)  # another scale than MOS, as a head's output is
    figures = captured_figures(monkeypatch)
    scale = {"low": 0, "high": 100, "kind": "MOS", "higher_is_better": True}
    paths = prediction_figures(y_true, y_pred, tmp_path, stem="t", title="svr on blur, resnet10t/stage3", scale=scale)
    assert [p.name for p in paths] == ["t_scatter.png", "t_residuals.png", "t_qq.png"] and set(figures) == {p.name for p in paths}

    ax = figures["t_scatter.png"].axes[0]
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.column_stack([y_pred, y_true]))
    (curve,) = ax.lines
    assert (np.diff(curve.get_ydata()) >= 0).all() and curve.get_xdata().min() == y_pred.min()
    assert ax.get_xlabel() == "predicted score (head output)" and ax.get_ylabel() == "MOS (dataset scale 0–100)"
    assert ax.get_title() == "svr on blur, resnet10t/stage3"

    ax = figures["t_residuals.png"].axes[0]
    bars = [p for p in ax.patches]
    area = sum(b.get_width() * b.get_height() for b in bars)
    assert area == pytest.approx(1.0) and bars[0].get_x() == pytest.approx((y_true - y_pred).min())
    assert ax.get_xlabel() == "residual: MOS − predicted (MOS points)"

    ax = figures["t_qq.png"].axes[0]
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 1], np.sort(y_true - y_pred))
    np.testing.assert_allclose(points[:, 0], stats.probplot(y_true - y_pred)[0][0])
    assert ax.get_xlabel() == "theoretical normal quantiles (sd)"
    for path in paths:
        assert_png_not_blank(path)


def test_a_blank_png_is_caught(tmp_path: Path) -> None:
    """The PNG check itself can fail: a white image of any size is refused."""
    from PIL import Image

    Image.new("RGB", (600, 480), "white").save(tmp_path / "blank.png")
    with pytest.raises(AssertionError, match="pixels are drawn"):
        assert_png_not_blank(tmp_path / "blank.png")
