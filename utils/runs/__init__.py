"""A run's files: where they live and what they are called, who may write them, atomic writes.

No TensorFlow here: scripts resolve and claim a run before they build anything.
"""
from utils.runs.atomic import atomic_path, atomic_savefig, atomic_write_json, atomic_write_text
from utils.runs.claim import RunLock, claim_series, claimed, clear, locked
from utils.runs.layout import (EVALUATOR, VARIANT_FLAGS, Run, RunPaths, alpha_decimals, budget_decimals,
                               checkpoint_alpha, checkpoint_budget, checkpoint_label, checkpoint_name,
                               checkpoint_stem, checkpoints, default_baseline, default_hider_weights,
                               default_seeker_weights, explanation_model_type, hider_model_type, hns_model_type,
                               lock_path, run_paths, seeker_model_type, series)

__all__ = ["EVALUATOR", "VARIANT_FLAGS", "Run", "RunLock", "RunPaths", "alpha_decimals", "atomic_path",
           "atomic_savefig", "atomic_write_json", "atomic_write_text", "budget_decimals", "checkpoint_alpha",
           "checkpoint_budget", "checkpoint_label", "checkpoint_name", "checkpoint_stem", "checkpoints",
           "claim_series", "claimed", "clear", "default_baseline", "default_hider_weights", "default_seeker_weights",
           "explanation_model_type", "hider_model_type", "hns_model_type", "locked", "lock_path", "run_paths",
           "seeker_model_type", "series"]
