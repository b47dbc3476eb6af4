"""Evaluation: figures of merit, the baseline, checkpoints and their choice, leakage, contrastive checks,
and the pipelines of the reports: evaluation.py's (`utils.evaluation.report`), explain.py's
(`utils.evaluation.explanations`) and the faithfulness benchmark's (`utils.evaluation.benchmark`).

Nothing here trains a Hide-and-Seek model; models come built from `networks`.
"""
from utils.evaluation.baseline import Baseline, load_baseline, measure_baseline
from utils.evaluation.checkpoints import FIGURE_KEYS, aggregate_runs, evaluate_run, recommend
from utils.evaluation.leakage import LeakageProbe, leakage_accuracy
from utils.evaluation.metrics import fidelity, fidelity_standard_error, figures_of_merit, fii, fir
from utils.evaluation.prediction import batched, predict_classes

__all__ = ["Baseline", "FIGURE_KEYS", "LeakageProbe", "aggregate_runs", "batched", "evaluate_run", "fidelity",
           "fidelity_standard_error", "figures_of_merit", "fii", "fir", "leakage_accuracy", "load_baseline",
           "measure_baseline", "predict_classes", "recommend"]
