"""``EvaluationResult``: per-split metrics, their aggregate and every test prediction, with the record to trust them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

#: Metrics reported per split and aggregated, in the order the papers' tables use.
METRICS = ("srocc", "plcc", "krocc", "rmse")

#: File names of a report folder (:meth:`EvaluationResult.save_report`); the demo writes the same names.
REPORT_MARKDOWN = "report.md"
REPORT_JSON = "results.json"


def split_signature(train_ids: Sequence[str], test_ids: Sequence[str]) -> str:
    """A short hash of which images trained and which tested, so two results can prove they share splits."""
    digest = hashlib.sha256()
    digest.update("\n".join(sorted(map(str, train_ids))).encode())
    digest.update(b"\0|\0")
    digest.update("\n".join(sorted(map(str, test_ids))).encode())
    return digest.hexdigest()[:16]


@dataclass
class EvaluationResult:
    """What :func:`deepfeat_iqa.evaluate` measured.

    Parameters
    ----------
    per_split:
        One row per split (index ``split``): ``n_train``, ``n_test``, ``srocc``, ``plcc``, ``krocc``,
        ``rmse`` (after the 4-parameter logistic mapping) and ``plcc_raw``, ``rmse_raw``.
    predictions:
        One row per test image per split: ``id``, ``split``, ``y_true``, ``y_pred`` (and ``y_std``
        when the head gives uncertainty).
    info:
        The record: ``head``, ``head_params``, ``feature_key``, ``protocol``, ``seed``, ``head_seeds``,
        ``dataset``, ``versions`` and protocol settings.
    signatures:
        :func:`split_signature` per split, in split order; :func:`deepfeat_iqa.compare` requires equal ones.

    Examples
    --------
    >>> result = dfi.evaluate(feats, head="svr", n=10)  # doctest: +SKIP
    >>> print(result.summary())                         # doctest: +SKIP
    SROCC 0.912 ± 0.012 | PLCC 0.930 ± 0.010 | KROCC 0.745 ± 0.015 | RMSE 0.311 ± 0.020  (svr, resnet50/layer3, 10 splits)
    """

    per_split: pd.DataFrame
    predictions: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    signatures: tuple[str, ...] = ()

    @property
    def aggregate(self) -> pd.DataFrame:
        """Mean, sd and median of each metric over splits (index ``mean``/``sd``/``median``)."""
        from .metrics import aggregate

        return aggregate(self.per_split.drop(columns=["n_train", "n_test"]).to_dict("records"))

    @property
    def n_splits(self) -> int:
        return len(self.per_split)

    def to_frame(self) -> pd.DataFrame:
        """The per-split table (a copy), ready for ``pd.concat`` across heads or layers."""
        return self.per_split.copy()

    def summary(self) -> str:
        """One line: ``SROCC mean ± sd | PLCC ... | KROCC ... | RMSE ...`` and what produced it."""
        agg = self.aggregate
        parts = [f"{m.upper()} {agg.loc['mean', m]:.3f} ± {_sd(agg.loc['sd', m])}" for m in METRICS]
        key = self.info.get("feature_key", {})
        where = f"{key.get('backbone', '?')}/{key.get('layer', '?')}"
        return " | ".join(parts) + f"  ({self.info.get('head', '?')}, {where}, {self.n_splits} splits)"

    def to_markdown(self) -> str:
        """A report: what was evaluated, the aggregate table and the per-split table."""
        key = self.info.get("feature_key", {})
        lines = [
            f"# Evaluation: {self.info.get('head', '?')} on {self.info.get('dataset', '?')}",
            "",
            f"- protocol: {self.info.get('protocol')} ({self.n_splits} splits, seed {self.info.get('seed')})",
            "- features: " + ", ".join(f"{k}={v}" for k, v in key.items()),
            f"- head parameters: {self.info.get('head_params')}",
            f"- versions: {self.info.get('versions')}",
            "",
            f"**{self.summary()}**",
            "",
            "## Aggregate over splits",
            "",
            self.aggregate.to_markdown(floatfmt=".4f"),
            "",
            "## Per split",
            "",
            self.per_split.to_markdown(floatfmt=["g"] + ["g" if c.startswith("n_") else ".4f" for c in self.per_split.columns]),
            "",
        ]
        return "\n".join(lines)

    def to_json(self, path: str | Path | None = None) -> str:
        """The record, aggregate and per-split metrics as JSON; also written to ``path`` when given.

        Predictions are left out to keep the file small; save them with ``result.predictions.to_csv``.
        """
        document = {
            "info": self.info,
            "aggregate": _records(self.aggregate),
            "per_split": self.per_split.reset_index().to_dict("records"),
            "signatures": list(self.signatures),
        }
        text = json.dumps(_finite(document), indent=2, default=_jsonable, allow_nan=False)
        if path is not None:
            path = Path(path).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return text

    def save_report(self, folder: str | Path) -> dict[str, Path]:
        """Write the report files under ``folder``: ``report.md``, ``results.json``, ``predictions.csv``, ``plots/``.

        The one layout every command uses (``evaluate --report``), so a report folder always reads alike.
        """
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        written = {"report": folder / REPORT_MARKDOWN, "results": folder / REPORT_JSON, "predictions": folder / "predictions.csv"}
        written["report"].write_text(self.to_markdown())
        self.to_json(written["results"])
        self.predictions.to_csv(written["predictions"], index=False)
        for number, path in enumerate(self.plot(folder / "plots")):
            written[f"plot{number}"] = path
        return written

    def plot(self, out_dir: str | Path, *, stem: str | None = None) -> list[Path]:
        """Write the scatter-with-logistic, residual-histogram and QQ PNGs of the pooled test predictions.

        Predictions of all splits are pooled (an image tested in several splits appears once per split),
        which shows the head's typical behaviour rather than one lucky or unlucky split.
        """
        from .plots import prediction_figures

        where = _where(self.info.get("feature_key", {}))
        label = f"{self.info.get('head', 'head')}_{self.info.get('dataset', 'data')}_{where}"
        stem = stem or re.sub(r"[^\w.+-]+", "-", label).strip("-")
        title = (
            f"{self.info.get('head', '?')} on {self.info.get('dataset', '?')}, {where}: "
            f"{len(self.predictions)} test predictions, {self.n_splits} splits"
        )
        return prediction_figures(self.predictions["y_true"], self.predictions["y_pred"], out_dir, stem=stem, title=title)

    def __repr__(self) -> str:
        return f"EvaluationResult({self.summary()})"


class Comparison(NamedTuple):
    """Outcome of :func:`deepfeat_iqa.compare`: the paired t-test and what it compared.

    The first three fields are those of :class:`deepfeat_iqa.metrics.SignificanceResult`, in its order.

    Attributes
    ----------
    statistic, p_value:
        Paired t statistic of A - B and the one-sided p-value of "A is better than B".
    verdict:
        1: A significantly better; -1: A significantly worse; 0: indistinguishable (seed 003 Table 9).
    metric, a, b, mean_a, mean_b, n_splits, alpha:
        The metric, the two results' labels, their mean metric, the number of paired splits and the level.
    """

    statistic: float
    p_value: float
    verdict: int
    metric: str
    a: str
    b: str
    mean_a: float
    mean_b: float
    n_splits: int
    alpha: float

    def __str__(self) -> str:
        outcome = {1: "significantly better than", -1: "significantly worse than", 0: "indistinguishable from"}[self.verdict]
        return (
            f"{self.a} is {outcome} {self.b} on {self.metric.upper()} "
            f"(mean {self.mean_a:.4f} vs {self.mean_b:.4f} over {self.n_splits} paired splits; "
            f"one-sided paired t = {self.statistic:.3f}, p = {self.p_value:.3g}, alpha = {self.alpha}; verdict {self.verdict:+d})"
        )


def _where(key: dict[str, Any]) -> str:
    """``backbone/layer`` of a feature key record; concatenated layers are joined with ``&``."""
    layer = key.get("layer", "?")
    layers = " & ".join(layer) if isinstance(layer, (list, tuple)) else str(layer)
    return f"{key.get('backbone', '?')}/{layers}"


def _sd(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


def _records(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(index): {str(k): float(v) for k, v in row.items()} for index, row in frame.iterrows()}


def _finite(value: Any) -> Any:
    """Replace NaN/inf by ``None`` (JSON ``null``): the sd of one split is undefined, not a number."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
