"""Exact Gaussian process regression head (gpytorch, Matern 5/2) with optional optuna tuning."""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import gpytorch
import numpy as np
import torch
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.errors import NotPSDError
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.decomposition import PCA
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError, DeepfeatError
from ._preprocess import BlockStandardizer
from ._tuning import default_study_name, run_search

logger = logging.getLogger(__name__)

#: Rows per prediction batch: bounds the test-by-train kernel block to ~256 MB at N=8000 in float64.
_PREDICT_BATCH = 4096
#: Largest matrix gpytorch factorizes by Cholesky; above gpytorch's default (800) it would switch to
#: CG + stochastic Lanczos, whose noisy marginal likelihood stalls L-BFGS. We want the exact one.
_MAX_CHOLESKY = 1_000_000
#: Candidate PCA sizes for the search (those below the feature and fold sizes are offered).
_PCA_LADDER = (16, 32, 64, 128, 256)


class _CachedMatern(gpytorch.kernels.MaternKernel):
    """Matern kernel that computes the training distance matrix once per fit.

    With one lengthscale ``l``, ``K = f(|x - x'| / l)``, so the O(N^2 D) distance pass does not
    depend on any hyperparameter; gpytorch's kernel redoes it at every optimizer step, which for
    2048-dim features costs more than the Cholesky. Here the distances of the training inputs (the
    same tensor object at every step) are kept and only the O(N^2) elementwise part is redone.
    Other inputs and the ARD case go through gpytorch unchanged.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cached: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params: Any) -> torch.Tensor:
        isotropic = self.ard_num_dims is None or self.ard_num_dims == 1
        if diag or not isotropic or x1 is not x2 or x1.requires_grad or params.get("last_dim_is_batch"):
            return super().forward(x1, x2, diag=diag, **params)
        if self._cached is None or self._cached[0] is not x1:
            centered = x1 - x1.mean(dim=-2, keepdim=True)
            self._cached = (x1, torch.cdist(centered, centered).clamp_min_(0.0))
        r = self._cached[1] / self.lengthscale
        return (1.0 + math.sqrt(5.0) * r + (5.0 / 3.0) * r**2) * torch.exp(-math.sqrt(5.0) * r)


class _NegLogMarginal(torch.autograd.Function):
    """``0.5 r^T K^-1 r + 0.5 log|K|`` by one jittered Cholesky, with the closed-form gradient.

    The gradient ``0.5 (K^-1 - a a^T)`` with ``a = K^-1 r`` costs one ``cholesky_inverse``; autograd
    through the Cholesky (ours or gpytorch's linear-operator path) took 2-3x longer per step at
    N=1000 for the same value and gradient (measured: 0.23 s against 0.5-0.7 s).
    """

    @staticmethod
    def forward(ctx: Any, K: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        L = psd_safe_cholesky(K)
        a = torch.cholesky_solve(r.unsqueeze(-1), L)
        ctx.save_for_backward(L, a)
        return 0.5 * (r.unsqueeze(-1) * a).sum() + L.diagonal().log().sum()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        L, a = ctx.saved_tensors
        grad_K = torch.cholesky_inverse(L).sub_(a @ a.mT).mul_(0.5 * grad)
        return grad_K, -grad * a.squeeze(-1)


def _neg_log_marginal(model: _ExactMatern, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Per-sample negative exact log marginal likelihood (equals gpytorch's ExactMarginalLogLikelihood)."""
    K = model.covar_module(x).to_dense()
    K = K + model.likelihood.noise * torch.eye(len(x), dtype=x.dtype, device=x.device)
    r = t - model.mean_module(x)
    return (_NegLogMarginal.apply(K, r) + 0.5 * len(x) * math.log(2 * math.pi)) / len(x)


class _ExactMatern(gpytorch.models.ExactGP):
    """Constant mean + scaled Matern 5/2 kernel, exact inference."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        likelihood: gpytorch.likelihoods.GaussianLikelihood,
        ard_dims: int | None,
    ) -> None:
        super().__init__(x, y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(_CachedMatern(nu=2.5, ard_num_dims=ard_dims))

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but torch sees no CUDA device here; pass device='cpu' or 'auto'.")
    return torch.device(device)


def _not_psd(exc: Exception, noise_floor: float, n_components: int | None, standardize: str) -> DeepfeatError:
    pca = f"n_components={n_components}" if n_components else "n_components=64 (PCA before the kernel)"
    return DeepfeatError(
        "GPR: the Matern covariance matrix of the training rows is not positive definite even after "
        f"adding jitter ({exc}). Near-duplicate rows with a tiny noise variance cause this. Raise "
        f"noise_floor (now {noise_floor:g}; try {max(noise_floor * 100, 1e-2):g}), reduce the input "
        f"dimension with {'a smaller ' if n_components else ''}{pca}, or standardize the features "
        f"(standardize='block'{', now ' + repr(standardize) if standardize != 'block' else ''})."
    )


class GPR(RegressorMixin, BaseEstimator):
    """Exact Gaussian process regression with a Matern 5/2 kernel (seed paper 003), in gpytorch.

    The model is a constant mean plus ``outputscale * Matern52(|z - z'| / lengthscale)`` on the
    standardized (optionally PCA-reduced) features, with Gaussian noise bounded below by
    ``noise_floor``; targets are z-scored internally. Lengthscale(s), outputscale, noise and mean
    are fit by maximizing the exact marginal likelihood (Cholesky, float64 by default) with L-BFGS,
    which converges in tens of steps on these four smooth parameters. What the likelihood does not
    choose well -- the noise floor (it overfits noise on small sets), the PCA size and the
    standardization -- can then be searched by Bayesian optimization with optuna against K-fold
    SROCC, as seed 003 tuned its kernel "sigma". Tuning is off by default (``tune_trials=0``)
    because each trial costs ``tune_cv`` refits; 20-30 trials are what it needs to help.

    For N above ``max_fit_samples`` the hyperparameters are fit on a random subset of that size
    (four scalars are well determined by a few thousand rows, and each likelihood step costs
    O(N^3)); the posterior then conditions on all rows exactly.

    Parameters
    ----------
    n_components : int or None, default=None
        Reduce the standardized features to this many principal components before the kernel.
    ard : bool, default=False
        One lengthscale per principal component (needs ``n_components``; raw deep features are too
        wide for per-dimension lengthscales).
    noise_floor : float, default=1e-4
        Lower bound of the noise variance, in units of the training-score variance. 1e-4 is a noise
        sd of 1% of the score sd, MATLAB fitrgp's default ``SigmaLowerBound`` that seed 003 used.
    standardize : {"block", "feature", "none"}, default="block"
        ``"block"``: :class:`BlockStandardizer` with ``blocks``; ``"feature"``: z-score with one
        block whatever ``blocks`` says; ``"none"``: raw features.
    blocks : tuple of int or None, default=None
        Widths of concatenated feature blocks (see :class:`BlockStandardizer`).
    optimizer : {"lbfgs", "adam"}, default="lbfgs"
        Marginal-likelihood optimizer. Adam is there for float32 on GPU, where L-BFGS line searches
        can stall on round-off.
    max_iter : int, default=100
        Most optimizer iterations.
    tol : float, default=1e-7
        Stop when the per-sample negative log likelihood changes by less than this.
    lr : float, default=0.05
        Adam learning rate (L-BFGS uses a strong-Wolfe line search instead).
    max_fit_samples : int or None, default=3000
        Rows used for the hyperparameter fit; ``None`` uses all.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the kernel algebra; float64 keeps Cholesky stable with small noise.
    device : str, default="auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    tune_trials : int, default=0
        Completed optuna trials the study should hold; 0 disables tuning.
    tune_metric : {"srocc", "nll"}, default="srocc"
        Objective: K-fold out-of-fold SROCC (maximized) or mean predictive negative log density
        (minimized; rewards calibrated ``return_std``).
    tune_sampler : {"gp", "tpe"}, default="gp"
        optuna's GPSampler (a Matern 5/2 GP itself) or TPE.
    tune_cv : int, default=3
        Folds of the tuning objective.
    tune_storage : str or None, default=None
        optuna storage URL (``"sqlite:///gpr.db"``) to make the search resumable and shareable.
    tune_study_name : str or None, default=None
        Study name in the storage; default derives from a digest of the data and the search
        settings, so a refit on the same data resumes and other data never mixes in.
    random_state : int, RandomState or None, default=0
        Seeds the fit subset, PCA, folds and the sampler.

    Attributes
    ----------
    preprocessor_ : BlockStandardizer or None
        The fitted standardizer (``None`` with ``standardize="none"``).
    pca_ : PCA or None
        The fitted PCA, if any.
    X_fit_ : ndarray of shape (n_samples, n_inputs)
        Preprocessed training inputs the posterior conditions on.
    y_fit_ : ndarray of shape (n_samples,)
        Standardized training targets.
    y_mean_, y_std_ : float
        Training-score mean and standard deviation.
    gp_state_ : dict of str to torch.Tensor
        Fitted gpytorch state dict (CPU); with ``X_fit_`` and ``y_fit_`` it rebuilds the model.
    lengthscale_ : ndarray
        Fitted lengthscale(s) in the preprocessed space.
    outputscale_, noise_ : float
        Fitted signal and noise variances, in training-score variance units.
    log_marginal_likelihood_value_ : float
        Per-sample exact log marginal likelihood at the optimum (on the fit subset).
    n_iter_ : int
        Optimizer iterations used.
    noise_floor_, n_components_, standardize_ : float, int or None, str
        Values used by the final fit (the tuned ones when tuning).
    best_params_ : dict
        Best trial's parameters (only when tuning).
    study_ : optuna.Study
        The search (only when tuning; not pickled when it lives in a storage, reload it from there).
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(200, 3)); y = np.sin(2 * X[:, 0]) + 0.05 * rng.normal(size=200)
    >>> model = GPR().fit(X, y)
    >>> mean, sd = model.predict(X[:5], return_std=True)
    >>> bool(np.corrcoef(model.predict(X), y)[0, 1] > 0.95), sd.shape
    (True, (5,))
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "ard": ["boolean"],
        "noise_floor": [Interval(Real, 0, None, closed="left")],
        "standardize": [StrOptions({"block", "feature", "none"})],
        "blocks": [tuple, list, None],
        "optimizer": [StrOptions({"lbfgs", "adam"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_fit_samples": [Interval(Integral, 2, None, closed="left"), None],
        "dtype": [StrOptions({"float64", "float32"})],
        "device": [str],
        "tune_trials": [Interval(Integral, 0, None, closed="left")],
        "tune_metric": [StrOptions({"srocc", "nll"})],
        "tune_sampler": [StrOptions({"gp", "tpe"})],
        "tune_cv": [Interval(Integral, 2, None, closed="left")],
        "tune_storage": [str, None],
        "tune_study_name": [str, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_components: int | None = None,
        ard: bool = False,
        noise_floor: float = 1e-4,
        standardize: str = "block",
        blocks: tuple[int, ...] | None = None,
        optimizer: str = "lbfgs",
        max_iter: int = 100,
        tol: float = 1e-7,
        lr: float = 0.05,
        max_fit_samples: int | None = 3000,
        dtype: str = "float64",
        device: str = "auto",
        tune_trials: int = 0,
        tune_metric: str = "srocc",
        tune_sampler: str = "gp",
        tune_cv: int = 3,
        tune_storage: str | None = None,
        tune_study_name: str | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.n_components = n_components
        self.ard = ard
        self.noise_floor = noise_floor
        self.standardize = standardize
        self.blocks = blocks
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.lr = lr
        self.max_fit_samples = max_fit_samples
        self.dtype = dtype
        self.device = device
        self.tune_trials = tune_trials
        self.tune_metric = tune_metric
        self.tune_sampler = tune_sampler
        self.tune_cv = tune_cv
        self.tune_storage = tune_storage
        self.tune_study_name = tune_study_name
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X: ArrayLike, y: ArrayLike) -> GPR:
        """Fit the kernel hyperparameters by exact marginal likelihood, after an optional optuna search.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Training scores (any scale).

        Returns
        -------
        self : GPR
            The fitted head.
        """
        self._validate_params()
        if self.ard and self.n_components is None:
            raise ConfigError(
                "ard=True needs n_components: per-dimension lengthscales are fit over principal "
                "components, not thousands of raw features. Pass e.g. n_components=64, or ard=False."
            )
        _resolve_device(self.device)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        config = {"noise_floor": self.noise_floor, "n_components": self.n_components, "standardize": self.standardize}
        if self.tune_trials:
            self.study_ = self._search(X, y, config)
            self.best_params_ = dict(self.study_.best_params)
            config.update(self.best_params_)
        self._fit_config(X, y, config)
        return self

    def _fit_config(self, X: np.ndarray, y: np.ndarray, config: dict[str, Any]) -> None:
        """Preprocess, fit hyperparameters and store the state the posterior is rebuilt from."""
        self.noise_floor_ = float(config["noise_floor"])
        self.standardize_ = str(config["standardize"])
        rng = check_random_state(self.random_state)
        blocks = self.blocks if self.standardize_ == "block" else None
        self.preprocessor_ = None if self.standardize_ == "none" else BlockStandardizer(blocks=blocks).fit(X)
        Z = X if self.preprocessor_ is None else self.preprocessor_.transform(X)
        n_components = config["n_components"]
        self.pca_ = None
        if n_components is not None:
            n_components = min(int(n_components), *Z.shape)
            self.pca_ = PCA(n_components=n_components, random_state=rng.randint(2**31 - 1)).fit(Z)
            Z = self.pca_.transform(Z)
        self.n_components_ = n_components
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) or 1.0
        self.X_fit_ = np.ascontiguousarray(Z)
        self.y_fit_ = (y - self.y_mean_) / self.y_std_

        rows = np.arange(len(y))
        if self.max_fit_samples is not None and len(y) > self.max_fit_samples:
            rows = np.sort(rng.choice(len(y), self.max_fit_samples, replace=False))
            logger.info("GPR: fitting hyperparameters on %d of %d rows.", len(rows), len(y))
        device, dtype = _resolve_device(self.device), getattr(torch, self.dtype)
        x = torch.as_tensor(self.X_fit_[rows], dtype=dtype, device=device)
        t = torch.as_tensor(self.y_fit_[rows], dtype=dtype, device=device)
        model = self._build(x, t)
        self._init_hyperparameters(model, x)
        with self._settings():
            try:
                loss, self.n_iter_ = self._optimize(model, x, t)
            except NotPSDError as exc:
                raise _not_psd(exc, self.noise_floor_, self.n_components_, self.standardize_) from exc
        self.log_marginal_likelihood_value_ = -loss
        self.gp_state_ = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        self.lengthscale_ = model.covar_module.base_kernel.lengthscale.detach().cpu().numpy().ravel()
        self.outputscale_ = float(model.covar_module.outputscale.detach())
        self.noise_ = float(model.likelihood.noise.detach())
        # The full-data posterior is built on first predict, into a holder created here, so predict
        # fills a cache without changing the estimator's attributes.
        self._posterior_cache: dict[str, _ExactMatern] = {}
        logger.info(
            "GPR: %d iterations, log ML %.4f, lengthscale %s, outputscale %.3g, noise %.3g",
            self.n_iter_, self.log_marginal_likelihood_value_, np.round(self.lengthscale_[:4], 4),
            self.outputscale_, self.noise_,
        )

    def _build(self, x: torch.Tensor, t: torch.Tensor) -> _ExactMatern:
        """A model on (x, t) with the noise bounded below by the effective noise floor."""
        constraint = gpytorch.constraints.GreaterThan(self.noise_floor_)
        likelihood = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=constraint)
        ard_dims = x.shape[1] if self.ard else None
        return _ExactMatern(x, t, likelihood, ard_dims).to(device=x.device, dtype=x.dtype)

    @staticmethod
    def _init_hyperparameters(model: _ExactMatern, x: torch.Tensor) -> None:
        """Start at the median pairwise distance, unit signal variance and 10% noise (z-scored target)."""
        sample = x[: min(len(x), 500)]
        distances = torch.pdist(sample) if len(sample) > 1 else torch.ones(1, dtype=x.dtype)
        median = float(distances.median()) if float(distances.median()) > 0 else 1.0
        model.covar_module.base_kernel.lengthscale = median
        model.covar_module.outputscale = 1.0
        floor = float(model.likelihood.noise_covar.raw_noise_constraint.lower_bound)
        model.likelihood.noise = max(0.1, 2.0 * floor)

    def _optimize(self, model: _ExactMatern, x: torch.Tensor, t: torch.Tensor) -> tuple[float, int]:
        """Maximize the per-sample exact log marginal likelihood; return (final loss, iterations)."""
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = _neg_log_marginal(model, x, t)
            loss.backward()
            return loss

        if self.optimizer == "lbfgs":
            optimizer = torch.optim.LBFGS(
                params, lr=1.0, max_iter=self.max_iter, tolerance_change=self.tol,
                tolerance_grad=1e-6, history_size=20, line_search_fn="strong_wolfe",
            )
            # A strong-Wolfe L-BFGS run can stop early on a step that barely moves; restarting from
            # there (fresh curvature history) until the loss stops improving reaches the optimum.
            previous, n_iter = math.inf, 0
            while n_iter < self.max_iter:
                loss = float(optimizer.step(closure).detach())
                done = int(optimizer.state[optimizer._params[0]].get("n_iter", 0))
                optimizer.state.clear()
                optimizer.param_groups[0]["max_iter"] = self.max_iter - n_iter - done
                n_iter += done
                if previous - loss < self.tol or done == 0:
                    break
                previous = loss
        else:
            optimizer = torch.optim.Adam(params, lr=self.lr)
            previous, n_iter = math.inf, 0
            for n_iter in range(1, self.max_iter + 1):
                loss = float(optimizer.step(closure).detach())
                if abs(previous - loss) < self.tol:
                    break
                previous = loss
        with torch.no_grad():
            loss = float(_neg_log_marginal(model, x, t))
        return loss, n_iter

    @staticmethod
    @contextlib.contextmanager
    def _settings() -> Iterator[None]:
        """Exact Cholesky algebra with small jitter, for fit and predict alike.

        Jitter warnings are silenced: a failure after the last jitter try raises NotPSDError,
        which is turned into an error that says what to change.
        """
        with contextlib.ExitStack() as stack:
            stack.enter_context(gpytorch.settings.max_cholesky_size(_MAX_CHOLESKY))
            stack.enter_context(gpytorch.settings.cholesky_jitter(float_value=1e-6, double_value=1e-8))
            stack.enter_context(gpytorch.settings.cholesky_max_tries(4))
            stack.enter_context(gpytorch.settings.debug(False))
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", gpytorch.utils.warnings.NumericalWarning)
            yield

    # -------------------------------------------------------------- tuning
    def _search(self, X: np.ndarray, y: np.ndarray, start: dict[str, Any]) -> Any:
        """Bayesian search of noise floor, PCA size and standardization by K-fold CV."""
        folds = list(KFold(self.tune_cv, shuffle=True, random_state=self.random_state).split(X))
        smallest_fold = min(len(train) for train, _ in folds)
        ladder = [k for k in _PCA_LADDER if k < min(X.shape[1], smallest_fold)]
        pca_choices: list[int | None] = ([] if self.ard else [None]) + ladder
        if start["n_components"] not in pca_choices:
            pca_choices.append(start["n_components"])
        standardize_choices = ["block", "feature"] + (["none"] if start["standardize"] == "none" else [])
        low, high = min(1e-4, start["noise_floor"] or 1e-4), max(1.0, start["noise_floor"])
        start = {**start, "noise_floor": min(max(start["noise_floor"], low), high)}

        def space(trial: Any) -> dict[str, Any]:
            return {
                "noise_floor": trial.suggest_float("noise_floor", low, high, log=True),
                "n_components": trial.suggest_categorical("n_components", pca_choices),
                "standardize": trial.suggest_categorical("standardize", standardize_choices),
            }

        base = clone(self).set_params(tune_trials=0, tune_storage=None)
        nll = self.tune_metric == "nll"

        def objective(params: dict[str, Any]) -> float:
            mean, sd = np.empty_like(y), np.empty_like(y)
            try:
                for train, test in folds:
                    model = clone(base).set_params(**params).fit(X[train], y[train])
                    mean[test], sd[test] = model.predict(X[test], return_std=True)
            except DeepfeatError as exc:
                logger.warning("GPR tuning: %s failed: %s", params, exc)
                return float("nan")
            if nll:
                return float(np.mean(0.5 * np.log(2 * np.pi * sd**2) + (y - mean) ** 2 / (2 * sd**2)))
            if np.ptp(mean) == 0 or np.ptp(y) == 0:
                return -1.0
            return float(stats.spearmanr(y, mean).statistic)

        name = self.tune_study_name or default_study_name(
            "gpr", X, y, metric=self.tune_metric, cv=self.tune_cv, seed=self.random_state,
            blocks=self.blocks, ard=self.ard,
        )
        seed = self.random_state if isinstance(self.random_state, Integral) else None
        return run_search(
            objective, space, n_trials=self.tune_trials, direction="minimize" if nll else "maximize",
            sampler=self.tune_sampler, seed=seed, storage=self.tune_storage, study_name=name, start=start,
        )

    # -------------------------------------------------------------- predict
    def predict(self, X: ArrayLike, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Posterior predictive mean (and standard deviation) in training-score units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Features with the training column layout.
        return_std : bool, default=False
            Also return the predictive standard deviation of a new score (signal and noise), which
            grows away from the training data.

        Returns
        -------
        mean : ndarray of shape (n_samples,)
            Predicted scores.
        std : ndarray of shape (n_samples,)
            Predictive standard deviations, only when ``return_std=True``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = X if self.preprocessor_ is None else self.preprocessor_.transform(X)
        if self.pca_ is not None:
            Z = self.pca_.transform(Z)
        model = self._posterior()
        param = next(model.parameters())
        means, sds = [], []
        with torch.no_grad(), self._settings(), gpytorch.settings.skip_posterior_variances(not return_std):
            try:
                for start in range(0, len(Z), _PREDICT_BATCH):
                    z = torch.as_tensor(Z[start : start + _PREDICT_BATCH], dtype=param.dtype, device=param.device)
                    out = model.likelihood(model(z))
                    means.append(out.mean.cpu().numpy())
                    if return_std:
                        sds.append(out.variance.clamp_min(0.0).sqrt().cpu().numpy())
            except NotPSDError as exc:
                raise _not_psd(exc, self.noise_floor_, self.n_components_, self.standardize_) from exc
        mean = np.concatenate(means) * self.y_std_ + self.y_mean_ if means else np.empty(0)
        if not return_std:
            return mean
        return mean, (np.concatenate(sds) if sds else np.empty(0)) * self.y_std_

    def _posterior(self) -> _ExactMatern:
        """The model conditioned on all training rows, rebuilt from the stored state when missing."""
        if "model" not in self._posterior_cache:
            dtype = getattr(torch, self.dtype)
            device = _resolve_device(self.device)
            x = torch.as_tensor(self.X_fit_, dtype=dtype, device=device)
            t = torch.as_tensor(self.y_fit_, dtype=dtype, device=device)
            model = self._build(x, t)
            model.load_state_dict(self.gp_state_)
            model.eval()
            self._posterior_cache["model"] = model
        return self._posterior_cache["model"]

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted state, not the live torch model (rebuilt lazily) or a storage-backed study."""
        state = super().__getstate__()
        state["_posterior_cache"] = {}
        study = state.get("study_")
        if study is not None and self.tune_storage is not None:
            state.pop("study_")
        return state
