"""A head the study tests need (importable by name, also from a subprocess): one that fails on wide features."""

from __future__ import annotations

from sklearn.linear_model import Ridge


class WideFails(Ridge):
    """Ridge that refuses features wider than 200 dims: some cells of a sweep fail, others do not."""

    def fit(self, X, y, sample_weight=None):  # noqa: N803
        if X.shape[1] > 200:
            raise ValueError(f"{X.shape[1]} dims is too wide for this test head")
        return super().fit(X, y, sample_weight)
