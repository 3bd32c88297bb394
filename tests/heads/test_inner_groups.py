"""Every head's own model selection keeps content groups apart, when fitted through dfi.fit / dfi.evaluate."""

from __future__ import annotations

import numpy as np
import pytest

import deepfeat_iqa.heads._groups as groups_module
from deepfeat_iqa.api import fit
from deepfeat_iqa.datasets import Dataset, Scale
from deepfeat_iqa.evaluation._evaluate import evaluate
from deepfeat_iqa.features._sets import FeatureKey, LayerFeatures
from deepfeat_iqa.heads import make_head

KEY = FeatureKey("resnet50", "sha256:00", "layer3", "avg", "center", "fp32")
N_REFERENCES, N_DISTORTIONS = 10, 20

HEADS = {
    "svr": {"C_grid": (0.1, 1.0)},
    "rbf-svr": {"C_grid": (1.0,), "gamma_grid": (1.0, 4.0)},
    "gpr": {"tune_trials": 2, "tune_cv": 3, "max_iter": 5},
    "mlp": {"hidden": (8,), "max_epochs": 3, "val_fraction": 0.2, "device": "cpu"},
}


def _references_by_distortions() -> tuple[LayerFeatures, np.ndarray, int]:
    """10 references x 20 distortions: each reference has its own feature offset, as content does."""
    rng = np.random.default_rng(0)
    content = np.repeat(rng.normal(size=(N_REFERENCES, 6)), N_DISTORTIONS, axis=0)
    level = np.tile(np.linspace(0, 1, N_DISTORTIONS), N_REFERENCES)
    X = content + np.outer(level, rng.normal(size=6)) + 0.05 * rng.normal(size=content.shape)
    n = len(X)
    ids = [f"ref{r}_d{d:02d}.png" for r in range(N_REFERENCES) for d in range(N_DISTORTIONS)]
    groups = np.repeat([f"ref{r}" for r in range(N_REFERENCES)], N_DISTORTIONS)
    mos = 80 - 60 * level + 5 * content[:, 0]
    ds = Dataset(ids=ids, paths=ids, mos=mos, scale=Scale(0, 100), groups=groups, name="refs")
    return LayerFeatures(key=KEY, per_view=X[:, None, :].astype(np.float32), dataset=ds), groups, n


@pytest.fixture()
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Every inner split any head asks for: (train rows, held-out rows, the groups it was given)."""
    calls: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    folds, holdout = groups_module.inner_folds, groups_module.holdout_rows

    def spy_folds(n, k, groups, random_state):  # noqa: ANN001, ANN202
        result = folds(n, k, groups, random_state)
        calls.extend((train, test, groups) for train, test in result)
        return result

    def spy_holdout(n, fraction, groups, seed):  # noqa: ANN001, ANN202
        train, held = holdout(n, fraction, groups, seed)
        calls.append((train, held, groups))
        return train, held

    monkeypatch.setattr(groups_module, "inner_folds", spy_folds)
    monkeypatch.setattr(groups_module, "holdout_rows", spy_holdout)
    return calls


@pytest.mark.parametrize("head", sorted(HEADS))
def test_no_inner_fold_has_a_reference_on_both_sides(head: str, recorded: list) -> None:
    feats, groups, n = _references_by_distortions()
    fit(feats, head=head, **HEADS[head])
    assert recorded, f"{head} made no inner split"
    for train, held, given in recorded:
        assert given is not None, f"{head} was not given the groups"
        assert len(held) and not set(given[train]) & set(given[held])


def test_evaluate_routes_the_training_groups_into_each_split(recorded: list) -> None:
    feats, groups, _ = _references_by_distortions()
    evaluate(feats, head="svr", n_splits=2, progress=False, C_grid=(0.1, 1.0))
    assert recorded
    for train, held, given in recorded:
        assert len(given) == 160 and not set(given[train]) & set(given[held])  # 8 of 10 references train


def test_plain_arrays_keep_working_without_groups(recorded: list) -> None:
    feats, _, _ = _references_by_distortions()
    model = make_head("svr", C_grid=(0.1, 1.0)).fit(feats.X, feats.dataset.mos)
    assert model.C_ in (0.1, 1.0)
    assert recorded and all(given is None for _, _, given in recorded)


def test_fewer_groups_than_folds_uses_one_fold_per_group() -> None:
    groups = np.repeat(["a", "b", "c"], 5)
    folds = groups_module.inner_folds(15, 5, groups, 0)
    assert len(folds) == 3 and all(len(set(groups[test])) == 1 for _, test in folds)
