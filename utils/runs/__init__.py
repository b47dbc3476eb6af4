"""A run's files: where they live and what they are called, who may write them, atomic writes.

No TensorFlow here: scripts resolve and claim a run before they build anything. Everything here takes
explicit arguments; `utils.stages.runs` turns a configuration into them.
"""
from utils.runs.atomic import atomic_path, atomic_savefig, atomic_write_json, atomic_write_text
from utils.runs.claim import RunLock, claim, claim_series, clear, hold
from utils.runs.layout import (EVALUATOR, LOCK, Run, RunPaths, alpha_decimals, budget_decimals, checkpoint_alpha,
                               checkpoint_budget, checkpoint_label, checkpoint_name, checkpoint_stem, checkpoints,
                               explanation_model_type, run_folders, series_lock)

__all__ = ["EVALUATOR", "LOCK", "Run", "RunLock", "RunPaths", "alpha_decimals", "atomic_path", "atomic_savefig",
           "atomic_write_json", "atomic_write_text", "budget_decimals", "checkpoint_alpha", "checkpoint_budget",
           "checkpoint_label", "checkpoint_name", "checkpoint_stem", "checkpoints", "claim", "claim_series", "clear",
           "explanation_model_type", "hold", "run_folders", "series_lock"]

