"""SVR heads and the block standardizer: scikit-learn conformance, CV-chosen C, block weighting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads import BlockStandardizer, LinearSVRHead, RBFSVRHead


def _latent_features(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features that are a noisy linear image of 4 latent factors, as pooled deep features roughly are."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    X = z @ rng.normal(size=(4, dim)) + 0.3 * rng.normal(size=(n, dim))
    return X, z


@parametrize_with_checks(
    [
        BlockStandardizer(),
        LinearSVRHead(cv=3, C_grid=(0.1, 1.0)),
        RBFSVRHead(cv=3, C_grid=(1.0, 10.0), gamma_grid=(1.0,)),
    ]
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_linear_svr_learns_a_linear_target_and_reports_C():
    X, z = _latent_features(300, 64, seed=0)
    y = 3.0 + 2.0 * z[:, 0] - z[:, 1] + 0.1 * np.random.default_rng(1).normal(size=300)
    model = LinearSVRHead().fit(X[:200], y[:200])
    assert model.C_ in model.C_grid
    assert set(model.cv_results_) == {(c, 0.0) for c in model.C_grid}
    assert spearmanr(model.predict(X[200:]), y[200:]).statistic > 0.95


def test_auto_C_picks_the_cv_best_C_and_predicts_held_out_rows_near_the_best_fixed_C():
    """C is chosen by CV on the 200 training rows; measured on 100 held-out rows it must come within 0.01 SROCC
    of the best C of the grid in hindsight (held-out 0.8796 vs 0.8845 here) and clearly beat the grid's ends
    (C=1e-3: 0.866, C=100: 0.714). The old check (no worse than C=1e-4, minus 0.02) passed with any C."""
    X, z = _latent_features(300, 256, seed=2)
    y = z[:, 0] + 0.5 * np.random.default_rng(3).normal(size=300)
    tuned = LinearSVRHead().fit(X[:200], y[:200])
    score = lambda m: spearmanr(m.predict(X[200:]), y[200:]).statistic  # noqa: E731
    assert tuned.C_ == max(tuned.cv_results_, key=tuned.cv_results_.get)[0]
    fixed = {C: score(LinearSVRHead(C=C).fit(X[:200], y[:200])) for C in tuned.C_grid}
    assert score(tuned) >= max(fixed.values()) - 0.01, (score(tuned), fixed)
    assert score(tuned) > max(fixed[min(fixed)], fixed[max(fixed)]) + 0.01, (score(tuned), fixed)


def test_rbf_svr_fits_a_smooth_nonlinear_target():
    rng = np.random.default_rng(4)
    X = rng.uniform(-2, 2, size=(300, 2))
    y = np.sin(2 * X[:, 0]) + 0.05 * rng.normal(size=300)
    model = RBFSVRHead().fit(X[:200], y[:200])
    assert model.gamma_ > 0
    assert spearmanr(model.predict(X[200:]), y[200:]).statistic > 0.9


def test_block_standardizer_gives_each_block_equal_weight():
    rng = np.random.default_rng(5)
    wide, narrow = rng.normal(5, 3, size=(400, 512)), rng.normal(-1, 0.1, size=(400, 8))
    Z = BlockStandardizer(blocks=(512, 8)).fit_transform(np.hstack([wide, narrow]))
    energy_wide = (Z[:, :512] ** 2).sum(axis=1).mean()
    energy_narrow = (Z[:, 512:] ** 2).sum(axis=1).mean()
    np.testing.assert_allclose([energy_wide, energy_narrow], [1.0, 1.0], rtol=1e-10)
    # a single block would let the wide layer own 98% of the squared norm
    Z1 = BlockStandardizer().fit_transform(np.hstack([wide, narrow]))
    assert (Z1[:, :512] ** 2).sum(axis=1).mean() / (Z1**2).sum(axis=1).mean() == pytest.approx(512 / 520)


def test_block_standardizer_drops_constant_features():
    rng = np.random.default_rng(6)
    X = np.hstack([rng.normal(size=(50, 3)), np.full((50, 2), 7.0), rng.normal(size=(50, 1))])
    scaler = BlockStandardizer(blocks=(5, 1)).fit(X)
    assert scaler.support_.tolist() == [True, True, True, False, False, True]
    Z = scaler.transform(X)
    assert Z.shape == (50, 4) and np.isfinite(Z).all()
    np.testing.assert_allclose(scaler.weights_[:3], 1 / np.sqrt(3))  # block dim counts kept features only


def test_block_standardizer_all_constant_input_maps_to_zeros():
    Z = BlockStandardizer().fit_transform(np.ones((10, 3)))
    assert Z.shape == (10, 3) and not Z.any()


@pytest.mark.parametrize("blocks", [(3, 3), (4, 0, 2), (2.5, 3.5)])
def test_block_standardizer_rejects_wrong_blocks_with_the_fix(blocks):
    with pytest.raises(ConfigError, match="blocks"):
        BlockStandardizer(blocks=blocks).fit(np.random.default_rng(0).normal(size=(10, 5)))


def test_search_on_a_subset_above_max_search_samples_still_fits_every_row() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 8))
    y = X @ rng.normal(size=8) + 0.05 * rng.normal(size=300)
    head = LinearSVRHead(max_search_samples=80)
    rows = head._search_rows(200)
    assert rows.size == 80 and np.array_equal(rows, head._search_rows(200))  # seeded
    assert np.array_equal(LinearSVRHead(max_search_samples=None)._search_rows(300), np.arange(300))
    fitted = head.fit(X[:200], y[:200])
    assert fitted.C_ in head.C_grid
    assert spearmanr(fitted.predict(X[200:]), y[200:]).statistic > 0.95  # held-out rows, not the training ones
    # the final model is fitted on all 200 rows with the chosen C, not on the 80 searched ones
    every_row = LinearSVRHead(C=fitted.C_).fit(X[:200], y[:200])
    np.testing.assert_allclose(fitted.predict(X[200:]), every_row.predict(X[200:]), rtol=1e-6, atol=1e-6)
