"""Evaluation, with explicit arguments: figures of merit, the baseline, checkpoints and their choice, leakage,
contrastive checks, faithfulness scores, the budget view of an explanation and the refinement's start.

The pipelines that read a configuration (evaluation.py's, explain.py's, faithfulness.py's) are
`utils.stages.evaluation`, `utils.stages.explain` and `utils.stages.faithfulness`; nothing here imports
`utils.config`, `utils.training` or `utils.stages`, and nothing here trains a model: models come built from
`networks`, the faithfulness judge from `utils.stages.judge`.
"""
from utils.evaluation.baseline import Baseline, load_baseline, measure_baseline
from utils.evaluation.checkpoints import FIGURE_KEYS, aggregate_runs, evaluate_run, recommend
from utils.evaluation.leakage import LeakageProbe, leakage_accuracy
from utils.evaluation.metrics import fidelity, fidelity_standard_error, figures_of_merit, fii, fir
from utils.evaluation.prediction import batched, predict_classes

__all__ = ["Baseline", "FIGURE_KEYS", "LeakageProbe", "aggregate_runs", "batched", "evaluate_run", "fidelity",
           "fidelity_standard_error", "figures_of_merit", "fii", "fir", "leakage_accuracy", "load_baseline",
           "measure_baseline", "predict_classes", "recommend"]
