"""Train/test splits that keep one content (reference image, scene) on one side, and MOS z-scoring.

Synthetic databases (LIVE, TID2013, KADID) show each reference image under many distortions; if one
version lands in train and another in test, the model recognises the content and the score looks far
better than it is. So splits are by group (``Dataset.group_ids``) unless ``by=None`` is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, KFold

from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.errors import ConfigError, DataError

By = Literal["group"] | None


class Split(NamedTuple):
    """Row indices (sorted ints) of one split; pass them to ``Dataset.subset`` or index features with them.

    Attributes
    ----------
    train, test:
        Rows to fit on and rows to evaluate on.
    val:
        Rows for model selection where the split defines them (KonIQ-10k's official split), else None.
    """

    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None


def _group_labels(ds: Any, by: By) -> np.ndarray:
    """The label per row that a split must keep together: the content group, or the row itself."""
    if by not in ("group", None):
        raise ConfigError(f"by must be 'group' (content-separated) or None (plain random); got {by!r}.")
    if not (hasattr(ds, "__len__") and hasattr(ds, "group_ids")):
        raise ConfigError(f"Splits need a Dataset (or anything with __len__ and group_ids); got {type(ds).__name__}.")
    n = len(ds)
    if by is None:
        return np.arange(n)
    groups = np.asarray(ds.group_ids)
    if groups.shape != (n,):
        raise DataError(f"group_ids has shape {groups.shape} for {n} rows; it needs one group per row.")
    return groups


def _check_test_size(test_size: float, groups: np.ndarray, by: By) -> None:
    """Refuse splits that would leave train or test without a single group, saying how many exist."""
    if not (isinstance(test_size, float) and 0 < test_size < 1):
        raise ConfigError(f"test_size must be a fraction in (0, 1), e.g. 0.2; got {test_size!r}.")
    n_groups = np.unique(groups).size
    n_test = math.ceil(test_size * n_groups)
    if n_test >= n_groups:
        unit = "content groups" if by == "group" else "images"
        raise DataError(
            f"Only {n_groups} {unit} exist, too few for test_size={test_size} to leave any for training. "
            + ("Use by=None for a plain random split, or " if by == "group" else "Use ")
            + "a smaller test_size or more images."
        )


def _sorted(train: np.ndarray, test: np.ndarray) -> Split:
    return Split(np.sort(train).astype(np.int64), np.sort(test).astype(np.int64))


@renamed_keywords(n="n_splits")
def repeated(ds: Any, n_splits: int = 10, test_size: float = 0.2, seed: int = 0, by: By = "group") -> list[Split]:
    """``n_splits`` random train/test splits, content-separated by default, reproducible from ``seed``.

    The papers report the mean (and spread) over such repeats: 10 in seed 003, five 80/20 sessions in
    seed 001. ``test_size`` is the fraction of groups, so with uneven groups the image fraction varies.

    Parameters
    ----------
    ds:
        A Dataset, or anything with ``__len__`` and ``group_ids``.
    n_splits:
        Number of splits (scikit-learn's name, as in ``GroupShuffleSplit``; 0.1 called it ``n=``).
    test_size:
        Fraction in (0, 1) of groups (or of images when ``by=None``) held out for testing.
    seed:
        Seed of the shuffle; the same seed gives the same splits.
    by:
        ``"group"`` keeps each content group on one side; ``None`` splits images at random.

    Examples
    --------
    >>> ds = Dataset(ids=list("abcdefghij"), paths=list("abcdefghij"), groups=[0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    >>> [len(s.test) for s in repeated(ds, n_splits=3, test_size=0.2)]
    [2, 2, 2]
    """
    if not (isinstance(n_splits, (int, np.integer)) and n_splits >= 1):
        raise ConfigError(f"n_splits must be a positive number of splits; got {n_splits!r}.")
    groups = _group_labels(ds, by)
    _check_test_size(test_size, groups, by)
    splitter = GroupShuffleSplit(n_splits=int(n_splits), test_size=test_size, random_state=seed)
    return [_sorted(train, test) for train, test in splitter.split(np.zeros(len(groups)), groups=groups)]


def train_test(ds: Any, test_size: float = 0.2, seed: int = 0, by: By = "group") -> Split:
    """One random train/test split; the first of :func:`repeated` with the same arguments.

    Examples
    --------
    >>> ds = Dataset(ids=list("abcdef"), paths=list("abcdef"), groups=[0, 0, 1, 1, 2, 2])
    >>> split = train_test(ds, test_size=0.3, seed=1)
    >>> len(split.train), len(split.test)
    (4, 2)
    """
    return repeated(ds, n_splits=1, test_size=test_size, seed=seed, by=by)[0]


@renamed_keywords(k="n_splits")
def kfold(ds: Any, n_splits: int = 5, by: By = "group", seed: int = 0) -> list[Split]:
    """Shuffled ``n_splits``-fold: every row is tested exactly once, groups never cross folds.

    5 folds by default, as scikit-learn's ``KFold``; 0.1 called the count ``k=``.

    Examples
    --------
    >>> ds = Dataset(ids=list("abcdef"), paths=list("abcdef"), groups=[0, 0, 1, 1, 2, 2])
    >>> sorted(int(i) for s in kfold(ds, n_splits=3) for i in s.test)
    [0, 1, 2, 3, 4, 5]
    """
    if not (isinstance(n_splits, (int, np.integer)) and n_splits >= 2):
        raise ConfigError(f"n_splits must be an integer of at least 2 folds; got {n_splits!r}.")
    groups = _group_labels(ds, by)
    n_groups = np.unique(groups).size
    if n_groups < n_splits:
        unit = "content groups" if by == "group" else "images"
        raise DataError(f"Only {n_groups} {unit} exist, fewer than n_splits={n_splits} folds; use fewer folds.")
    if by is None:
        folds = KFold(n_splits=int(n_splits), shuffle=True, random_state=seed).split(groups)
    else:
        folds = GroupKFold(n_splits=int(n_splits), shuffle=True, random_state=seed).split(groups, groups=groups)
    return [_sorted(train, test) for train, test in folds]


def official(ds: Any) -> Split:
    """The publisher's own split (``ds.official_split``: "train"/"val"/"test" per image).

    Examples
    --------
    >>> ds = Dataset(ids=list("abcd"), paths=list("abcd"), official_split=["train", "test", "train", "val"])
    >>> official(ds)
    Split(train=array([0, 2]), test=array([1]), val=array([3]))
    """
    labels = getattr(ds, "official_split", None)
    if labels is None:
        name = getattr(ds, "name", type(ds).__name__)
        raise DataError(
            f"Dataset {name!r} has no official split; of the bundled loaders only KonIQ-10k ('koniq10k') "
            "provides one. Use splits.repeated() or splits.kfold() instead."
        )
    labels = np.asarray(labels).astype(str)
    unknown = sorted(set(labels.tolist()) - {"train", "val", "test"})
    if unknown:
        raise DataError(f"official_split holds labels {unknown}; only 'train', 'val' and 'test' are understood.")
    rows = {part: np.flatnonzero(labels == part) for part in ("train", "val", "test")}
    for part in ("train", "test"):
        if rows[part].size == 0:
            raise DataError(f"official_split marks no image as {part!r}; a split needs both train and test.")
    return Split(rows["train"], rows["test"], rows["val"] if rows["val"].size else None)


@dataclass(frozen=True)
class ZScore:
    """The standardization of one database's scores (seed 003, Eq. 4), so it can be undone.

    Attributes
    ----------
    mean, sd:
        Mean and standard deviation (ddof=0) of the original scores.
    flipped:
        True for lower-is-better scores (DMOS): the sign is reversed so higher z is always better.

    Examples
    --------
    >>> z = ZScore(mean=50.0, sd=10.0, flipped=True)
    >>> z.transform([40.0, 60.0]).tolist(), z.inverse([1.0]).tolist()
    ([1.0, -1.0], [40.0])
    """

    mean: float
    sd: float
    flipped: bool

    @property
    def _sign(self) -> float:
        return -1.0 if self.flipped else 1.0

    def transform(self, scores: ArrayLike) -> np.ndarray:
        """Original scores to z-scores (higher is better)."""
        return self._sign * (np.asarray(scores, dtype=np.float64) - self.mean) / self.sd

    def inverse(self, z: ArrayLike) -> np.ndarray:
        """z-scores (e.g. a model's predictions) back to the database's original scale."""
        return self.mean + self._sign * np.asarray(z, dtype=np.float64) * self.sd


def zscore(ds: Dataset) -> tuple[Dataset, ZScore]:
    """Standardize a database's MOS to mean 0, sd 1, higher is better (seed 003, Eq. 4).

    Cross-database work (train on one, test on another) needs one footing: databases use different
    ranges (0-100, 0-9, 1-5) and directions (MOS vs DMOS). Flipping DMOS makes a correlation's sign mean
    the same thing everywhere.

    Returns
    -------
    (Dataset, ZScore)
        A copy with z-scored ``mos`` and ``scale=Scale(low, high, True, "z-MOS")``, where low/high are the
        nominal range mapped through the transform; and the transform itself, to map predictions back.

    Examples
    --------
    >>> ds = Dataset(ids=list("abc"), paths=list("abc"), mos=[10.0, 20.0, 60.0], scale=Scale(0, 100, False, "DMOS"))
    >>> z_ds, z = zscore(ds)
    >>> z_ds.mos.round(4).tolist(), z_ds.scale.kind
    ([0.9258, 0.4629, -1.3887], 'z-MOS')
    """
    mos = ds.y
    if ds.scale is None:
        raise DataError(
            f"Dataset {ds.name!r} has scores but no scale, so their direction is unknown; set one with "
            "dataclasses.replace(ds, scale=Scale(low, high, higher_is_better, kind))."
        )
    sd = float(np.std(mos))
    if mos.size < 2 or sd == 0:
        raise DataError(f"Dataset {ds.name!r}: z-scoring needs at least 2 distinct scores; got {mos.size} images.")
    transform = ZScore(mean=float(np.mean(mos)), sd=sd, flipped=not ds.scale.higher_is_better)
    low, high = sorted(transform.transform([ds.scale.low, ds.scale.high]).tolist())
    scale = Scale(low=low, high=high, higher_is_better=True, kind="z-MOS")
    return replace(ds, mos=transform.transform(mos), scale=scale), transform
