"""``significance``: seed 003 Table 9, the one-sided paired t-test of every pair of results (1 / 0 / -1)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa._json import json_safe
from deepfeat_iqa.evaluation.results import EvaluationResult

#: Parts of a result's record that decide its splits; named when two results' splits differ.
_SPLIT_FIELDS = ("dataset", "protocol", "n_splits", "test_size", "by", "seed", "n_images")


def labelled(results: Sequence[EvaluationResult] | Mapping[str, EvaluationResult]) -> dict[str, EvaluationResult]:
    """Results keyed by a label: the mapping's keys, else ``head [backbone/layer]`` made unique."""
    if isinstance(results, Mapping):
        found = dict(results)
    else:
        from deepfeat_iqa.evaluation._evaluate import _label

        found = {}
        for result in results:
            label = _label(result)
            if label in found:
                label = f"{label} #{sum(k.startswith(label) for k in found) + 1}"
            found[label] = result
    for label, result in found.items():
        if not isinstance(result, EvaluationResult):
            raise ConfigError(f"{label!r} is a {type(result).__name__}, not an EvaluationResult (what dfi.evaluate returns).")
    return found


def check_same_splits(results: Mapping[str, EvaluationResult]) -> None:
    """Refuse results computed on different splits, naming the first pair and what differs between them."""
    items = list(results.items())
    first_label, first = items[0]
    for label, result in items[1:]:
        if result.signatures == first.signatures:
            continue
        diffs = [
            f"{name} {first.info.get(name)!r} vs {result.info.get(name)!r}"
            for name in _SPLIT_FIELDS
            if first.info.get(name) != result.info.get(name)
        ]
        differing = sum(a != b for a, b in zip(first.signatures, result.signatures))
        detail = "; ".join(diffs) if diffs else f"{differing} of {min(len(first.signatures), len(result.signatures))} splits hold other images"
        raise DataError(
            f"{label!r} and {first_label!r} were evaluated on different splits ({detail}). A paired comparison needs "
            "identical splits: evaluate every result on the same dataset with the same protocol, n, test_size and seed "
            "(or the same splits=)."
        )


@dataclass(frozen=True)
class SignificanceMatrix:
    """Row-vs-column outcomes: ``verdict`` 1 (row significantly better), -1 (worse), 0 (indistinguishable).

    Attributes
    ----------
    verdict, p_value, statistic:
        Square frames indexed by result label (diagonal: 0 / NaN).
    mean:
        Each result's mean ``metric`` over the shared splits.
    metric, alpha, n_splits:
        What was tested and at which level, over how many paired splits.
    """

    verdict: pd.DataFrame
    p_value: pd.DataFrame
    statistic: pd.DataFrame
    mean: pd.Series
    metric: str
    alpha: float
    n_splits: int

    def to_markdown(self) -> str:
        lines = [
            f"One-sided paired t-test on {self.metric.upper()} over {self.n_splits} identical splits, alpha = {self.alpha}: "
            "1 = row significantly better than column, -1 = significantly worse, 0 = indistinguishable.",
            "",
            self.verdict.assign(**{f"mean {self.metric.upper()}": self.mean.round(4)}).to_markdown(),
            "",
        ]
        return "\n".join(lines)

    def to_json(self, path: str | Path | None = None) -> str:
        document = {
            "metric": self.metric, "alpha": self.alpha, "n_splits": self.n_splits, "labels": list(self.verdict.index),
            "verdict": self.verdict.to_numpy().tolist(), "p_value": self.p_value.to_numpy().tolist(),
            "mean": self.mean.to_dict(),
        }  # fmt: skip
        text = json.dumps(json_safe(document, finite=True), indent=2, allow_nan=False)
        if path is not None:
            Path(path).expanduser().write_text(text)
        return text


def significance(
    results: Sequence[EvaluationResult] | Mapping[str, EvaluationResult], metric: str = "srocc", alpha: float = 0.05
) -> SignificanceMatrix:
    """Paired one-sided t-tests of every result against every other over their shared splits (seed 003 Table 9).

    Parameters
    ----------
    results:
        Two or more results on identical splits (a list, or a dict label -> result); ensembles included.
    metric:
        ``"srocc"``, ``"plcc"``, ``"krocc"`` (higher is better) or ``"rmse"`` (lower is better).
    alpha:
        Level of each one-sided test (0.05: the paper's 95 %).

    Raises
    ------
    DataError
        When the results were not computed on the same splits, naming the pair and the difference.
    """
    from deepfeat_iqa.evaluation._evaluate import compare

    found = labelled(results)
    if len(found) < 2:
        raise ConfigError(f"A significance matrix needs at least two results; got {len(found)}.")
    check_same_splits(found)
    labels = list(found)
    verdict = pd.DataFrame(0, index=labels, columns=labels, dtype=int)
    p_value = pd.DataFrame(np.nan, index=labels, columns=labels)
    statistic = pd.DataFrame(np.nan, index=labels, columns=labels)
    means = {}
    for row in labels:
        for col in labels:
            if row == col:
                continue
            outcome = compare(found[row], found[col], metric=metric, alpha=alpha)
            verdict.loc[row, col], p_value.loc[row, col], statistic.loc[row, col] = outcome.verdict, outcome.p_value, outcome.statistic
            means[row] = outcome.mean_a
    n_splits = next(iter(found.values())).n_splits
    return SignificanceMatrix(verdict, p_value, statistic, pd.Series(means).reindex(labels), metric, alpha, n_splits)
