"""Stages: the orchestration layer, where a `Config` becomes the explicit arguments of the library.

Below the scripts, this package is the only place (besides `utils.config`, which reads, checks and
translates the configuration) where a `Config` is read: `utils.training`, `utils.runs`, `utils.data`,
`utils.evaluation`, `utils.reporting` and `utils.explainers` take explicit arguments, and nothing
below the scripts imports `utils.stages` but `utils.stages` itself. A script reads like a recipe:
parse the configuration, call a stage, print.

Modules (imported on demand: this file imports none of them, so that ``--help`` stays fast):

- `utils.stages.runs`: a configuration's run folders, locks and default weights files:
  `hider_model_type`, `seeker_model_type`, `hns_variant`, `VARIANT_FLAGS`, `hns_model_type`,
  `run_paths`, `series`, `lock_path`, `default_seeker_weights`, `default_hider_weights`,
  `default_baseline`, `claimed`, `locked` (over `utils.runs.layout` and `utils.runs.claim`).
- `utils.stages.process`: device and cluster set-up of a script's process, and the strategy scope
  a training runs in: `start_process`, `as_this_process`, `distributed` (over
  `utils.training.distribute`).
- `utils.stages.data`: `load_data(cfg)`, the splits of a configuration (over `utils.data.load_data`).
- `utils.stages.pretraining`: `build_pretraining_model`, `pretrain`, `pretrain_random_masks`, and
  `evaluator_arguments(cfg)`: the keyword arguments of `utils.training.evaluator.train_evaluator`.
- `utils.stages.hns`: Hide-and-Seek training of a configuration: `HPARAMS`, `hparams`, `scheduled`,
  `run_length`, `budget_run_length`, `train_hns`, `train_series`
  (`utils.training.hns.TrainingResult` is what they return).
- `utils.stages.evaluation`, `utils.stages.explain`, `utils.stages.faithfulness`,
  `utils.stages.judge`: the evaluation, explanation and faithfulness stages (see each module).
"""
