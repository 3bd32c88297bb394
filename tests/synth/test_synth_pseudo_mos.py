"""The six full-reference metrics and their average on one higher-is-better 0-100 scale."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfeat_iqa import synth
from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError


def test_identical_images_score_perfectly(small_photos: dict[str, np.ndarray]) -> None:
    photo = small_photos["astronaut"]
    scores = synth.fr_metrics(photo, photo)
    assert list(scores) == ["ssim", "ms_ssim", "mdsi", "vsi", "fsim", "gmsd"]
    for name in ("ssim", "ms_ssim", "vsi", "fsim"):
        assert scores[name] == pytest.approx(1.0, abs=1e-4)
    assert scores["gmsd"] == pytest.approx(0.0, abs=1e-4)


def test_ms_ssim_drops_coarse_scales_on_small_images(small_photos: dict[str, np.ndarray]) -> None:
    assert synth.ms_ssim_scales(161, 900) == 5
    assert synth.ms_ssim_scales(160, 900) == 4
    assert synth.ms_ssim_scales(40, 40) == 2
    tiny = small_photos["coffee"][:90, :120]
    noisy = synth.SYNTHETIC_DISTORTIONS["white_noise"](tiny, 3, np.random.default_rng(0))
    assert all(math.isfinite(v) for v in synth.fr_metrics(noisy, tiny).values())
    with pytest.raises(DataError, match="too small"):
        synth.fr_metrics(tiny[:8, :8], tiny[:8, :8])
    with pytest.raises(DataError, match="differ in size"):
        synth.fr_metrics(tiny, tiny[:80])


@pytest.mark.parametrize("rule", ["rank", "zscore"])
def test_pseudo_mos_orients_and_scales(rule: str) -> None:
    raw = pd.DataFrame(
        {
            "ssim": [0.95, 0.80, 0.50],
            "ms_ssim": [0.99, 0.90, 0.70],
            "mdsi": [0.25, 0.35, 0.50],  # distances: lower is better
            "vsi": [0.99, 0.95, 0.85],
            "fsim": [0.97, 0.90, 0.70],
            "gmsd": [0.01, 0.08, 0.20],
        }
    )
    score = synth.pseudo_mos(raw, rule=rule)
    assert score.is_monotonic_decreasing and score.iloc[0] > score.iloc[2]
    assert ((score >= 0) & (score <= 100)).all()


def test_pseudo_mos_skips_missing_metrics_and_rejects_bad_input() -> None:
    raw = pd.DataFrame({name: [0.9, 0.5] for name in synth.FR_METRICS})
    raw["mdsi"] = [0.2, 0.4]
    raw["gmsd"] = [0.05, 0.2]
    raw.loc[1, "ms_ssim"] = np.nan
    assert synth.pseudo_mos(raw).tolist() == [100.0, 50.0]
    with pytest.raises(ConfigError, match="rule"):
        synth.pseudo_mos(raw, rule="mean")
    with pytest.raises(DataError, match="missing"):
        synth.pseudo_mos(raw.drop(columns="vsi"))


def test_pseudo_mos_decreases_with_level_for_every_synthetic_type(synthetic_build: tuple[Path, Dataset]) -> None:
    """Strictly: every level must cost quality (``is_monotonic_decreasing`` also accepted a flat, ignored level)."""
    _, dataset = synthetic_build
    table = dataset.distortion
    means = pd.Series(dataset.mos, index=table.index).groupby([table["type"], table["level"]]).mean()
    for name in synth.SYNTHETIC_DISTORTIONS:
        by_level = means.loc[name].sort_index()
        assert (np.diff(by_level.to_numpy()) < 0).all(), f"{name}: {by_level.round(1).tolist()}"


def test_pseudo_mos_decreases_with_level_for_every_authentic_type(small_photos: dict[str, np.ndarray]) -> None:
    """Strictly, as for the synthetic types."""
    rows, keys = [], []
    for name, distortion in synth.AUTHENTIC_DISTORTIONS.items():
        for level in range(1, distortion.n_levels + 1):
            for photo in list(small_photos.values())[:2]:
                rows.append(synth.fr_metrics(distortion(photo, level, np.random.default_rng(0)), photo))
                keys.append((name, level))
    frame = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(keys, names=["type", "level"]))
    means = synth.pseudo_mos(frame).groupby(level=["type", "level"]).mean()
    for name in synth.AUTHENTIC_DISTORTIONS:
        by_level = means.loc[name].sort_index()
        assert (np.diff(by_level.to_numpy()) < 0).all(), f"{name}: {by_level.round(1).tolist()}"
