"""Per-feature standardization with equal weight per concatenated feature block."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa.heads._state import StateMixin, register_state_type


@register_state_type
class BlockStandardizer(StateMixin, TransformerMixin, BaseEstimator):
    """Z-score every feature, then scale each concatenated block by ``1/sqrt(block_dim)``.

    Features from several layers are often concatenated (``blocks=(4096, 64)``). After a plain
    z-score every dimension has unit variance, so a 4096-dim block owns 98% of every squared
    distance and inner product and drowns the 64-dim one. Dividing each block by the square root
    of its dimension gives every block the same expected squared norm, so kernels and linear
    models see the blocks on an equal footing. With a single block (``blocks=None``) the factor
    only rescales, which keeps row norms near 1 whatever the layer width, so default lengthscales
    and regularization grids of the heads fit every layer.

    Features that are constant on the training rows (dead ReLU channels are common in pooled
    activations) carry no information and would divide by zero, so they are dropped and do not
    count towards their block's dimension.

    Parameters
    ----------
    blocks : tuple of int or None, default=None
        Widths of the concatenated blocks, in column order; they must sum to ``n_features``.
        ``None`` treats all columns as one block.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features_in_,)
        Training mean of every input feature.
    scale_ : ndarray of shape (n_features_in_,)
        Training standard deviation of every input feature (1 where constant).
    support_ : ndarray of bool, shape (n_features_in_,)
        Which input features are kept (non-constant on the training rows). If every feature is
        constant, all are kept and transform to zeros, so downstream heads still get a valid
        matrix and predict the training mean.
    weights_ : ndarray of shape (n_features_in_,)
        The block factor ``1/sqrt(kept dims in the block)`` of each input feature (0 if dropped).
    blocks_ : tuple of int
        The block widths used (``(n_features_in_,)`` when ``blocks=None``).
    n_features_in_ : int
        Number of input features.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 6))
    >>> Z = BlockStandardizer(blocks=(4, 2)).fit_transform(X)
    >>> [round(float((Z[:, s] ** 2).sum(axis=1).mean()), 3) for s in (slice(0, 4), slice(4, 6))]
    [1.0, 1.0]
    """

    _parameter_constraints: dict = {"blocks": [tuple, list, None]}

    def __init__(self, *, blocks: tuple[int, ...] | None = None) -> None:
        self.blocks = blocks

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> BlockStandardizer:
        """Learn per-feature mean and scale and the block weights from the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : ignored
            Present for pipeline compatibility.

        Returns
        -------
        self : BlockStandardizer
            The fitted transformer.
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64)
        n_features = X.shape[1]
        self.blocks_ = self._resolve_blocks(n_features)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # "Constant" relative to the feature's magnitude: float noise of a constant column is ~eps*|mean|.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(self.mean_), 1.0)
        support = std > tiny
        if not support.any():
            support[:] = True
        self.support_ = support
        self.scale_ = np.where(std > tiny, std, 1.0)
        weights = np.zeros(n_features)
        start = 0
        for width in self.blocks_:
            kept = int(support[start : start + width].sum())
            if kept:
                weights[start : start + width] = 1.0 / np.sqrt(kept)
            start += width
        self.weights_ = np.where(support, weights, 0.0)
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Standardize, weight by block and drop constant features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Features with the training column layout.

        Returns
        -------
        ndarray of shape (n_samples, n_kept)
            ``n_kept = support_.sum()`` columns.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        keep = self.support_
        return (X[:, keep] - self.mean_[keep]) / self.scale_[keep] * self.weights_[keep]

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """Names of the kept features (input names, or ``x0 ... x{n-1}``).

        Parameters
        ----------
        input_features : array-like of str or None
            Input feature names; defaults to ``feature_names_in_`` or generated names.

        Returns
        -------
        ndarray of str
            One name per output column.
        """
        check_is_fitted(self)
        names = OneToOneFeatureMixin.get_feature_names_out(self, input_features)
        return names[self.support_]

    def _resolve_blocks(self, n_features: int) -> tuple[int, ...]:
        """Check ``blocks`` against the data width and return it as a tuple of ints."""
        if self.blocks is None:
            return (n_features,)
        blocks = tuple(self.blocks)
        if not blocks or not all(isinstance(b, Integral) and b > 0 for b in blocks):
            raise ConfigError(
                f"blocks must be positive integer widths, one per concatenated layer; got {self.blocks!r}."
            )
        if sum(blocks) != n_features:
            raise ConfigError(
                f"blocks={blocks} sum to {sum(blocks)} but X has {n_features} features. Pass the widths of "
                "the concatenated layers in column order (LayerFeatures.blocks), or blocks=None for one block."
            )
        return tuple(int(b) for b in blocks)
