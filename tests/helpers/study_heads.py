"""Heads the study tests need in a subprocess too (importable by name): a slow one and a failing one."""

from __future__ import annotations

import time

from sklearn.linear_model import Ridge


class SlowRidge(Ridge):
    """Ridge that takes a while per fit, so a sweep can be killed between two cells."""

    def fit(self, X, y, sample_weight=None):  # noqa: N803
        time.sleep(0.4)
        return super().fit(X, y, sample_weight)


class WideFails(Ridge):
    """Ridge that refuses features wider than 200 dims: some cells of a sweep fail, others do not."""

    def fit(self, X, y, sample_weight=None):  # noqa: N803
        if X.shape[1] > 200:
            raise ValueError(f"{X.shape[1]} dims is too wide for this test head")
        return super().fit(X, y, sample_weight)
