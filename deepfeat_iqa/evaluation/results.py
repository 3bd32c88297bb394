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

from deepfeat_iqa._json import json_safe

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
    >>> result = dfi.evaluate(feats, head="svr", n_splits=10)  # doctest: +SKIP
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
        from deepfeat_iqa.evaluation.metrics import aggregate

        return aggregate(self.per_split.drop(columns=["n_train", "n_test"]).to_dict("records"))

    @property
    def n_splits(self) -> int:
        return len(self.per_split)

    def to_frame(self) -> pd.DataFrame:
        """The per-split table (a copy), ready for ``pd.concat`` across heads or layers."""
        return self.per_split.copy()

    def _protocol_text(self) -> str:
        """How many splits of what: ``5 splits, test size 0.2`` or ``1 split: train on A, test on B``."""
        info = self.info
        if info.get("protocol") == "cross":
            return f"1 split: train on {info.get('train_dataset', '?')}, test on {info.get('test_dataset', '?')}"
        n = self.n_splits
        text = f"{n} split{'s' if n != 1 else ''}"
        test_size = info.get("test_size")
        if test_size is not None:
            text += f", test size {float(test_size):g}"
        elif "n_test" in self.per_split:
            text += f", {int(round(float(self.per_split['n_test'].mean())))} test images per split"
        return text

    def summary(self) -> str:
        """One line: ``SROCC mean ± sd | PLCC ... | KROCC ... | RMSE ...``, what produced it, splits and test size.

        With one split there is no spread to report, so the line gives the values alone and says so.
        """
        agg = self.aggregate
        if self.n_splits == 1:
            parts = [f"{m.upper()} {agg.loc['mean', m]:.3f}" for m in METRICS]
        else:
            parts = [f"{m.upper()} {agg.loc['mean', m]:.3f} ± {_sd(agg.loc['sd', m])}" for m in METRICS]
        where = _where(self.info.get("feature_key", {}))
        return " | ".join(parts) + f"  ({self.info.get('head', '?')}, {where}, {self._protocol_text()})"

    def to_row(self) -> dict[str, Any]:
        """One table row: head, backbone, layer, pooling, dim, splits, test size, mean and sd of each metric.

        :func:`summary_table` stacks rows of several results, so comparisons read as a flat table.
        """
        key = self.info.get("feature_key", {})
        layer, pooling = key.get("layer", ""), key.get("pooling", "")
        blocks = self.info.get("blocks") or []
        agg = self.aggregate
        row: dict[str, Any] = {
            "head": self.info.get("head"),
            "backbone": key.get("backbone"),
            "layer": " & ".join(layer) if isinstance(layer, (list, tuple)) else layer,
            "pooling": " & ".join(pooling) if isinstance(pooling, (list, tuple)) else pooling,
            "dim": int(sum(int(d) for _, d in blocks)) if blocks else None,
            "dataset": self.info.get("dataset"),
            "splits": self.n_splits,
            "test_size": self.info.get("test_size"),
        }
        for metric in METRICS:
            row[metric] = float(agg.loc["mean", metric])
            row[f"{metric}_sd"] = float(agg.loc["sd", metric]) if self.n_splits > 1 else None
        return row

    def to_markdown(self) -> str:
        """A report: what was evaluated, the aggregate table and the per-split table."""
        key = self.info.get("feature_key", {})
        params = self.info.get("head_params") or {}
        versions = self.info.get("versions") or {}
        shown_key = {k: (" & ".join(v) if isinstance(v, (list, tuple)) else v) for k, v in key.items() if k != "parts"}
        lines = [
            f"# Evaluation: {self.info.get('head', '?')} on {self.info.get('dataset', '?')}",
            "",
            f"- protocol: {self.info.get('protocol')} ({self._protocol_text()}, seed {self.info.get('seed')})",
            "- features: " + ", ".join(f"{k}={v}" for k, v in shown_key.items()),
            "- head parameters: " + (", ".join(f"{k}={v}" for k, v in params.items()) or "none"),
            "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
            "",
            f"**{self.summary()}**",
            "",
        ]
        if self.n_splits > 1:
            lines += ["## Aggregate over splits", "", markdown_table(self.aggregate.rename_axis("over splits"), floatfmt=".4f"), ""]
        lines += ["## Per split", "", markdown_table(self.per_split, floatfmt=".4f"), ""]
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
        text = json.dumps(json_safe(document, fallback=str, finite=True), indent=2, allow_nan=False)
        if path is not None:
            path = Path(path).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return text

    def save_report(self, folder: str | Path) -> dict[str, Path]:
        """Write the report under ``folder``: ``index.html``, ``report.md``, ``results.json``, ``predictions.csv``, ``plots/``.

        The one layout every command uses (``evaluate --report``), so a report folder always reads alike;
        ``index.html`` (:func:`deepfeat_iqa.evaluation.report.evaluation_report`) shows the tables, the plots,
        the photos the model misjudges most (thumbnails in ``thumbs/``) and the run record.
        """
        from deepfeat_iqa.evaluation.report import evaluation_report

        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        written = {"report": folder / REPORT_MARKDOWN, "results": folder / REPORT_JSON, "predictions": folder / "predictions.csv"}
        written["report"].write_text(self.to_markdown())
        self.to_json(written["results"])
        self.predictions.to_csv(written["predictions"], index=False)
        plots = self.plot(folder / "plots")
        for number, path in enumerate(plots):
            written[f"plot{number}"] = path
        files = [REPORT_MARKDOWN, REPORT_JSON, "predictions.csv"]
        written["html"] = evaluation_report(self, folder, plots=plots, files=files)
        return written

    def plot(self, out_dir: str | Path, *, stem: str | None = None, kinds: Sequence[str] | None = None) -> list[Path]:
        """Write the scatter-with-logistic, residual-histogram and QQ PNGs of the pooled test predictions.

        Predictions of all splits are pooled (an image tested in several splits appears once per split),
        which shows the head's typical behaviour rather than one lucky or unlucky split. ``kinds`` picks
        some of ``("scatter", "residuals", "qq")`` (default all three).
        """
        from deepfeat_iqa.evaluation.plots import FIGURES, prediction_figures

        where = _where(self.info.get("feature_key", {}))
        label = f"{self.info.get('head', 'head')}_{self.info.get('dataset', 'data')}_{where}"
        stem = stem or re.sub(r"[^\w.+-]+", "-", label).strip("-")
        title = (
            f"{self.info.get('head', '?')} on {self.info.get('dataset', '?')}, {where}: "
            f"{len(self.predictions)} test predictions, {self.n_splits} splits"
        )
        return prediction_figures(self.predictions["y_true"], self.predictions["y_pred"], out_dir, stem=stem, title=title,
                                  scale=self.info.get("scale"), kinds=FIGURES if kinds is None else kinds)

    def __repr__(self) -> str:
        return f"EvaluationResult({self.summary()})"


class Comparison(NamedTuple):
    """Outcome of :func:`deepfeat_iqa.compare`: the paired t-test and what it compared.

    The first three fields are those of :class:`deepfeat_iqa.evaluation.metrics.SignificanceResult`, in its order.

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


def summary_table(results: Sequence[EvaluationResult]) -> pd.DataFrame:
    """One row per result (:meth:`EvaluationResult.to_row`): heads and layers as columns, never tuple indices.

    Examples
    --------
    >>> table = summary_table([gpr, svr])            # doctest: +SKIP
    >>> print(markdown_table(table))                 # doctest: +SKIP
    """
    return pd.DataFrame([result.to_row() for result in results])


def markdown_table(frame: pd.DataFrame, *, floatfmt: str = ".3f") -> str:
    """``frame`` as a Markdown table: the index as columns, integers as integers, floats as ``floatfmt``.

    ``DataFrame.to_markdown`` hands tabulate one float array for mixed columns, which prints a 1280-d layer
    as ``1280.000``; converting to objects first keeps every cell's own type.
    """
    named = any(name is not None for name in frame.index.names)
    flat = frame.reset_index() if named or not isinstance(frame.index, pd.RangeIndex) else frame
    cells = flat.astype(object).where(flat.notna(), None)
    return cells.to_markdown(index=False, floatfmt=floatfmt, missingval="")


def _where(key: dict[str, Any]) -> str:
    """``backbone/layer`` of a feature key record; concatenated layers are joined with ``&``."""
    layer = key.get("layer", "?")
    layers = " & ".join(layer) if isinstance(layer, (list, tuple)) else str(layer)
    return f"{key.get('backbone', '?')}/{layers}"


def _sd(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


def _records(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(index): {str(k): float(v) for k, v in row.items()} for index, row in frame.iterrows()}


