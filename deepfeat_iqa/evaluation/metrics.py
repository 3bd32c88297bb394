"""How well predicted quality agrees with subjective scores: SROCC, PLCC, KROCC, RMSE and significance.

PLCC and RMSE are reported after the VQEG monotonic logistic mapping by default, because a
regressor's scores need not be linear in MOS and the papers compare methods after that mapping;
the raw values are kept alongside so nothing is hidden. The mapping is fitted under the constraint
that it is monotone **increasing**: an unconstrained fit may bend the curve downwards and turn a
negative relation into a high PLCC (SROCC -0.90 with PLCC 0.99 on one random-label split). When no
increasing curve fits (the relation is decreasing or flat, or the optimizer fails), PLCC and RMSE
fall back to the raw predictions, with a warning, and the mapping's ``kind`` says ``"raw"``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from deepfeat_iqa.errors import ConfigError, DataError, unknown_name_error

logger = logging.getLogger(__name__)

#: Fewest images a correlation is computed on; with two, any rank correlation is +-1 and says nothing.
MIN_ITEMS = 3

#: Accepted values of ``mapping`` (None means raw predictions).
MAPPINGS = ("logistic4", "logistic5")

#: Keys of :func:`summary`, in order.
SUMMARY_KEYS = ("srocc", "plcc", "krocc", "rmse", "plcc_raw", "rmse_raw")


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return two aligned 1-D float arrays, raising a DataError that names the problem."""
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = np.asarray(values, dtype=np.float64)
        if array.ndim == 2 and 1 in array.shape:
            array = array.ravel()  # a (n, 1) column from a regressor is one score per image
        if array.ndim != 1:
            raise DataError(f"{name} must be one score per image (1-D); got shape {array.shape}.")
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise DataError(
                f"{name} has {bad.size} NaN/inf values (first at positions {bad[:5].tolist()}). "
                "Drop those images or fix the model that produced them."
            )
        arrays.append(array)
    y_true, y_pred = arrays
    if y_true.shape != y_pred.shape:
        raise DataError(
            f"y_true has {y_true.size} scores but y_pred has {y_pred.size}; pass one prediction per image."
        )
    if y_true.size < MIN_ITEMS:
        raise DataError(f"Correlations need at least {MIN_ITEMS} images; got {y_true.size}.")
    return y_true, y_pred


def _correlation(test: Callable, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Run a scipy correlation, returning NaN when either side is constant."""
    if np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        # Undefined rather than zero: a constant predictor must not look like a weak one in tables.
        logger.debug("%s is undefined for constant scores; returning NaN.", test.__name__)
        return float("nan")
    return float(test(y_true, y_pred).statistic)


def srocc(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank-order correlation between subjective and predicted scores.

    Parameters
    ----------
    y_true, y_pred:
        Subjective scores and predictions, one per image (at least 3, all finite).

    Returns
    -------
    float
        In [-1, 1]; NaN if either side is constant.

    Examples
    --------
    >>> srocc([1, 2, 3, 4], [10, 20, 30, 40])
    1.0
    """
    return _correlation(stats.spearmanr, *_pair(y_true, y_pred))


def krocc(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall rank-order correlation (tau-b, which handles ties) between subjective and predicted scores.

    Examples
    --------
    >>> round(krocc([1, 2, 3, 4], [1, 3, 2, 4]), 4)
    0.6667
    """
    return _correlation(stats.kendalltau, *_pair(y_true, y_pred))


def _logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    # b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|)), written with expit so large arguments do not overflow
    with np.errstate(divide="ignore", invalid="ignore"):
        return b2 + (b1 - b2) * special.expit((x - b3) / np.abs(b4))


def _logistic5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    # b1 * (0.5 - 1 / (1 + exp(b2 (x - b3)))) + b4 x + b5; note 0.5 - expit(-z) == expit(z) - 0.5
    return b1 * (special.expit(b2 * (x - b3)) - 0.5) + b4 * x + b5


@dataclass(frozen=True)
class FittedMapping:
    """A fitted monotonic mapping from predictions to the subjective scale; call it on predictions.

    Attributes
    ----------
    kind:
        ``"logistic4"``, ``"logistic5"``, ``"raw"`` (no increasing logistic fits: predictions are
        used unchanged, so PLCC/RMSE equal the raw ones) or ``"constant"`` (predictions were constant,
        so only the mean score can be predicted).
    params:
        Fitted coefficients (betas for the logistic kinds, slope and intercept for linear, the mean for
        constant), in the units of the standardized predictions ``(x - center) / scale``.
    center, scale:
        The standardization applied to predictions before the fit; it keeps the optimizer well
        conditioned whatever the prediction range is (raw SVR outputs, z-scores or 0-100 MOS).

    Examples
    --------
    >>> f = FittedMapping("logistic4", (1.0, 0.0, 0.0, 1.0), center=0.0, scale=1.0)
    >>> f(np.array([0.0])).tolist()
    [0.5]
    """

    kind: str
    params: tuple[float, ...]
    center: float
    scale: float

    def __call__(self, y_pred: ArrayLike) -> np.ndarray:
        x = (np.asarray(y_pred, dtype=np.float64) - self.center) / self.scale
        if self.kind == "logistic4":
            return _logistic4(x, *self.params)
        if self.kind == "logistic5":
            return _logistic5(x, *self.params)
        if self.kind == "raw":
            return np.asarray(y_pred, dtype=np.float64)
        return np.full_like(x, self.params[0])


def logistic_fit(y_pred: ArrayLike, y_true: ArrayLike, params: Literal[4, 5] = 4) -> FittedMapping:
    """Fit the VQEG monotonic logistic that maps predictions onto the subjective scale.

    4 parameters: ``b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|))``;
    5 parameters: ``b1 (0.5 - 1 / (1 + exp(b2 (x - b3)))) + b4 x + b5``.
    Fitted with :func:`scipy.optimize.curve_fit` under bounds that keep the curve monotone increasing
    (4 parameters: ``b1 >= b2``; 5 parameters: ``b1, b2, b4 >= 0``), from starting values read off the
    data. Never raises on a bad fit: when the optimizer fails, gives non-finite values or no increasing
    curve fits (a decreasing or flat relation), it logs a warning and returns the ``"raw"`` mapping
    (predictions unchanged); constant predictions map to the mean score.

    Parameters
    ----------
    y_pred:
        Predicted scores (the x of the fit).
    y_true:
        Subjective scores (the y of the fit).
    params:
        4 or 5.

    Returns
    -------
    FittedMapping
        Callable on new predictions; ``kind`` says which model was actually used.

    Examples
    --------
    >>> x = np.linspace(-3, 3, 50)
    >>> f = logistic_fit(x, 1 / (1 + np.exp(-2 * x)))
    >>> f.kind, bool(np.allclose(f(x), 1 / (1 + np.exp(-2 * x)), atol=1e-4))
    ('logistic4', True)
    """
    if params not in (4, 5):
        raise ConfigError(f"params must be 4 or 5 (the VQEG logistic variants); got {params!r}.")
    y, x_raw = _pair(y_true, y_pred)
    center, scale = float(np.mean(x_raw)), float(np.std(x_raw))
    if scale == 0:
        logger.warning("Predictions are constant; the mapping can only return the mean score.")
        return FittedMapping("constant", (float(np.mean(y)),), center, 1.0)
    x = (x_raw - center) / scale
    raw = FittedMapping("raw", (), center, scale)
    if stats.spearmanr(x, y).statistic <= 0 or np.ptp(y) == 0:
        logger.warning(
            "Predictions do not increase with the scores (SROCC <= 0), so no increasing logistic fits; "
            "PLCC and RMSE are computed on the raw predictions."
        )
        return raw
    low, high = float(np.min(y)), float(np.max(y))
    kind = f"logistic{params}"
    try:
        with warnings.catch_warnings():
            # An inestimable covariance is irrelevant here: only the fitted curve is used.
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            if params == 4:
                # b2 + step * expit((x - b3) / b4) with step >= 0 and b4 > 0: increasing by construction.
                (step, b2, b3, b4), _ = optimize.curve_fit(
                    lambda x, step, b2, b3, b4: _logistic4(x, b2 + step, b2, b3, b4), x, y,
                    p0=[high - low, low, 0.0, 1.0], bounds=([0, -np.inf, -np.inf, 1e-6], np.inf), maxfev=20000,
                )  # fmt: skip
                fitted = np.array([b2 + step, b2, b3, b4])
            else:
                fitted, _ = optimize.curve_fit(
                    _logistic5, x, y, p0=[high - low, 1.0, 0.0, 0.0, float(np.mean(y))],
                    bounds=([0, 0, -np.inf, 0, -np.inf], np.inf), maxfev=20000,
                )  # fmt: skip
        mapped = _logistic4(x, *fitted) if params == 4 else _logistic5(x, *fitted)
        if not (np.all(np.isfinite(fitted)) and np.all(np.isfinite(mapped))):
            raise ValueError("non-finite parameters")
        if np.ptp(mapped) <= 1e-9 * max(high - low, 1e-300):
            raise ValueError("the best increasing curve is flat")
    except (RuntimeError, ValueError, FloatingPointError) as exc:
        logger.warning("The increasing %s fit failed (%s); PLCC and RMSE are computed on the raw predictions.", kind, exc)
        return raw
    return FittedMapping(kind, tuple(float(b) for b in fitted), center, scale)


def _mapped(y_true: np.ndarray, y_pred: np.ndarray, mapping: str | None) -> np.ndarray:
    """Predictions after ``mapping`` (None: unchanged)."""
    if mapping is None:
        return y_pred
    if mapping not in MAPPINGS:
        raise unknown_name_error("mapping", mapping, MAPPINGS)
    return logistic_fit(y_pred, y_true, params=int(mapping[-1]))(y_pred)


def plcc(y_true: ArrayLike, y_pred: ArrayLike, mapping: str | None = "logistic4") -> float:
    """Pearson linear correlation between subjective scores and (mapped) predictions.

    Parameters
    ----------
    y_true, y_pred:
        Subjective scores and predictions, one per image.
    mapping:
        ``"logistic4"`` (default, as the papers report), ``"logistic5"``, or ``None`` for raw predictions.

    Examples
    --------
    >>> x = np.linspace(-4, 4, 40)
    >>> plcc(np.tanh(x), x, mapping=None) < plcc(np.tanh(x), x)
    True
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return _correlation(stats.pearsonr, y_true, _mapped(y_true, y_pred, mapping))


def rmse(y_true: ArrayLike, y_pred: ArrayLike, mapping: str | None = "logistic4") -> float:
    """Root mean squared error between subjective scores and (mapped) predictions, in score units.

    Raw RMSE (``mapping=None``) only makes sense when predictions are on the score scale already.

    Examples
    --------
    >>> rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0], mapping=None)
    1.1547005383792515
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - _mapped(y_true, y_pred, mapping)) ** 2)))


def summary(y_true: ArrayLike, y_pred: ArrayLike, mapping: str | None = "logistic4") -> dict[str, float]:
    """All agreement measures of one test set, fitting the mapping once.

    Returns
    -------
    dict
        Keys ``srocc, plcc, krocc, rmse, plcc_raw, rmse_raw``; ``plcc``/``rmse`` use ``mapping``
        (:func:`summary_and_mapping` also says whether it fell back to the raw predictions).

    Examples
    --------
    >>> s = summary([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    >>> list(s), round(s["srocc"], 6), round(s["rmse_raw"], 6)
    (['srocc', 'plcc', 'krocc', 'rmse', 'plcc_raw', 'rmse_raw'], 1.0, 0.0)
    """
    return summary_and_mapping(y_true, y_pred, mapping)[0]


def summary_and_mapping(y_true: ArrayLike, y_pred: ArrayLike, mapping: str | None = "logistic4") -> tuple[dict[str, float], str]:
    """:func:`summary` and the kind of mapping PLCC/RMSE actually used.

    The kind is ``"logistic4"``/``"logistic5"``, ``"raw"`` when no increasing logistic fitted (the
    mapped PLCC/RMSE then equal the raw ones), ``"constant"`` for constant predictions, or ``"none"``
    for ``mapping=None``.

    Examples
    --------
    >>> summary_and_mapping([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])[1]
    'raw'
    """
    y_true, y_pred = _pair(y_true, y_pred)
    for name, values in (("Subjective scores", y_true), ("Predictions", y_pred)):
        if np.ptp(values) == 0:
            logger.warning("%s are constant, so the correlations are undefined (NaN).", name)
    if mapping is None:
        mapped, kind = y_pred, "none"
    else:
        if mapping not in MAPPINGS:
            raise unknown_name_error("mapping", mapping, MAPPINGS)
        fitted = logistic_fit(y_pred, y_true, params=int(mapping[-1]))
        mapped, kind = fitted(y_pred), fitted.kind
    metrics = {
        "srocc": _correlation(stats.spearmanr, y_true, y_pred),
        "plcc": _correlation(stats.pearsonr, y_true, mapped),
        "krocc": _correlation(stats.kendalltau, y_true, y_pred),
        "rmse": float(np.sqrt(np.mean((y_true - mapped) ** 2))),
        "plcc_raw": _correlation(stats.pearsonr, y_true, y_pred),
        "rmse_raw": float(np.sqrt(np.mean((y_true - y_pred) ** 2))),
    }
    return metrics, kind


def aggregate(rows: Sequence[Mapping[str, float]]) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1) and median of per-split metrics, as the papers tabulate them.

    NaN values (e.g. a split with constant predictions) propagate, so a degenerate split is seen.

    Parameters
    ----------
    rows:
        One mapping per split (such as :func:`summary` results), all with the same keys.

    Returns
    -------
    pandas.DataFrame
        Index ``mean, sd, median``; one column per metric, in the order of the first row.

    Examples
    --------
    >>> aggregate([{"srocc": 0.8}, {"srocc": 0.9}, {"srocc": 1.0}]).round(3)["srocc"].tolist()
    [0.9, 0.1, 0.9]
    """
    if len(rows) == 0:
        raise DataError("aggregate() got no rows; evaluate at least one split first.")
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if set(row) != set(keys):
            raise DataError(
                f"Row {i} has metrics {sorted(row)} but row 0 has {sorted(keys)}; every split must report "
                "the same metrics."
            )
    table = pd.DataFrame([dict(row) for row in rows], columns=keys, dtype=float)
    return pd.DataFrame(
        {
            "mean": table.mean(skipna=False),
            "sd": table.std(ddof=1, skipna=False),
            "median": table.median(skipna=False),
        }
    ).T


def per_group_srocc(y_true: ArrayLike, y_pred: ArrayLike, groups: ArrayLike, min_size: int = MIN_ITEMS) -> float:
    """SROCC within each group (e.g. scene), averaged over groups.

    Used where subjective scores are only comparable inside a group, such as the SCPQD2020 ranks of 15
    phones per scene (seed paper 000): ranking across scenes would mix incomparable scales.

    Parameters
    ----------
    y_true, y_pred:
        Subjective scores and predictions, one per image.
    groups:
        Group label per image.
    min_size:
        Groups with fewer images are skipped (at least 3).

    Examples
    --------
    >>> per_group_srocc([1, 2, 3, 3, 2, 1], [1, 2, 3, 1, 2, 3], ["a", "a", "a", "b", "b", "b"])
    0.0
    """
    y_true, y_pred = _pair(y_true, y_pred)
    groups = np.asarray(groups)
    if groups.shape != y_true.shape:
        raise DataError(f"groups has {groups.size} labels but there are {y_true.size} scores; pass one per image.")
    if min_size < MIN_ITEMS:
        raise ConfigError(f"min_size must be at least {MIN_ITEMS}; got {min_size}.")
    labels, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    kept = np.flatnonzero(counts >= min_size)
    if kept.size == 0:
        raise DataError(
            f"No group has at least {min_size} images (largest: {counts.max()} of {labels.size} groups); "
            "lower min_size or check the group labels."
        )
    values = [_correlation(stats.spearmanr, y_true[inverse == g], y_pred[inverse == g]) for g in kept]
    return float(np.mean(values))


class SignificanceResult(NamedTuple):
    """Outcome of :func:`paired_test`.

    Attributes
    ----------
    statistic:
        Paired t statistic of ``a - b``.
    p_value:
        One-sided p-value for "a is better than b".
    verdict:
        1 if a is significantly better, -1 if significantly worse, 0 if indistinguishable (Table 9 of
        seed paper 003).
    """

    statistic: float
    p_value: float
    verdict: int


def paired_test(
    a: ArrayLike, b: ArrayLike, alternative: Literal["greater", "less"] = "greater", alpha: float = 0.05
) -> SignificanceResult:
    """One-sided paired t-test of two methods' metric over the same splits (seed paper 003, Table 9).

    Parameters
    ----------
    a, b:
        The metric of methods A and B on the same splits, in the same order.
    alternative:
        What "better" means: ``"greater"`` for correlations, ``"less"`` for errors such as RMSE.
    alpha:
        Significance level of each one-sided test (0.05 for the paper's 95 %).

    Returns
    -------
    SignificanceResult
        The t statistic, the p-value of "A better than B", and the verdict: 1 if that test rejects,
        -1 if the opposite one-sided test rejects (A significantly worse), 0 otherwise.

    Examples
    --------
    >>> paired_test([0.91, 0.92, 0.90, 0.93], [0.85, 0.86, 0.85, 0.88]).verdict
    1
    """
    if alternative not in ("greater", "less"):
        raise ConfigError(f"alternative must be 'greater' or 'less' (the direction of 'better'); got {alternative!r}.")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1); got {alpha!r}.")
    a_arr, b_arr = (np.asarray(v, dtype=np.float64).ravel() for v in (a, b))
    if a_arr.shape != b_arr.shape:
        raise DataError(f"a has {a_arr.size} values but b has {b_arr.size}; both must come from the same splits.")
    if a_arr.size < 2 or not (np.all(np.isfinite(a_arr)) and np.all(np.isfinite(b_arr))):
        raise DataError(
            f"paired_test needs at least 2 finite values per method over the same splits; got {a_arr.size} "
            f"with {int(np.sum(~np.isfinite(a_arr)) + np.sum(~np.isfinite(b_arr)))} NaN/inf."
        )
    opposite = "less" if alternative == "greater" else "greater"
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # identical a and b give 0/0: the t statistic is NaN and the verdict "indistinguishable"
        warnings.simplefilter("ignore", RuntimeWarning)
        better = stats.ttest_rel(a_arr, b_arr, alternative=alternative)
        worse = stats.ttest_rel(a_arr, b_arr, alternative=opposite)
    verdict = 1 if better.pvalue < alpha else -1 if worse.pvalue < alpha else 0
    return SignificanceResult(float(better.statistic), float(better.pvalue), verdict)
