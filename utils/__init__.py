"""The toolkit's library; each sub-package is one concept:

    config/       the typed configuration, presets, command line and script entry (no TensorFlow)
    runs/         a run's files: layout and names, claim/resume/overwrite policy and lock, atomic writes
    data/         datasets as splits, tf.data pipelines
    training/     pretraining, Hide-and-Seek fitting, callbacks, schedules, resume after a kill,
                  strategies, the EVAL-X evaluator
    explainers/   explanation methods for any Keras classifier (CEM, FIDO, BBMP, gradients,
                  occlusion), in-fillers, the top-k cut
    evaluation/   figures of merit, baseline, checkpoints, leakage, contrastive checks, faithfulness
    reporting/    reports, tables and figures

plus `errors` (the exceptions scripts turn into exit codes) and `seeding` (reproducibility).
Models live in `networks/`.
"""
