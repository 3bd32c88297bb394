"""Splits are reproducible, keep content groups apart, and z-scoring round-trips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from deepfeat_iqa.datasets import splits
from deepfeat_iqa.datasets._dataset import Dataset, Scale
from deepfeat_iqa.errors import ConfigError, DataError


def make_dataset(n_groups: int = 25, per_group: int = 4, **extra) -> Dataset:
    n = n_groups * per_group
    ids = [f"img{i:03d}.png" for i in range(n)]
    rng = np.random.default_rng(0)
    return Dataset(
        ids=ids,
        paths=ids,
        mos=rng.uniform(0, 100, n),
        scale=Scale(0, 100, True, "MOS"),
        groups=np.repeat([f"ref{g}" for g in range(n_groups)], per_group),
        name="toy",
        **extra,
    )


def assert_separated(ds: Dataset, split: splits.Split) -> None:
    assert np.intersect1d(split.train, split.test).size == 0
    assert np.union1d(split.train, split.test).size == len(ds)
    assert not set(ds.group_ids[split.train]) & set(ds.group_ids[split.test])


def test_train_test_deterministic_and_separated():
    ds = make_dataset()
    a, b = splits.train_test(ds, seed=3), splits.train_test(ds, seed=3)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(a.test, splits.train_test(ds, seed=4).test)
    assert_separated(ds, a)
    assert len(a.test) == 20 and a.val is None
    assert a.train.dtype == np.int64 and np.all(np.diff(a.train) > 0)


def test_plain_random_split_ignores_groups():
    ds = make_dataset()
    crossed = [
        bool(set(ds.group_ids[s.train]) & set(ds.group_ids[s.test]))
        for s in splits.repeated(ds, n_splits=5, test_size=0.3, by=None)
    ]
    assert any(crossed)
    assert len(splits.train_test(ds, test_size=0.3, by=None).test) == 30


def test_repeated_differs_per_repeat_and_matches_train_test():
    ds = make_dataset()
    runs = splits.repeated(ds, n_splits=5, seed=7)
    assert len(runs) == 5
    assert len({tuple(s.test) for s in runs}) == 5
    for split in runs:
        assert_separated(ds, split)
        assert abs(len(split.test) / len(ds) - 0.2) < 0.05
    again = splits.repeated(ds, n_splits=5, seed=7)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(runs, again))
    assert np.array_equal(runs[0].test, splits.train_test(ds, seed=7).test)


def test_kfold_covers_every_row_once():
    ds = make_dataset(n_groups=23, per_group=3)
    folds = splits.kfold(ds, n_splits=5, seed=2)
    assert len(folds) == 5
    for split in folds:
        assert_separated(ds, split)
    assert np.array_equal(np.sort(np.concatenate([s.test for s in folds])), np.arange(len(ds)))
    again = splits.kfold(ds, n_splits=5, seed=2)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(folds, again))
    assert not all(np.array_equal(x.test, y.test) for x, y in zip(folds, splits.kfold(ds, n_splits=5, seed=3)))
    plain = splits.kfold(ds, n_splits=4, by=None)
    assert sorted(len(s.test) for s in plain) == [17, 17, 17, 18]


def test_without_groups_each_image_is_its_own():
    ds = dataclasses.replace(make_dataset(n_groups=10, per_group=1), groups=None)
    assert len(splits.train_test(ds, test_size=0.3).test) == 3


@pytest.mark.parametrize("test_size", [0.0, 1.0, 2, -0.1])
def test_test_size_validated(test_size):
    with pytest.raises(ConfigError, match="test_size"):
        splits.train_test(make_dataset(), test_size=test_size)


def test_too_few_groups_says_how_many():
    ds = make_dataset(n_groups=2, per_group=10)
    with pytest.raises(DataError, match="Only 2 content groups"):
        splits.train_test(ds, test_size=0.6)
    with pytest.raises(DataError, match="Only 2 content groups exist, fewer than n_splits=5"):
        splits.kfold(ds, n_splits=5)
    with pytest.raises(ConfigError, match="'group'"):
        splits.train_test(ds, by="scene")


def test_official_split():
    labels = np.array(["train"] * 6 + ["val"] * 2 + ["test"] * 2)
    ds = make_dataset(n_groups=10, per_group=1, official_split=labels)
    split = splits.official(ds)
    assert split.train.tolist() == list(range(6))
    assert split.val.tolist() == [6, 7] and split.test.tolist() == [8, 9]
    no_val = splits.official(dataclasses.replace(ds, official_split=np.where(labels == "val", "train", labels)))
    assert no_val.val is None and len(no_val.train) == 8
    with pytest.raises(DataError, match="KonIQ-10k"):
        splits.official(make_dataset())


def test_zscore_mos():
    ds = make_dataset()
    z_ds, z = splits.zscore(ds)
    assert z_ds.mos.mean() == pytest.approx(0, abs=1e-12)
    assert z_ds.mos.std() == pytest.approx(1)
    assert not z.flipped and z_ds.scale.kind == "z-MOS" and z_ds.scale.higher_is_better
    assert z_ds.scale.low <= z_ds.mos.min() and z_ds.scale.high >= z_ds.mos.max()
    assert np.allclose(z.inverse(z_ds.mos), ds.mos)
    assert np.array_equal(ds.mos, make_dataset().mos)  # the input is left untouched


def test_zscore_flips_dmos():
    ds = dataclasses.replace(make_dataset(), scale=Scale(0, 100, False, "DMOS"))
    z_ds, z = splits.zscore(ds)
    assert z.flipped
    assert np.corrcoef(ds.mos, z_ds.mos)[0, 1] == pytest.approx(-1)
    assert np.allclose(z.inverse(z.transform(ds.mos)), ds.mos)
    assert z_ds.scale.low == pytest.approx(z.transform(100.0)) and z_ds.scale.high == pytest.approx(z.transform(0.0))


def test_zscore_needs_scale_and_spread():
    with pytest.raises(DataError, match="no scale"):
        splits.zscore(dataclasses.replace(make_dataset(), scale=None))
    constant = dataclasses.replace(make_dataset(), mos=np.full(100, 3.0))
    with pytest.raises(DataError, match="2 distinct scores"):
        splits.zscore(constant)
