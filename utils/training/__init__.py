"""Training: pretraining, Hide-and-Seek fitting, their callbacks and schedules, resume after a kill."""
from utils.training.hns import TrainingResult, train_hns, train_series
from utils.training.loop import FitOutcome, fit_run, fit_verbosity
from utils.training.pretraining import build_pretraining_model, pretrain, pretrain_random_masks

__all__ = ["FitOutcome", "TrainingResult", "build_pretraining_model", "fit_run", "fit_verbosity", "pretrain",
           "pretrain_random_masks", "train_hns", "train_series"]
