"""The papers' protocols: ``evaluate`` over content-separated splits, ``evaluate_cross``, ``compare``; metrics, splits, results, plots."""

from deepfeat_iqa.evaluation._evaluate import compare, evaluate, evaluate_cross
from deepfeat_iqa.evaluation.results import Comparison, EvaluationResult, summary_table
from deepfeat_iqa.evaluation.scenes import within_scene_srocc

__all__ = ["Comparison", "EvaluationResult", "compare", "evaluate", "evaluate_cross", "summary_table", "within_scene_srocc"]
