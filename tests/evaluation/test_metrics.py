"""Metrics agree with scipy, with hand-computed cases, and survive degenerate predictions."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from deepfeat_iqa.evaluation import metrics
from deepfeat_iqa.errors import ConfigError, DataError


@pytest.fixture()
def noisy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 100, 200)
    return y, y + rng.normal(0, 20, 200)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their positions (written out, not scipy.stats.rankdata)."""
    ranks = np.empty(x.size)
    for i, value in enumerate(x):
        ranks[i] = (x < value).sum() + ((x == value).sum() + 1) / 2
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    da, db = a - a.mean(), b - b.mean()
    return float((da * db).sum() / np.sqrt((da**2).sum() * (db**2).sum()))


def _tau_b(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b from its definition: (concordant - discordant) / sqrt((pairs - ties_a)(pairs - ties_b))."""
    i, j = np.triu_indices(a.size, k=1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    pairs = i.size
    return float((sa * sb).sum() / np.sqrt((pairs - (sa == 0).sum()) * (pairs - (sb == 0).sum())))


def test_correlations_follow_their_definitions(noisy):
    """The textbook formulas written out in the test (no scipy: the code under test calls scipy, and comparing
    it with the same calls could not catch a wrong tie rule or a swapped statistic). Scores rounded to 5 points
    so that both columns carry many ties, where tau-a/tau-b and ordinal/average ranks differ."""
    y, p = (np.round(v / 5) * 5 for v in noisy)
    assert metrics.srocc(y, p) == pytest.approx(_pearson(_average_ranks(y), _average_ranks(p)), abs=1e-12)
    assert metrics.krocc(y, p) == pytest.approx(_tau_b(y, p), abs=1e-12)
    assert metrics.plcc(y, p, mapping=None) == pytest.approx(_pearson(y, p), abs=1e-12)
    assert metrics.rmse(y, p, mapping=None) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)), abs=1e-9)


def test_hand_computed_cases():
    assert metrics.srocc([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert metrics.srocc([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # monotonic but far from linear: ranks agree exactly (Pearson's r on these values is about 0.79)
    assert metrics.srocc([1, 2, 3, 4, 5], [1, 2, 3, 4, 100]) == pytest.approx(1.0, abs=1e-12)
    # one discordant pair of 6: tau = (5 - 1) / 6
    assert metrics.krocc([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    # rank differences d = (0, 0, -1, 1): rho = 1 - 6 * 2 / (4 * (16 - 1))
    assert metrics.srocc([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(1 - 12 / 60)
    # ties in y: ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4) give rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9); of 6 pairs
    # 5 concordant, 0 discordant, 1 tied in y: tau-b = 5 / sqrt((6 - 1) * 6) = sqrt(5/6) (tau-a would be 5/6)
    assert metrics.srocc([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(np.sqrt(0.9), abs=1e-12)
    assert metrics.krocc([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(np.sqrt(5 / 6), abs=1e-12)
    # deviations (-1.5, -0.5, 0.5, 1.5) vs (-1.5, 0.5, -0.5, 1.5): r = 4 / 5; squared errors (0, 1, 1, 0)
    assert metrics.plcc([1, 2, 3, 4], [1, 3, 2, 4], mapping=None) == pytest.approx(0.8, abs=1e-12)
    assert metrics.rmse([1, 2, 3, 4], [1, 3, 2, 4], mapping=None) == pytest.approx(np.sqrt(0.5), abs=1e-12)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "problem"),
    [
        ([1.0, np.nan, 3.0], [1, 2, 3], "NaN"),
        ([1, 2, 3], [1, np.inf, 3], "NaN/inf"),
        ([1, 2, 3, 4], [1, 2, 3], "4 scores but y_pred has 3"),
        ([1, 2], [1, 2], "at least 3"),
    ],
)
def test_bad_inputs_name_the_problem(y_true, y_pred, problem):
    for fn in (metrics.srocc, metrics.krocc, metrics.plcc, metrics.rmse, metrics.summary):
        with pytest.raises(DataError, match=problem.replace("/", ".")):
            fn(y_true, y_pred)


def test_logistic_mapping_improves_plcc_on_sigmoid():
    x = np.linspace(-5, 5, 101)
    y = 10 + 80 / (1 + np.exp(-1.5 * (x - 0.5)))
    assert metrics.plcc(y, x, mapping=None) < 0.95
    assert metrics.plcc(y, x) == pytest.approx(1.0, abs=1e-6)
    assert metrics.plcc(y, x, mapping="logistic5") == pytest.approx(1.0, abs=1e-4)
    assert metrics.rmse(y, x) < 0.01 * metrics.rmse(y, x, mapping=None)


def test_a_decreasing_relation_is_not_mapped_into_a_high_plcc(caplog):
    # Predictions that fall as the scores rise: an unconstrained logistic flips them and reports PLCC ~ +1.
    x = np.linspace(0, 1, 60)
    y = 100 - 90 / (1 + np.exp(-10 * (x - 0.4)))
    with caplog.at_level(logging.WARNING, logger="deepfeat_iqa.evaluation.metrics"):
        mapping = metrics.logistic_fit(x, y)
        result, kind = metrics.summary_and_mapping(y, x)
    assert mapping.kind == kind == "raw" and np.array_equal(mapping(x), x)
    assert result["srocc"] < -0.99 and result["plcc"] == result["plcc_raw"] < -0.9
    assert "raw predictions" in caplog.text


def test_plcc_sign_follows_srocc_on_random_labels():
    rng = np.random.default_rng(3)
    for _ in range(50):
        y, p = rng.normal(size=24), rng.normal(size=24)
        result = metrics.summary(y, p)
        assert np.sign(result["plcc"]) == np.sign(result["srocc"]) or abs(result["srocc"]) < 0.1


def test_the_fitted_logistic_is_increasing():
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    y = np.tanh(x) + 0.3 * rng.normal(size=80)
    grid = np.linspace(x.min() - 1, x.max() + 1, 200)
    for params in (4, 5):
        mapping = metrics.logistic_fit(x, y, params=params)
        assert mapping.kind == f"logistic{params}" and np.all(np.diff(mapping(grid)) >= -1e-12)


def test_degenerate_predictions_do_not_crash(caplog):
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    with caplog.at_level(logging.WARNING, logger="deepfeat_iqa.evaluation.metrics"):
        result = metrics.summary(y, np.full(5, 3.0))
    assert np.isnan(result["srocc"]) and np.isnan(result["plcc"])
    assert result["rmse"] == pytest.approx(np.std(y))  # maps to the mean score
    assert "constant" in caplog.text
    # two distinct prediction values: a step the optimizer cannot resolve must still give a number
    assert np.isfinite(metrics.plcc(y, [0, 0, 0, 0, 1], mapping="logistic5"))


def test_logistic_fit_falls_back_to_raw(monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(metrics.optimize, "curve_fit", fail)
    x = np.arange(10.0)
    with caplog.at_level(logging.WARNING, logger="deepfeat_iqa.evaluation.metrics"):
        mapping = metrics.logistic_fit(x, 2 * x + 1)
    assert mapping.kind == "raw"
    assert np.array_equal(mapping(x), x)
    assert "computed on the raw predictions" in caplog.text


def test_unknown_mapping_and_params():
    with pytest.raises(ConfigError, match="logistic4"):
        metrics.plcc([1, 2, 3], [1, 2, 3], mapping="logistic3")
    with pytest.raises(ConfigError, match="4 or 5"):
        metrics.logistic_fit([1, 2, 3], [1, 2, 3], params=3)


def test_summary_keys_and_values(noisy):
    y, p = noisy
    result = metrics.summary(y, p)
    assert list(result) == list(metrics.SUMMARY_KEYS)
    assert result["plcc_raw"] == pytest.approx(metrics.plcc(y, p, mapping=None))
    assert result["rmse"] == pytest.approx(metrics.rmse(y, p))
    assert result["plcc"] >= result["plcc_raw"] - 1e-9


def test_aggregate_values():
    rows = [{"srocc": 0.8, "rmse": 4.0}, {"srocc": 0.9, "rmse": 2.0}, {"srocc": 0.7, "rmse": 9.0}]
    table = metrics.aggregate(rows)
    assert list(table.index) == ["mean", "sd", "median"]
    assert list(table.columns) == ["srocc", "rmse"]
    assert table.loc["mean", "srocc"] == pytest.approx(0.8)
    assert table.loc["sd", "srocc"] == pytest.approx(0.1)  # ddof=1
    assert table.loc["median", "rmse"] == pytest.approx(4.0)
    with pytest.raises(DataError, match="same metrics"):
        metrics.aggregate([{"srocc": 0.8}, {"plcc": 0.9}])
    with pytest.raises(DataError, match="no rows"):
        metrics.aggregate([])


def test_per_group_srocc():
    y = [1, 2, 3, 4, 3, 2, 1, 5, 6]
    p = [1, 2, 3, 4, 1, 2, 3, 0, 0]
    groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 2  # c is too small and skipped
    assert metrics.per_group_srocc(y, p, groups) == pytest.approx(0.0)  # mean of 1 and -1
    assert metrics.per_group_srocc(y, p, groups, min_size=4) == pytest.approx(1.0)
    with pytest.raises(DataError, match="at least 5 images"):
        metrics.per_group_srocc(y, p, groups, min_size=5)
    with pytest.raises(DataError, match="one per image"):
        metrics.per_group_srocc(y, p, groups[:-1])


def test_paired_test_verdicts():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.80, 0.90, 10)
    better = base + 0.03 + rng.normal(0, 0.005, 10)
    same = base + rng.normal(0, 0.005, 10)
    assert metrics.paired_test(better, base).verdict == 1
    assert metrics.paired_test(base, better).verdict == -1
    assert metrics.paired_test(same, base).verdict == 0
    # Hand-computed: differences (1, 2, 3, 4, 5) have mean 3 and sd sqrt(2.5), so t = 3 / (sqrt(2.5) / sqrt(5))
    # = 3 sqrt(2) = 4.2426 on 4 degrees of freedom; t tables put it between t(0.01) = 3.747 and t(0.005) = 4.604,
    # and the one-sided p is 0.0066178 (the t distribution's tail, not the same ttest_rel call the code makes).
    result = metrics.paired_test(np.arange(1.0, 6.0) + 10, np.full(5, 10.0))
    assert result.statistic == pytest.approx(3 * np.sqrt(2), abs=1e-12)
    assert 0.005 < result.p_value < 0.01 and result.p_value == pytest.approx(0.0066178, abs=1e-6)
    assert metrics.paired_test(np.full(5, 10.0), np.arange(1.0, 6.0) + 10).verdict == -1
    # for errors lower is better: A with smaller RMSE wins
    assert metrics.paired_test(base, better, alternative="less").verdict == 1
    assert metrics.paired_test(base, base).verdict == 0


def test_paired_test_validates():
    with pytest.raises(DataError, match="same splits"):
        metrics.paired_test([1, 2, 3], [1, 2])
    with pytest.raises(ConfigError, match="greater"):
        metrics.paired_test([1, 2], [1, 2], alternative="two-sided")
