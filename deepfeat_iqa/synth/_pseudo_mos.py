"""Seed 002's pseudo-MOS: six full-reference metrics (piq), put on one scale, averaged, scaled to 0-100.

Seed 002 takes "the average score of the six methods" as the label, but the raw scores cannot be
averaged as they are: SSIM-like scores crowd just below 1, GMSD and MDSI run the other way and
spread over a few tenths. So each metric is first mapped to a common higher-is-better scale over
the generated set (:func:`pseudo_mos`); the raw values stay in the labels CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import piq
import torch
from scipy.stats import norm

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.synth._synthetic import as_rgb_uint8

#: MS-SSIM's default five scale weights (Wang et al. 2003, as in piq).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_KERNEL = 11

#: How :func:`pseudo_mos` puts the metrics on one scale (see its docstring).
RULES = ("rank", "zscore")


@dataclass(frozen=True)
class FRMetric:
    """A full-reference metric: how to compute it on [0, 1] RGB tensors and which way is better."""

    name: str
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    higher_is_better: bool


def ms_ssim_scales(height: int, width: int) -> int:
    """How many MS-SSIM scales fit an image: the most (up to 5) with a side >= 10 * 2**(scales-1) + 1.

    piq's MS-SSIM needs 161 px per side for its five scales. Smaller images drop the coarsest scales
    (and renormalise the remaining weights) rather than being upsampled, which would invent detail.
    """
    side = min(height, width)
    if side < MS_SSIM_KERNEL:
        raise DataError(f"Images of {height}x{width} px are too small for the full-reference metrics (need >= 11 px).")
    scales = 5
    while scales > 1 and side < (MS_SSIM_KERNEL - 1) * 2 ** (scales - 1) + 1:
        scales -= 1
    return scales


def _ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(MS_SSIM_WEIGHTS[: ms_ssim_scales(*x.shape[-2:])], dtype=x.dtype)
    return piq.multi_scale_ssim(x, y, data_range=1.0, kernel_size=MS_SSIM_KERNEL, scale_weights=weights)


#: The six metrics of seed 002, in its order; GMSD and MDSI are distances (lower is better).
FR_METRICS: dict[str, FRMetric] = {
    metric.name: metric
    for metric in (
        FRMetric("ssim", lambda x, y: piq.ssim(x, y, data_range=1.0), True),
        FRMetric("ms_ssim", _ms_ssim, True),
        FRMetric("mdsi", lambda x, y: piq.mdsi(x, y, data_range=1.0), False),
        FRMetric("vsi", lambda x, y: piq.vsi(x, y, data_range=1.0), True),
        FRMetric("fsim", lambda x, y: piq.fsim(x, y, data_range=1.0, chromatic=True), True),
        FRMetric("gmsd", lambda x, y: piq.gmsd(x, y, data_range=1.0), False),
    )
}


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(as_rgb_uint8(image))).permute(2, 0, 1)[None].float() / 255.0


def fr_metrics(distorted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """The six raw full-reference scores of ``distorted`` against ``reference`` (uint8 RGB, same size).

    Computed on [0, 1] RGB, which VSI and FSIM require (they use the colour channels), in float32:
    float64 convolutions are ~10x slower on CPU and change the scores only past the sixth digit.
    A metric that is undefined for the pair (e.g. MS-SSIM of a flat image) comes back as NaN.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> round(fr_metrics(image, image)["ssim"], 6)
    1.0
    """
    if np.shape(distorted) != np.shape(reference):
        raise DataError(f"Distorted image {np.shape(distorted)} and reference {np.shape(reference)} differ in size.")
    ms_ssim_scales(*np.shape(reference)[:2])  # fails early, with the fix, on images too small for any metric
    x, y = _tensor(distorted), _tensor(reference)
    with torch.no_grad():
        return {name: float(metric.compute(x, y)) for name, metric in FR_METRICS.items()}


def pseudo_mos(raw: pd.DataFrame, rule: str = "rank") -> pd.Series:
    """Average the six metrics on a common higher-is-better scale and express it on 0-100.

    Parameters
    ----------
    raw:
        One row per generated image, one column per metric of :data:`FR_METRICS` (raw values).
    rule:
        ``"rank"`` (default): each metric becomes its percentile rank over the rows (ties averaged,
        GMSD and MDSI ranked in reverse), the six ranks are averaged and multiplied by 100. Ranks
        make the metrics count equally whatever their range and non-linearity, and need no fitted
        mapping to human scores -- which a generated set does not have.
        ``"zscore"``: each metric is standardised over the rows (sign flipped for GMSD/MDSI), the
        z-scores are averaged and passed through the normal CDF, times 100. Keeps distances between
        images but lets outliers pull the scale.

    Both rules are relative to the generated set, so adding images changes every row's pseudo-MOS:
    :func:`~deepfeat_iqa.synth.build` recomputes it over all rows after each run. A metric missing
    (NaN) for a row is left out of that row's average.

    Returns
    -------
    pandas.Series
        Pseudo-MOS in [0, 100], higher is better, indexed like ``raw``.
    """
    missing = [name for name in FR_METRICS if name not in raw.columns]
    if missing:
        raise DataError(f"pseudo_mos needs raw columns {list(FR_METRICS)}; missing {missing}.")
    if rule not in RULES:
        raise ConfigError(f"Unknown pseudo-MOS rule {rule!r}; choose one of {RULES}.")
    signs = pd.Series({name: 1.0 if metric.higher_is_better else -1.0 for name, metric in FR_METRICS.items()})
    oriented = raw[list(FR_METRICS)].astype(float) * signs
    if rule == "rank":
        return (oriented.rank(pct=True).mean(axis=1, skipna=True) * 100.0).rename("pseudo_mos")
    spread = oriented.std(ddof=0).replace(0.0, 1.0)
    z = ((oriented - oriented.mean()) / spread).mean(axis=1, skipna=True)
    return pd.Series(norm.cdf(z) * 100.0, index=raw.index, name="pseudo_mos")
