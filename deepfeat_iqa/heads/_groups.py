"""Content-aware inner splits for the heads' own model selection (C/gamma search, tuning CV, early stopping).

The outer evaluation keeps every reference image on one side of a split; a head's inner search must
do the same, or on LIVE/TID/KADID-like data (many distortions of few references) it picks the C,
noise floor or epoch that best recognises content it has already seen, not the one that generalises.
With ``groups=None`` (plain arrays, as scikit-learn users pass them) rows are independent and the
splits are the usual shuffled K-fold / random hold-out.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, KFold

from deepfeat_iqa.errors import DataError

logger = logging.getLogger(__name__)


def check_groups(groups: ArrayLike | None, n_samples: int) -> np.ndarray | None:
    """``groups`` as a 1-D string array of ``n_samples`` labels, or None."""
    if groups is None:
        return None
    labels = np.asarray(groups).astype(str)
    if labels.shape != (n_samples,):
        raise DataError(f"groups has shape {labels.shape}, expected one content label per training row ({n_samples},).")
    return labels


def inner_folds(n_samples: int, n_splits: int, groups: np.ndarray | None, random_state: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold (train, test) rows; with ``groups``, no group is on both sides of any fold.

    With fewer groups than folds the number of folds drops to the number of groups (at least 2),
    because a fold without a group of its own cannot exist; one group cannot be cross-validated by
    content at all, so it falls back to row K-fold with a warning.
    """
    rows = np.arange(n_samples)
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups >= 2:
            k = min(n_splits, n_groups)
            if k < n_splits:
                logger.warning("Only %d content groups: the inner search uses %d group folds instead of %d.", n_groups, k, n_splits)
            seed = random_state if isinstance(random_state, (int, np.integer)) else None
            return list(GroupKFold(k, shuffle=True, random_state=seed).split(rows, groups=groups))
        logger.warning("All training rows share one content group; the inner search falls back to row-wise folds.")
    return list(KFold(n_splits, shuffle=True, random_state=random_state).split(rows))


def holdout_rows(n_samples: int, fraction: float, groups: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) rows with about ``fraction`` held out; whole groups when ``groups`` is given.

    Returns an empty held-out part when ``fraction`` of the rows (or of the groups) is under one.
    """
    order = np.random.default_rng(seed).permutation(n_samples)
    if groups is not None and len(np.unique(groups)) >= 2:
        n_groups = len(np.unique(groups))
        if int(fraction * n_groups) < 1:
            return order, order[:0]
        splitter = GroupShuffleSplit(n_splits=1, test_size=int(fraction * n_groups), random_state=seed)
        train, held = next(splitter.split(order, groups=groups[order]))
        return order[train], order[held]
    n_held = int(fraction * n_samples)
    if n_held < 1 or n_samples - n_held < 1:
        return order, order[:0]
    return order[n_held:], order[:n_held]
