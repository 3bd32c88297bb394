"""Support vector regression heads (linear and RBF) with cross-validated C and gamma."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.svm import SVR as _LibSVR
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from deepfeat_iqa.heads import _groups
from deepfeat_iqa.heads._preprocess import BlockStandardizer
from deepfeat_iqa.heads._state import StateMixin

logger = logging.getLogger(__name__)


def _oof_score(y: np.ndarray, oof: np.ndarray) -> tuple[float, float]:
    """Rank key of out-of-fold predictions: SROCC (the IQA criterion), then -MSE to break ties/NaN."""
    mse = float(np.mean((y - oof) ** 2))
    if np.ptp(oof) == 0 or np.ptp(y) == 0:
        return -np.inf, -mse
    return float(stats.spearmanr(y, oof).statistic), -mse


class _KernelSVRHead(StateMixin, RegressorMixin, BaseEstimator, metaclass=ABCMeta):
    """Shared machinery: block standardization, target z-score, precomputed-kernel SVR and CV grid.

    The kernel matrix is computed once on all training rows and sliced per fold and per grid
    point, so a grid of G candidates over K folds costs one O(N^2 D) kernel pass instead of
    G*K of them (measured for the linear kernel at N=1000, D=2048: one libsvm fit with a
    precomputed Gram 0.16-0.5 s against 1.6-2.4 s for ``SVR(kernel="linear")`` and 0.1-1.7 s
    for liblinear, whose dual solver slows sharply as C grows).
    """

    _parameter_constraints: dict = {
        "C": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "C_grid": [tuple, list],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_search_samples": [Interval(Integral, 2, None, closed="left"), None],
        "blocks": [tuple, list, None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def fit(self, X: ArrayLike, y: ArrayLike, *, groups: ArrayLike | None = None) -> _KernelSVRHead:
        """Standardize, pick C (and gamma) by K-fold SROCC when set to ``"auto"``, and refit on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Training scores (MOS or DMOS, any scale).
        groups : array-like of shape (n_samples,) or None
            Content (reference image) of each row. Given, the C/gamma search folds keep every group
            on one side, as the outer evaluation does; ``dfi.fit``/``dfi.evaluate`` pass the
            Dataset's groups. ``None`` treats rows as independent.

        Returns
        -------
        self
            The fitted head.
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        groups = _groups.check_groups(groups, X.shape[0])
        self.preprocessor_ = BlockStandardizer(blocks=self.blocks).fit(X)
        Z = self.preprocessor_.transform(X)
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) or 1.0
        t = (y - self.y_mean_) / self.y_std_

        K_base = self._base_matrix(Z)
        Cs = [float(c) for c in self.C_grid] if self.C == "auto" else [float(self.C)]
        gammas = self._gammas(K_base)
        self.cv_results_: dict[tuple[float, float], float] = {}
        if len(Cs) * len(gammas) > 1:
            if Z.shape[0] < self.cv:
                raise ValueError(
                    f"Choosing C by {self.cv}-fold CV needs at least {self.cv} samples, got n_samples={Z.shape[0]}. "
                    "Pass fewer folds (cv=) or a fixed C and gamma."
                )
            best_key, best = (-np.inf, -np.inf), (Cs[0], gammas[0])
            rows = self._search_rows(Z.shape[0])
            K_search, t_search = K_base[np.ix_(rows, rows)], t[rows]
            folds = _groups.inner_folds(len(rows), self.cv, None if groups is None else groups[rows], self.random_state)
            for gamma in gammas:
                K = self._from_base(K_search, gamma)
                for C in Cs:
                    oof = np.empty_like(t_search)
                    for train, test in folds:
                        svr = self._libsvm(C).fit(K[np.ix_(train, train)], t_search[train])
                        oof[test] = svr.predict(K[np.ix_(test, train)])
                    key = _oof_score(t_search, oof)
                    self.cv_results_[(C, gamma)] = key[0]
                    if key > best_key:
                        best_key, best = key, (C, gamma)
            chosen = f"C={best[0]:g}" + (f" gamma={best[1]:g}" if best[1] else "")
            logger.info("%s: CV chose %s (SROCC %.4f)", type(self).__name__, chosen, best_key[0])
        else:
            best = (Cs[0], gammas[0])
        self.C_, gamma = best
        svr = self._libsvm(self.C_).fit(self._from_base(K_base, gamma), t)
        self.support_vectors_ = Z[svr.support_]
        self.dual_coef_ = svr.dual_coef_.ravel()
        self.intercept_ = float(svr.intercept_[0])
        self._set_gamma(gamma)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict quality scores on the training-score scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Features with the training column layout.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted scores.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = self.preprocessor_.transform(X)
        return (self._decision(Z) + self.intercept_) * self.y_std_ + self.y_mean_

    def _search_rows(self, n: int) -> np.ndarray:
        """Rows the C/gamma search runs on: all, or a seeded subset of ``max_search_samples``.

        libsvm's cost grows about quadratically with N and the grid refits it C*gamma*cv times, so
        above a few thousand rows the search dominated the fit (N=8000: 311 s); the best C moves
        little between 2000 and 8000 rows, and the final fit still uses every row.
        """
        if self.max_search_samples is None or n <= self.max_search_samples:
            return np.arange(n)
        rng = check_random_state(self.random_state)
        return np.sort(rng.choice(n, size=self.max_search_samples, replace=False))

    def _libsvm(self, C: float) -> _LibSVR:
        return _LibSVR(kernel="precomputed", C=C, epsilon=self.epsilon, tol=self.tol)

    @abstractmethod
    def _base_matrix(self, Z: np.ndarray) -> np.ndarray:
        """The gamma-free part of the training kernel (Gram or squared distances), computed once."""

    @abstractmethod
    def _from_base(self, base: np.ndarray, gamma: float) -> np.ndarray:
        """The kernel matrix for one gamma from the base matrix."""

    @abstractmethod
    def _gammas(self, base: np.ndarray) -> list[float]:
        """Absolute kernel-width candidates (one dummy value for the linear kernel)."""

    @abstractmethod
    def _set_gamma(self, gamma: float) -> None:
        """Store what prediction needs for the chosen kernel width."""

    @abstractmethod
    def _decision(self, Z: np.ndarray) -> np.ndarray:
        """Kernel expansion of standardized rows, before the intercept."""


class LinearSVRHead(_KernelSVRHead):
    """Linear-kernel support vector regression on block-standardized features (the seeds' SVR).

    ``C`` is chosen by K-fold cross-validation by default because the best C moves by orders of
    magnitude with feature width and sample size, and an untuned C on pooled deep features can
    cost 0.3 SROCC. The criterion is the SROCC of out-of-fold predictions, the metric IQA reports.
    Targets are z-scored internally, so ``epsilon`` is in units of the training-score standard
    deviation and means the same for MOS on 1-5 and on 0-100.

    Parameters
    ----------
    C : float or "auto", default="auto"
        Inverse regularization strength; ``"auto"`` picks the best of ``C_grid`` by CV.
    C_grid : tuple of float, default=(1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
        Candidates for ``C="auto"``; rows have squared norm about 1 per block after standardization,
        which is what this range is made for.
    epsilon : float, default=0.1
        Half-width of the loss-free tube, in training-score standard deviations.
    cv : int, default=5
        Number of folds for choosing C.
    max_search_samples : int or None, default=2000
        Above this many rows, C is chosen on a seeded subset of this size (the final fit uses all rows).
    blocks : tuple of int or None, default=None
        Widths of concatenated feature blocks, each weighted equally (see :class:`BlockStandardizer`).
    tol : float, default=1e-3
        libsvm stopping tolerance.
    random_state : int, RandomState or None, default=0
        Seed of the fold shuffle, so the chosen C is reproducible.

    Attributes
    ----------
    C_ : float
        The C used for the final fit.
    cv_results_ : dict
        ``(C, 0.0) -> out-of-fold SROCC`` for each candidate (empty when C is fixed).
    coef_ : ndarray of shape (n_kept_features,)
        Weights in the standardized feature space.
    intercept_ : float
        Bias in standardized target units.
    preprocessor_ : BlockStandardizer
        The fitted feature standardizer.
    y_mean_, y_std_ : float
        Training-score mean and standard deviation.
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 20)); y = X[:, 0] + 0.1 * rng.normal(size=120)
    >>> model = LinearSVRHead().fit(X, y)
    >>> bool(np.corrcoef(model.predict(X), y)[0, 1] > 0.95)
    True
    """

    def __init__(
        self,
        *,
        C: float | str = "auto",
        C_grid: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
        epsilon: float = 0.1,
        cv: int = 5,
        max_search_samples: int | None = 2000,
        blocks: tuple[int, ...] | None = None,
        tol: float = 1e-3,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.C_grid = C_grid
        self.epsilon = epsilon
        self.cv = cv
        self.max_search_samples = max_search_samples
        self.blocks = blocks
        self.tol = tol
        self.random_state = random_state

    def _base_matrix(self, Z: np.ndarray) -> np.ndarray:
        return Z @ Z.T

    def _from_base(self, base: np.ndarray, gamma: float) -> np.ndarray:
        return base

    def _gammas(self, base: np.ndarray) -> list[float]:
        return [0.0]

    def _set_gamma(self, gamma: float) -> None:
        self.coef_ = self.dual_coef_ @ self.support_vectors_

    def _decision(self, Z: np.ndarray) -> np.ndarray:
        return Z @ self.coef_


class RBFSVRHead(_KernelSVRHead):
    """RBF-kernel support vector regression with C and gamma chosen by cross-validation.

    The usual strong nonlinear baseline for deep-feature IQA. The squared-distance matrix is
    computed once and every (C, gamma) candidate reuses it, so the grid costs libsvm solves only.
    ``gamma="auto"`` searches multiples of ``1/median squared distance`` between training rows,
    which puts the kernel width on the data's own scale whatever the feature width.

    Parameters
    ----------
    C : float or "auto", default="auto"
        Inverse regularization strength; ``"auto"`` picks from ``C_grid`` by CV.
    C_grid : tuple of float, default=(0.1, 1.0, 10.0, 100.0)
        Candidates for ``C="auto"``.
    gamma : float or "auto", default="auto"
        RBF width ``exp(-gamma * |z - z'|^2)`` in the standardized space; ``"auto"`` picks from
        ``gamma_grid`` by CV.
    gamma_grid : tuple of float, default=(0.25, 1.0, 4.0)
        Candidates for ``gamma="auto"``, as multiples of ``1/median squared distance``.
    epsilon : float, default=0.1
        Half-width of the loss-free tube, in training-score standard deviations.
    cv : int, default=5
        Number of folds for the search.
    max_search_samples : int or None, default=2000
        Above this many rows, the search runs on a seeded subset of this size (the final fit uses all rows).
    blocks : tuple of int or None, default=None
        Widths of concatenated feature blocks (see :class:`BlockStandardizer`).
    tol : float, default=1e-3
        libsvm stopping tolerance.
    random_state : int, RandomState or None, default=0
        Seed of the fold shuffle.

    Attributes
    ----------
    C_, gamma_ : float
        The values used for the final fit (``gamma_`` absolute).
    cv_results_ : dict
        ``(C, gamma) -> out-of-fold SROCC`` for each candidate.
    support_vectors_ : ndarray
        Standardized training rows that are support vectors.
    dual_coef_ : ndarray
        Their dual coefficients.
    intercept_ : float
        Bias in standardized target units.
    preprocessor_ : BlockStandardizer
        The fitted feature standardizer.
    y_mean_, y_std_ : float
        Training-score mean and standard deviation.
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(150, 3)); y = np.sin(2 * X[:, 0])
    >>> model = RBFSVRHead(cv=3).fit(X, y)
    >>> bool(np.corrcoef(model.predict(X), y)[0, 1] > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **_KernelSVRHead._parameter_constraints,
        "gamma": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "gamma_grid": [tuple, list],
    }

    def __init__(
        self,
        *,
        C: float | str = "auto",
        C_grid: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0),
        gamma: float | str = "auto",
        gamma_grid: tuple[float, ...] = (0.25, 1.0, 4.0),
        epsilon: float = 0.1,
        cv: int = 5,
        max_search_samples: int | None = 2000,
        blocks: tuple[int, ...] | None = None,
        tol: float = 1e-3,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.C_grid = C_grid
        self.gamma = gamma
        self.gamma_grid = gamma_grid
        self.epsilon = epsilon
        self.cv = cv
        self.max_search_samples = max_search_samples
        self.blocks = blocks
        self.tol = tol
        self.random_state = random_state

    @staticmethod
    def _sq_dist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        d = (A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * A @ B.T
        return np.maximum(d, 0.0)

    def _base_matrix(self, Z: np.ndarray) -> np.ndarray:
        return self._sq_dist(Z, Z)

    def _from_base(self, base: np.ndarray, gamma: float) -> np.ndarray:
        return np.exp(-gamma * base)

    def _gammas(self, base: np.ndarray) -> list[float]:
        if self.gamma != "auto":
            return [float(self.gamma)]
        off_diagonal = base[np.triu_indices_from(base, k=1)]
        median = float(np.median(off_diagonal)) if off_diagonal.size else 0.0
        median = median if median > 0 else 1.0
        return [float(g) / median for g in self.gamma_grid]

    def _set_gamma(self, gamma: float) -> None:
        self.gamma_ = gamma

    def _decision(self, Z: np.ndarray) -> np.ndarray:
        return self._from_base(self._sq_dist(Z, self.support_vectors_), self.gamma_) @ self.dual_coef_
