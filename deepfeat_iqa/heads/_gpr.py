"""Exact Gaussian process regression head (gpytorch, Matern 5/2) with optional optuna tuning."""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

with warnings.catch_warnings():
    # gpytorch's own use of torch.jit.script warns on import; nothing our users can act on.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    import gpytorch
    from linear_operator.utils.errors import NotPSDError
from numpy.typing import ArrayLike
from scipy import optimize, stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from deepfeat_iqa.runtime.device import resolve_device
from deepfeat_iqa.errors import ConfigError, DeepfeatError
from deepfeat_iqa.heads._gp_math import MaternMarginal, MaternPosterior
from deepfeat_iqa.heads import _groups
from deepfeat_iqa.heads._gp_sparse import InducingPosterior
from deepfeat_iqa.heads._preprocess import BlockStandardizer
from deepfeat_iqa.heads._state import StateMixin
from deepfeat_iqa.heads._tuning import default_study_name, run_search

logger = logging.getLogger(__name__)

#: Rows per prediction batch: bounds the test-by-train kernel block to ~256 MB at N=8000 in float64.
_PREDICT_BATCH = 4096
#: Candidate PCA sizes for the search (those below the feature and fold sizes are offered).
_PCA_LADDER = (16, 32, 64, 128, 256)
#: L-BFGS-B box for each log-hyperparameter, around its start: e^20 ~ 5e8 either way is far beyond
#: any useful value (scikit-learn's default bounds span 1e-5..1e5) and keeps the line search away
#: from overflow and from a noise so small that no jitter makes the Cholesky succeed.
_LOG_BOX = 20.0


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
        self.covar_module = gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(nu=2.5, ard_num_dims=ard_dims))

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def _not_psd(exc: Exception, noise_floor: float, n_components: int | None, standardize: str) -> DeepfeatError:
    pca = f"n_components={n_components}" if n_components else "n_components=64 (PCA before the kernel)"
    return DeepfeatError(
        "GPR: the Matern covariance matrix of the training rows is not positive definite even after "
        f"adding jitter ({exc}). Near-duplicate rows with a tiny noise variance cause this. Raise "
        f"noise_floor (now {noise_floor:g}; try {max(noise_floor * 100, 1e-2):g}), reduce the input "
        f"dimension with {'a smaller ' if n_components else ''}{pca}, or standardize the features "
        f"(standardize='block'{', now ' + repr(standardize) if standardize != 'block' else ''})."
    )


class GPR(StateMixin, RegressorMixin, BaseEstimator):
    """Exact Gaussian process regression with a Matern 5/2 kernel (seed paper 003), in gpytorch.

    The model is the training mean plus ``outputscale * Matern52(|z - z'| / lengthscale)`` on the
    standardized (optionally PCA-reduced) features, with Gaussian noise bounded below by
    ``noise_floor``; targets are z-scored internally and the prior mean is held at their mean (as
    scikit-learn's ``normalize_y=True``), so far from the training rows predictions return to the
    training mean. Lengthscale(s), outputscale and noise are fit by maximizing the exact marginal
    likelihood (Cholesky, float64 by default) with L-BFGS-B on its closed-form gradient, which
    converges in tens of steps on these smooth parameters.
    What the likelihood does not choose well -- the noise floor (it overfits noise on small sets),
    the PCA size and the standardization -- can then be searched by Bayesian optimization with optuna against K-fold
    SROCC, as seed 003 tuned its kernel "sigma". Tuning is off by default (``tune_trials=0``)
    because each trial costs ``tune_cv`` refits; 20-30 trials are what it needs to help.

    For N above ``max_fit_samples`` the hyperparameters are fit on a random subset of that size
    (four scalars are well determined by a few thousand rows, and each likelihood step costs
    O(N^3)); the posterior then conditions on all rows exactly.

    Parameters
    ----------
    n_components : int or None, default=None
        Reduce the standardized features to this many principal components before the kernel.
    ard : bool or "blocks", default=False
        ``True``: one lengthscale per principal component (needs ``n_components``; raw deep features are
        too wide for per-dimension lengthscales). ``"blocks"``: one lengthscale per concatenated feature
        block (``blocks``, a layer each), so the likelihood weighs the layers instead of
        :class:`BlockStandardizer` giving each the same share; no PCA (it mixes the blocks).
    noise_floor : float, default=1e-4
        Lower bound of the noise variance, in units of the training-score variance. 1e-4 is a noise
        sd of 1% of the score sd, MATLAB fitrgp's default ``SigmaLowerBound`` that seed 003 used.
    standardize : {"block", "feature", "none"}, default="block"
        ``"block"``: :class:`BlockStandardizer` with ``blocks``; ``"feature"``: z-score with one
        block whatever ``blocks`` says; ``"none"``: raw features.
    blocks : tuple of int or None, default=None
        Widths of concatenated feature blocks (see :class:`BlockStandardizer`).
    optimizer : {"lbfgs", "adam"}, default="lbfgs"
        Marginal-likelihood optimizer: scipy's L-BFGS-B, or Adam for float32 on GPU, where L-BFGS
        line searches can stall on round-off. Both use the closed-form gradient.
    max_iter : int, default=100
        Most optimizer iterations.
    tol : float, default=1e-7
        Stop when the per-sample negative log likelihood changes by less than this (L-BFGS-B:
        relative to ``max(|loss|, 1)``).
    lr : float, default=0.05
        Adam learning rate (L-BFGS-B uses a line search instead).
    max_fit_samples : int or None, default=1000
        Rows used for the hyperparameter fit; ``None`` uses all. Four smooth scalars are as well
        determined by 1000 rows as by 3000 (test SROCC 0.963 vs 0.964 at N=3000, D=512), at a
        27th of the cost per likelihood step; see docs/scale.md.
    method : {"auto", "exact", "inducing"}, default="auto"
        How the posterior conditions on the training rows: ``"exact"`` (N x N Cholesky), or
        ``"inducing"`` (``n_inducing`` seeded training rows as inducing points, O(N M^2) time and
        O(M^2) memory; see :mod:`deepfeat_iqa.heads._gp_sparse`). ``"auto"`` is exact up to
        ``max_exact_samples`` rows and inducing beyond. The hyperparameters are fit exactly either way.
    n_inducing : int, default=2000
        Inducing points of ``method="inducing"`` (capped at N).
    max_exact_samples : int, default=20000
        Largest N for the exact posterior; ``method="exact"`` beyond it raises with the memory needed.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the kernel algebra; float64 keeps Cholesky stable with small noise.
    rows_dtype : {"float32", "float16"}, default="float32"
        Precision the preprocessed training rows are kept in (``X_fit_``, most of a model file). Fit and
        predict both compute the kernel from the kept rows, so a saved model predicts what the fitted one
        did. ``"float16"`` halves the file again: on clive-dev, GPR on Lite0's 9 random crops per photo
        (crop-level, 4,176 rows of 1,984 features) scored SROCC 0.8113 against 0.8114 in float32
        (10 splits); the rounding (a relative 5e-4 per feature) acts like input noise far below the
        fitted noise. Keep float32 for a few dozen features, where each one carries more of the distance.
    device : str or None, default=None
        ``None`` or ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
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
    tune_client : str or None, default=None
        Run the trials on Dask workers at once: ``"local"`` (a LocalCluster, one worker per core) or a
        scheduler address (``"tcp://host:8786"``; ``client.scheduler.address`` of a live Client). All
        workers share ``tune_storage``, which is then required (SQLite file on a shared disk, or a
        PostgreSQL URL for many workers). A string, so the estimator stays picklable and cloneable.
    random_state : int, RandomState or None, default=0
        Seeds the fit subset, PCA, folds and the sampler.

    Attributes
    ----------
    preprocessor_ : BlockStandardizer or None
        The fitted standardizer (``None`` with ``standardize="none"``).
    pca_ : PCA or None
        The fitted PCA, if any.
    X_fit_ : ndarray of shape (n_samples, n_inputs), ``rows_dtype``
        Preprocessed training inputs the posterior conditions on, kept in ``rows_dtype`` (float32 by
        default: they are the bulk of a model file and features come from float32 or narrower forward
        passes); the kernel is computed in ``dtype`` from these values at fit and predict time alike.
    y_fit_ : ndarray of shape (n_samples,)
        Standardized training targets.
    y_mean_, y_std_ : float
        Training-score mean and standard deviation.
    gp_state_ : dict of str to torch.Tensor
        Fitted gpytorch state dict (CPU); with ``X_fit_`` and ``y_fit_`` it rebuilds the model.
    dual_coef_ : ndarray of shape (n_samples,) or (n_inducing,)
        ``K^-1 (y_fit_ - mean)`` on all training rows (exact), or the weights of the inducing points
        (inducing): the predictive mean is the test-by-train (or test-by-inducing) kernel times this
        vector, so mean-only prediction needs no Cholesky, even after loading.
    inducing_ : ndarray of shape (n_inducing, n_inputs) or None
        Inducing inputs of the inducing-point posterior; ``None`` for the exact one.
    method_ : str
        ``"exact"`` or ``"inducing"``: the posterior actually used.
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
        "ard": ["boolean", StrOptions({"blocks"})],
        "noise_floor": [Interval(Real, 0, None, closed="left")],
        "standardize": [StrOptions({"block", "feature", "none"})],
        "blocks": [tuple, list, None],
        "optimizer": [StrOptions({"lbfgs", "adam"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_fit_samples": [Interval(Integral, 2, None, closed="left"), None],
        "method": [StrOptions({"auto", "exact", "inducing"})],
        "n_inducing": [Interval(Integral, 1, None, closed="left")],
        "max_exact_samples": [Interval(Integral, 2, None, closed="left")],
        "dtype": [StrOptions({"float64", "float32"})],
        "rows_dtype": [StrOptions({"float32", "float16"})],
        "device": [None, str],
        "tune_trials": [Interval(Integral, 0, None, closed="left")],
        "tune_metric": [StrOptions({"srocc", "nll"})],
        "tune_sampler": [StrOptions({"gp", "tpe"})],
        "tune_cv": [Interval(Integral, 2, None, closed="left")],
        "tune_storage": [str, None],
        "tune_study_name": [str, None],
        "tune_client": [str, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_components: int | None = None,
        ard: bool | str = False,
        noise_floor: float = 1e-4,
        standardize: str = "block",
        blocks: tuple[int, ...] | None = None,
        optimizer: str = "lbfgs",
        max_iter: int = 100,
        tol: float = 1e-7,
        lr: float = 0.05,
        max_fit_samples: int | None = 1000,
        method: str = "auto",
        n_inducing: int = 2000,
        max_exact_samples: int = 20000,
        dtype: str = "float64",
        rows_dtype: str = "float32",
        device: str | None = None,
        tune_trials: int = 0,
        tune_metric: str = "srocc",
        tune_sampler: str = "gp",
        tune_cv: int = 3,
        tune_storage: str | None = None,
        tune_study_name: str | None = None,
        tune_client: str | None = None,
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
        self.method = method
        self.n_inducing = n_inducing
        self.max_exact_samples = max_exact_samples
        self.dtype = dtype
        self.rows_dtype = rows_dtype
        self.device = device
        self.tune_trials = tune_trials
        self.tune_metric = tune_metric
        self.tune_sampler = tune_sampler
        self.tune_cv = tune_cv
        self.tune_storage = tune_storage
        self.tune_study_name = tune_study_name
        self.tune_client = tune_client
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X: ArrayLike, y: ArrayLike, *, groups: ArrayLike | None = None) -> GPR:
        """Fit the kernel hyperparameters by exact marginal likelihood, after an optional optuna search.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Training scores (any scale).
        groups : array-like of shape (n_samples,) or None
            Content (reference image) of each row; the tuning folds keep every group on one side.
            ``None`` treats rows as independent.

        Returns
        -------
        self : GPR
            The fitted head.
        """
        self._validate_params()
        if self.ard == "blocks" and self.n_components is not None:
            raise ConfigError(
                f"ard='blocks' fits one lengthscale per feature block, which PCA mixes; drop n_components (now "
                f"{self.n_components}) or use ard=True for one lengthscale per principal component."
            )
        if self.ard is True and self.n_components is None:
            raise ConfigError(
                "ard=True needs n_components: per-dimension lengthscales are fit over principal "
                "components, not thousands of raw features. Pass e.g. n_components=64, or ard=False."
            )
        resolve_device(self.device)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        groups = _groups.check_groups(groups, X.shape[0])
        self.method_ = self._resolve_method(len(y))
        config = {"noise_floor": self.noise_floor, "n_components": self.n_components, "standardize": self.standardize}
        if self.tune_trials:
            self.study_ = self._search(X, y, config, groups)
            self.best_params_ = dict(self.study_.best_params)
            config.update(self.best_params_)
        self._fit_config(X, y, config)
        return self

    def _resolve_method(self, n: int) -> str:
        """``"exact"`` or ``"inducing"`` for ``n`` training rows; exact beyond its limit is refused."""
        if self.method == "exact" and n > self.max_exact_samples:
            itemsize = 8 if self.dtype == "float64" else 4
            need = 2 * n * n * itemsize / 2**30  # the covariance and its Cholesky factor
            raise ConfigError(
                f"GPR(method='exact') on {n:,} rows needs two {n:,} x {n:,} {self.dtype} matrices, about "
                f"{need:.2f} GiB, "
                f"beyond max_exact_samples={self.max_exact_samples:,}. Use method='auto' or 'inducing' "
                f"(n_inducing={self.n_inducing} points: about {self.n_inducing**2 * itemsize * 3 / 2**30:.2f} GiB), "
                "or raise max_exact_samples if the memory is there."
            )
        if self.method == "auto":
            return "exact" if n <= self.max_exact_samples else "inducing"
        return self.method

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
        self.X_fit_ = np.ascontiguousarray(Z, dtype=self.rows_dtype)
        self.y_fit_ = (y - self.y_mean_) / self.y_std_

        rows = np.arange(len(y))
        if self.max_fit_samples is not None and len(y) > self.max_fit_samples:
            rows = np.sort(rng.choice(len(y), self.max_fit_samples, replace=False))
            logger.info("GPR: fitting hyperparameters on %d of %d rows.", len(rows), len(y))
        device, dtype = resolve_device(self.device), getattr(torch, self.dtype)
        x = torch.as_tensor(self.X_fit_[rows], dtype=dtype, device=device)
        t = torch.as_tensor(self.y_fit_[rows], dtype=dtype, device=device)
        start, bounds = self._start(x)
        with torch.no_grad(), self._settings():
            try:
                marginal = MaternMarginal(x, t, self.noise_floor_, self.ard is True, self._column_blocks(device))
                theta, loss, self.n_iter_ = self._optimize(marginal, start, bounds)
                del marginal  # its cached N x N distances
            except NotPSDError as exc:
                raise _not_psd(exc, self.noise_floor_, self.n_components_, self.standardize_) from exc
        model = self._build(x, t)
        self._set_hyperparameters(model, theta)
        self.log_marginal_likelihood_value_ = -loss
        self.gp_state_ = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        self.lengthscale_ = model.covar_module.base_kernel.lengthscale.detach().cpu().numpy().ravel()
        self.outputscale_ = float(model.covar_module.outputscale.detach())
        self.noise_ = float(model.likelihood.noise.detach())
        # The posterior on all rows lives in a holder created here, so predict can fill it (after
        # unpickling) without changing the estimator's attributes. Conditioning now costs one
        # Cholesky and leaves the factor cached for the first return_std prediction.
        self.inducing_ = None
        if getattr(self, "method_", "exact") == "inducing":
            n_inducing = min(self.n_inducing, len(y))
            self.inducing_ = self.X_fit_[np.sort(rng.choice(len(y), n_inducing, replace=False))]
            logger.info("GPR: inducing-point posterior with %d of %d rows as inducing points.", n_inducing, len(y))
        self._posterior_cache: dict[str, MaternPosterior | InducingPosterior] = {}
        self.dual_coef_ = self._posterior(None).dual_coef.cpu().numpy()
        logger.info(
            "GPR: %d iterations, log ML %.4f, lengthscale %s, outputscale %.3g, noise %.3g",
            self.n_iter_, self.log_marginal_likelihood_value_, np.round(self.lengthscale_[:4], 4),
            self.outputscale_, self.noise_,
        )

    def _column_blocks(self, device: torch.device) -> torch.Tensor | None:
        """With ``ard="blocks"``, the block (0 .. B-1) of every kept column, else ``None``."""
        if self.ard != "blocks":
            return None
        layout = tuple(self.blocks or (self.n_features_in_,))
        if sum(layout) != self.n_features_in_:
            raise ConfigError(f"GPR(ard='blocks'): blocks={self.blocks} sum to {sum(layout)}, not the {self.n_features_in_} input features.")
        blocks = np.repeat(np.arange(len(layout)), layout)
        if self.preprocessor_ is not None:
            blocks = blocks[self.preprocessor_.support_]  # the constant features it dropped
        _, blocks = np.unique(blocks, return_inverse=True)  # a block whose every column was dropped takes no lengthscale
        return torch.as_tensor(blocks, device=device)

    def _build(self, x: torch.Tensor, t: torch.Tensor) -> _ExactMatern:
        """A model on (x, t) with the noise bounded below by the effective noise floor."""
        constraint = gpytorch.constraints.GreaterThan(self.noise_floor_)
        likelihood = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=constraint)
        ard_dims = x.shape[1] if self.ard else None  # "blocks": each column holds its block's lengthscale
        return _ExactMatern(x, t, likelihood, ard_dims).to(device=x.device, dtype=x.dtype)

    def _start(self, x: torch.Tensor) -> tuple[np.ndarray, list[tuple[float | None, float | None]]]:
        """Start and L-BFGS-B box of ``(log lengthscale(s), log outputscale, log excess noise, mean)``.

        The start is the median pairwise distance, the target's unit variance (it is z-scored) and
        10% noise (twice the floor when that is higher), from which the likelihood surface of these
        smooth parameters is climbed in tens of steps.

        The constant prior mean is held at 0, the training mean of the z-scored targets (as
        scikit-learn's ``normalize_y=True`` does). Left free, the likelihood fits it as a
        generalized-least-squares mean that weights each cluster of near-identical rows (one
        reference's distortions) about equally, whatever its size; on content-separated test sets,
        which sit away from every training cluster, predictions fall back to that value, and it
        strayed from the training mean by up to several points (``docs/demo.md``, "GPR bias").
        """
        sample = x[: min(len(x), 500)]
        median = float(torch.pdist(sample).median()) if len(sample) > 1 else 1.0
        if self.ard == "blocks":
            n_lengthscales = int(self._column_blocks(x.device).max()) + 1
        else:
            n_lengthscales = x.shape[1] if self.ard else 1
        excess_noise = max(0.1, 2.0 * self.noise_floor_) - self.noise_floor_
        log_lengthscale = math.log(median if median > 0 else 1.0)
        start = np.array([log_lengthscale] * n_lengthscales + [0.0, math.log(excess_noise), 0.0])
        bounds = [(v - _LOG_BOX, v + _LOG_BOX) for v in start[:-1]] + [(0.0, 0.0)]
        return start, bounds

    def _set_hyperparameters(self, model: _ExactMatern, theta: np.ndarray) -> None:
        """Write the optimizer's ``theta`` (see :meth:`_start`) into the gpytorch model."""
        kernel = model.covar_module
        like = {"dtype": kernel.raw_outputscale.dtype, "device": kernel.raw_outputscale.device}
        lengthscale = torch.as_tensor(np.exp(theta[:-3]), **like)
        if self.ard == "blocks":
            lengthscale = lengthscale[self._column_blocks(lengthscale.device)]
        kernel.base_kernel.lengthscale = lengthscale.reshape(kernel.base_kernel.raw_lengthscale.shape)
        kernel.outputscale = torch.as_tensor(math.exp(theta[-3]), **like)
        model.likelihood.noise = torch.as_tensor(self.noise_floor_ + math.exp(theta[-2]), **like)
        model.mean_module.constant = torch.as_tensor(theta[-1], **like)

    def _optimize(
        self, marginal: MaternMarginal, start: np.ndarray, bounds: list[tuple[float | None, float | None]]
    ) -> tuple[np.ndarray, float, int]:
        """Minimize the per-sample negative log marginal likelihood; return (theta, loss, iterations)."""
        like = marginal.y

        def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            loss, grad = marginal(torch.as_tensor(theta, dtype=like.dtype, device=like.device))
            return float(loss), grad.cpu().double().numpy()

        if self.optimizer == "lbfgs":
            # scipy's ftol is relative to max(|loss|, 1), i.e. absolute for a per-sample loss near 1.
            result = optimize.minimize(
                loss_and_grad, start, jac=True, method="L-BFGS-B", bounds=bounds,
                options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-6},
            )
            logger.debug("GPR: L-BFGS-B stopped: %s", result.message)
            return result.x, float(result.fun), int(result.nit)
        theta = torch.tensor(start, dtype=like.dtype, device=like.device, requires_grad=True)
        optimizer = torch.optim.Adam([theta], lr=self.lr)
        previous, n_iter = math.inf, 0
        for n_iter in range(1, self.max_iter + 1):
            loss, theta.grad = marginal(theta.detach())
            theta.grad[-1] = 0.0  # the prior mean stays at the training mean (see _start)
            optimizer.step()
            if abs(previous - float(loss)) < self.tol:
                break
            previous = float(loss)
        theta = theta.detach().cpu().double().numpy()
        return theta, loss_and_grad(theta)[0], n_iter

    @staticmethod
    @contextlib.contextmanager
    def _settings() -> Iterator[None]:
        """Exact Cholesky algebra with small jitter, for fit and predict alike.

        Jitter warnings are silenced: a failure after the last jitter try raises NotPSDError,
        which is turned into an error that says what to change.
        """
        with contextlib.ExitStack() as stack:
            stack.enter_context(gpytorch.settings.cholesky_jitter(float_value=1e-6, double_value=1e-8))
            stack.enter_context(gpytorch.settings.cholesky_max_tries(4))
            stack.enter_context(gpytorch.settings.debug(False))
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", gpytorch.utils.warnings.NumericalWarning)
            yield

    # -------------------------------------------------------------- tuning
    def _search(self, X: np.ndarray, y: np.ndarray, start: dict[str, Any], groups: np.ndarray | None) -> Any:
        """Bayesian search of noise floor, PCA size and standardization by (group) K-fold CV."""
        folds = _groups.inner_folds(len(y), self.tune_cv, groups, self.random_state)
        smallest_fold = min(len(train) for train, _ in folds)
        ladder = [k for k in _PCA_LADDER if k < min(X.shape[1], smallest_fold)]
        pca_choices: list[int | None] = [None] if self.ard == "blocks" else ([] if self.ard else [None]) + ladder
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

        base = clone(self).set_params(tune_trials=0, tune_storage=None, tune_client=None)
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
            blocks=self.blocks, ard=self.ard, groups=None if groups is None else "\0".join(groups),
        )
        seed = self.random_state if isinstance(self.random_state, Integral) else None
        return run_search(
            objective, space, n_trials=self.tune_trials, direction="minimize" if nll else "maximize",
            sampler=self.tune_sampler, seed=seed, storage=self.tune_storage, study_name=name, start=start,
            client=self.tune_client,
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
        posterior = self._posterior(self.dual_coef_)
        means, sds = [], []
        with torch.no_grad(), self._settings():
            try:
                for start in range(0, len(Z), _PREDICT_BATCH):
                    rows = Z[start : start + _PREDICT_BATCH]
                    z = torch.as_tensor(rows, dtype=posterior.z.dtype, device=posterior.z.device)
                    mean, sd = posterior(z, return_std)
                    means.append(mean.cpu().numpy())
                    if return_std:
                        sds.append(sd.cpu().numpy())
            except NotPSDError as exc:
                raise _not_psd(exc, self.noise_floor_, self.n_components_, self.standardize_) from exc
        mean = np.concatenate(means) * self.y_std_ + self.y_mean_ if means else np.empty(0)
        if not return_std:
            return mean
        return mean, (np.concatenate(sds) if sds else np.empty(0)) * self.y_std_

    def _posterior(self, dual_coef: np.ndarray | None) -> MaternPosterior | InducingPosterior:
        """The posterior on all training rows with the stored hyperparameters, built once and cached.

        The hyperparameters are read back from ``gp_state_`` through the gpytorch model, so the
        state dict stays the single record of the fit; ``dual_coef`` (``dual_coef_`` after a fit)
        spares the Cholesky factor until a prediction asks for its standard deviation.
        """
        if "posterior" not in self._posterior_cache:
            dtype, device = getattr(torch, self.dtype), resolve_device(self.device)
            x = torch.as_tensor(self.X_fit_, dtype=dtype, device=device)
            t = torch.as_tensor(self.y_fit_, dtype=dtype, device=device)
            model = self._build(x, t)
            model.load_state_dict(self.gp_state_)
            with torch.no_grad(), self._settings():
                try:
                    hyper = {
                        "lengthscale": model.covar_module.base_kernel.lengthscale.detach().reshape(-1),
                        "outputscale": float(model.covar_module.outputscale),
                        "noise": float(model.likelihood.noise),
                        "mean": float(model.mean_module.constant),
                        "dual_coef": None if dual_coef is None else torch.as_tensor(dual_coef, device=device),
                    }
                    inducing = getattr(self, "inducing_", None)
                    if inducing is None:
                        self._posterior_cache["posterior"] = MaternPosterior(x, t, **hyper)
                    else:
                        u = torch.as_tensor(inducing, dtype=dtype, device=device)
                        self._posterior_cache["posterior"] = InducingPosterior(x, t, u, **hyper)
                except NotPSDError as exc:
                    raise _not_psd(exc, self.noise_floor_, self.n_components_, self.standardize_) from exc
        return self._posterior_cache["posterior"]

    #: The cached posterior is rebuilt lazily; a study lives in its storage, not in the model file.
    _dfi_transient = ("_posterior_cache", "study_")

    def _dfi_restored(self) -> None:
        self._posterior_cache = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted state, not the cached posterior (rebuilt lazily) or a storage-backed study."""
        state = super().__getstate__()
        state["_posterior_cache"] = {}
        study = state.get("study_")
        if study is not None and self.tune_storage is not None:
            state.pop("study_")
        return state
