"""Training: the resumable fit, pretraining and Hide-and-Seek fitting, their callbacks and schedules, the
distribution strategies, resume after a kill. Every function takes explicit arguments (`utils.stages` reads
a configuration and calls them)."""
from utils.training.hns import TrainingResult, fit_hns
from utils.training.loop import FitOutcome, fit_run, fit_verbosity
from utils.training.pretraining import fit_pretraining, pretraining_model

__all__ = ["FitOutcome", "TrainingResult", "fit_hns", "fit_pretraining", "fit_run", "fit_verbosity",
           "pretraining_model"]
