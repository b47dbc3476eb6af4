"""The typed configuration of every script: each flag declared once, with its default, group and range.

A field's metadata drives the command line (`utils.config.parser`) and the per-field checks
(`utils.config.checks`): ``group`` says which scripts take the flag, ``choices`` the allowed
values, ``at_least``/``above``/``at_most``/``below`` its range, ``plain_name`` that the value
becomes one folder or file name of a run (never a path); every float must be finite. Script-only
flags (evaluation, explanations) live here too, so their defaults are written once and presets
may set them. The keys of the objective's terms are declared with their terms (`networks.term_keys`) and become
fields here (`_with_term_keys`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

from networks.choices import DECODERS, ESTIMATORS, HIDER_FEATURES, MASK_INFILLS, MASK_MODES, SEEKER_MODELS, \
    SEEKER_TRAININGS
from networks.term_keys import KEYS as TERM_KEYS
from utils.cluster import STRATEGIES
# The explainers own their names (utils.config may import utils.explainers; the reverse is forbidden).
from utils.explainers.choices import (INFILLERS, LEARNING_RATES, METHODS, REFERENCES,  # noqa: F401
                                     default_occlusion_patch)

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config.toml"

DATASETS = ("mnist-5k", "mnist", "fashion", "cifar10", "cifar100", "folder", "patches")
MODELS = ("small", "large", "resnet")
MONITORS = ("classification", "total")
BUDGET_SCHEDULES = ("geometric", "plateau")         # utils.training.budget
SPLITS = ("test", "validation")
SHIFT_FILLS = ("zero", "edge")                      # utils.data.pipelines.shift_images
# Built-in data whose background is black: shifted images are filled with zeros there, and with
# their border pixels elsewhere (colour and folder data).
BLACK_BACKGROUND = ("mnist-5k", "mnist", "fashion")
# Where FIDO/BBMP refinement starts (explain.py --start), and what a refinement row optimises (faithfulness.py).
STARTS = ("hns", "amortised")
REFINE_OBJECTIVES = ("topk", "ssr")
# What the faithfulness benchmark scores: the explainers, the HnS masks, and references.
FAITH_METHODS = ("hns", "hns-ranked", "amortised", *METHODS, *REFERENCES)
# The one-pass explainer needs its trained run (train_explainer.py): named, never part of --methods all.
NEEDS_A_RUN = ("amortised",)
# The hider halves the image twice (small) or five times (large, resnet), so the
# image size must be a multiple of 2**n for the decoder to give back the input size.
SIZE_MULTIPLE = {"small": 4, "large": 32, "resnet": 32}


# Seeds go to NumPy's legacy generator (at most 2**32 - 1), and runs derive seed + 1 and + 2 from them.
MAX_SEED = 2**31 - 1


NATIVE_SHAPES = {
    "mnist-5k": (28, 1, 10), "mnist": (28, 1, 10), "fashion": (28, 1, 10),
    "cifar10": (32, 3, 10), "cifar100": (32, 3, 100), "patches": (32, 3, 6),
}

# Groups of flags: every script takes COMMON; the others only where they mean something.
COMMON, HNS, EVAL, EXPLAIN, FAITH, PRETRAIN = "common", "hns", "eval", "explain", "faith", "pretrain"
# The random masks of EVAL-X: the judge of faithfulness.py, the seeker of pretrain_seeker.py --random_masks
# and of collaborative_training.py --seeker_training random-masks all draw them.
EVALX = "evalx"
# The one-pass explainer of a fixed classifier (train_explainer.py; explain.py and faithfulness.py read its run).
AMORTISED = "amortised"
EXPLAINER_STARTS = ("hns", "autoencoder", "scratch")
# Switches of one invocation: never in a preset, never recorded with results.
UI_FLAGS = ("config_file", "debug", "verbose", "overwrite", "resume", "quiet")


def _opt(default, help, group=COMMON, **meta):
    return field(default=default, metadata={"help": help, "group": group, **meta})


def _with_term_keys(after: str):
    """A class decorator: the objective terms' keys (`networks.term_keys.KEYS`) become HNS fields after field
    `after`, each with the default, help, range and choices its term declares."""
    def add(cls):
        annotations = {}
        for name, kind in cls.__annotations__.items():
            annotations[name] = kind
            if name == after:
                for key in TERM_KEYS.values():
                    annotations[key.name] = key.type.__name__
                    setattr(cls, key.name, _opt(key.default, key.help, group=HNS, **key.meta))
        cls.__annotations__ = annotations
        return cls

    return add


@dataclass
@_with_term_keys(after="evaluate")
class Config:
    """Everything a run needs: defaults < preset in config.toml < flags (see `parse_config`)."""

    config: str = _opt("mnist-5k", "Preset in config.toml to start from.", plain_name=True)
    config_file: str = _opt(str(DEFAULT_CONFIG_FILE), "TOML file holding the presets.")
    identifier: str = _opt("default", "Name of the run: folder under logs/, weights/, results/.",
                           plain_name=True)
    dataset: str = _opt("mnist-5k", "Dataset to load.", choices=DATASETS)
    data_dir: Optional[str] = _opt(None, "Folder with train/ and test/ class folders, and val/ (or validation/) if "
                                   "the validation split is yours rather than drawn from train/ (dataset 'folder').")
    image_size: Optional[int] = _opt(None, "Images are resized to image_size x image_size (default: native size).")
    channels: Optional[int] = _opt(None, "1 (grayscale) or 3 (RGB); images are converted (default: native).",
                                   choices=(1, 3))
    num_classes: Optional[int] = _opt(None, "Number of classes (default: from the data).", at_least=2)
    train_images: Optional[int] = _opt(None, "Cap on the training images, validation split included.",
                                       at_least=1)
    test_images: Optional[int] = _opt(None, "Cap on the test images.", at_least=1)
    validation_split: float = _opt(0.1, "Share of the training split held out for model selection (unless "
                                   "data_dir holds val/).",
                                   above=0, below=1)
    augment_shift: int = _opt(0, "Augmentation: training images move by a random whole number of pixels "
                              "in [-N, N] along each axis (0: off). Pretraining, baseline and HnS alike.",
                              at_least=0)
    shift_fill: Optional[str] = _opt(None, "What moves in at the border of a shifted image: zero (black) or edge "
                                     "(the nearest border pixel repeated). Default: zero on mnist-5k, mnist and "
                                     "fashion, whose background is black; edge on colour and folder data.",
                                     choices=SHIFT_FILLS)
    batch_size: int = _opt(64, "Batch size (the global batch under --strategy mirrored or multiworker).",
                           at_least=1)
    strategy: str = _opt("default", "Distribution of the training: default (one device), mirrored (all local "
                         "GPUs, or the logical CPUs of HNS_CPU_DEVICES=N), multiworker (TF_CONFIG).",
                         choices=STRATEGIES)
    mixed_precision: bool = _opt(False, "Compute in bfloat16 with float32 variables, logits, losses and masks "
                                 "(faster where the hardware has bfloat16 units; see benchmarks/throughput.py).")
    steps_per_execution: int = _opt(1, "Training steps per compiled call (fewer host round-trips; callbacks "
                                    "run once per call, the adaptive schedule still sees every step).",
                                    at_least=1)
    max_epochs: int = _opt(10, "Maximum number of epochs. Under the adaptive alpha schedule (no --alpha, no "
                           "--mask_mode topk) it is only a cap: the schedule ends the run after (alphas from 1 to "
                           "--min_alpha) x at least --patience steps, as the plateau budget schedule does after its "
                           "budgets; collaborative_training.py prints both bounds at start.", at_least=1)
    learning_rate: float = _opt(1e-3, "Adam learning rate (in explain.py, only a typed value counts: "
                                "CEM's initial learning rate).", above=0)
    model: str = _opt("small", "Architecture: small, large (hider_large + seeker_large) or resnet "
                      "(hider_large + ResNet50 seeker, no pretrained weights).", choices=MODELS)
    seeker_model: Optional[str] = _opt(None, "The seeker, if not the one of --model: small, large, resnet, or pooling "
                                       "(3x3 convolutions with max pooling, then global max pooling before the "
                                       "logits: one detector for every position, for evidence that may be anywhere "
                                       "in the image; networks/seeker.py). Every stage must be given the same.",
                                       choices=SEEKER_MODELS)
    hider_decoder: str = _opt("transpose", "Hider decoder: transpose (4x4 transposed convolutions of stride 2, the "
                              "original's; masks with a stride-2 checkerboard), resize (nearest upsampling + "
                              "3x3 convolution) or unet (resize with skip connections from the encoder). "
                              "Pretraining, HnS and the autoencoder in-filler alike.",
                              choices=DECODERS)
    hider_weights: Optional[str] = _opt(None, "Pretrained hider weights (.weights.h5) to start from.")
    seeker_weights: Optional[str] = _opt(None, "Pretrained seeker weights (.weights.h5) to start from.")
    baseline: Optional[str] = _opt(None, "baseline.json (or a file holding a bare accuracy) of the seeker "
                                   "trained alone; needed for Fidelity, FIR and FII.")
    seed: int = _opt(0, "Seed for data order, initialisation and mask sampling.", at_least=0, at_most=MAX_SEED)
    foreground_threshold: float = _opt(0.1, "A pixel is foreground (for I_fg) when a channel differs by more than "
                                       "this from the image's background, the median of its border pixels.",
                                       at_least=0, below=1)
    debug: bool = _opt(False, "Run without writing anything (no weights, logs or results).")
    verbose: bool = _opt(False, "Show tracebacks on errors.")
    overwrite: bool = _opt(False, "Replace an existing run with the same identifier.")
    resume: bool = _opt(False, "Insist on continuing an interrupted run (the same command continues one "
                        "without this flag; a run killed before its first saved state starts again).")
    quiet: bool = _opt(False, "No progress bars.")
    # Hide-and-Seek
    stochastic: bool = _opt(False, "Binary stochastic neurons instead of deterministic ones.", group=HNS)
    estimator: str = _opt("st1", "Gradient estimator of the stochastic neuron.", group=HNS, choices=ESTIMATORS)
    rate: float = _opt(0.5, "Slope annealing: the slope is multiplied by (1 + rate) after each epoch.",
                       group=HNS, at_least=0)
    alpha: Optional[float] = _opt(None, "Constant alpha in [0, 1]; without it alpha adapts from 1.0 down.",
                                  group=HNS, at_least=0, at_most=1)
    alpha_step: float = _opt(0.05, "How much the adaptive schedule lowers alpha at each plateau (at most "
                             "6 decimals).", group=HNS, above=0, at_most=1)
    min_alpha: float = _opt(0.05, "The adaptive schedule stops after the plateau at this alpha.", group=HNS,
                            at_least=0, below=1)
    patience: int = _opt(100, "Training steps in the plateau window of the adaptive schedule: every alpha (or, "
                         "with --budget_schedule plateau, every budget) lasts at least this many steps, so patience, "
                         "--alpha_step and --min_alpha set the run's length, not --max_epochs.", group=HNS,
                         at_least=1)
    min_delta: float = _opt(0.01, "Plateau: the monitored loss improved by less than this share over "
                            "the window.", group=HNS, at_least=0)
    monitor: str = _opt("classification", "Loss watched by the adaptive schedule.", group=HNS,
                        choices=MONITORS)
    mask_grid: Optional[int] = _opt(None, "Mask on a coarse grid of G x G cells: the hider's logits are averaged "
                                    "per cell and upsampled bilinearly before the binary neuron (default: per "
                                    "pixel). G must divide the image size.", group=HNS, at_least=1, metavar="G")
    seeker_training: str = _opt("joint", "How the seeker learns: joint (with the hider, on its masks: the "
                                "original), random-masks (joint, plus the EVAL-X loss on random masks in every "
                                "batch; keep rates and grid from --evalx_min_rate and --evalx_grid), frozen "
                                "(REAL-X: --seeker_weights from pretrain_seeker.py --random_masks, never updated; "
                                "only the hider learns).", group=HNS, choices=SEEKER_TRAININGS)
    allow_weak_seeker: bool = _opt(False, "Start from --seeker_weights even when its validation accuracy is within "
                                   "1.5 times chance (otherwise refused: such a seeker teaches the hider nothing).",
                                   group=HNS)
    mask_mode: str = _opt("threshold", "threshold (binary neurons on the hider's logits, the mask size a penalty "
                          "weighted by alpha: the original) or topk (exactly round(budget x pixels) kept per image, "
                          "or grid cells with --mask_grid: the hider's top k; the budget follows --budget_schedule "
                          "and alpha is 1 unless given).", group=HNS, choices=MASK_MODES)
    start_budget: float = _opt(0.5, "topk: share of the pixels kept at the start.", group=HNS, above=0, at_most=1)
    final_budget: float = _opt(0.03, "topk: share of the pixels kept at the end (at most --start_budget).",
                               group=HNS, above=0, at_most=1)
    budget_epochs: int = _opt(20, "topk: geometric: epochs from --start_budget to --final_budget (then held); "
                              "plateau: the number of steps between them.", group=HNS, at_least=1)
    budget_schedule: str = _opt("geometric", "topk: lower the budget geometrically once per epoch, or by one "
                                "geometric step at each plateau of the monitored loss (as adaptive alpha: "
                                "--patience, --min_delta, --monitor; training ends after the plateau at "
                                "--final_budget).", group=HNS, choices=BUDGET_SCHEDULES)
    hider_features: str = _opt("none", "What the hider reads: none (the image: the hider of --model and "
                               "--hider_decoder), frozen (a frozen copy of the --seeker_weights seeker's convolutions, "
                               "Dabkowski & Gal 2017) or live (the co-trained seeker's convolutions behind a stop "
                               "gradient, Phang et al. 2020); both through a resize decoder with the image at the last "
                               "stage (networks/feature_hider.py). Small and large models only.", group=HNS,
                               choices=HIDER_FEATURES)
    hider_head_layers: int = _opt(0, "With --hider_features: this many more 3x3 convolutions at full resolution "
                                  "before the hider's logits, so that neighbouring pixels of one feature cell can be "
                                  "told apart (networks/feature_hider.py).", group=HNS, at_least=0)
    num_trainings: int = _opt(1, "Train this many models, in sub-folders 1..N.", group=HNS, at_least=1)
    evaluate: bool = _opt(False, "Evaluate the run (as evaluation.py does) when training ends.", group=HNS)
    mask_infill: str = _opt("zero", "What HnS's masked images hold where the mask hides (masked-in, masked-out, "
                            "random masks, prediction): zero (the original), blur, local-mean or noise (FIDO's "
                            "in-fillers, settings scaled to the image size), closer to the training images than "
                            "black holes, or mean (the training images' mean colour, as the folder judge fills).",
                            group=HNS, choices=MASK_INFILLS)
    # Pretraining (pretrain_seeker.py)
    random_masks: bool = _opt(False, "Train the seeker on randomly masked images (EVAL-X: keep rates from "
                              "U(--evalx_min_rate, 1), cells of --evalx_grid, zero in-fill) for --seeker_training "
                              "frozen; its run is seeker-random/<identifier>.", group=PRETRAIN)
    # Evaluation report (evaluation.py, collaborative_training.py --evaluate)
    min_fidelity: float = _opt(0.98, "Recommended checkpoint: validation Fidelity floor.", group=EVAL,
                               above=0, at_most=1.5)
    fidelity_se: float = _opt(1.0, "A checkpoint meets the floor when its validation F plus K standard "
                              "errors (binomial, from the validation split's size) reaches it; 0 makes the "
                              "floor hard.", group=EVAL, at_least=0, at_most=10)
    leakage_epochs: int = _opt(3, "Epochs of the mask-only leakage classifier; 0 skips it.", group=EVAL,
                               at_least=0)
    examples: int = _opt(8, "Test images in each mask figure.", group=EVAL, at_least=1)
    cem_images: int = _opt(10, "Test images explained with CEM (PP and PN) on the pretrained and the HnS "
                           "seeker at the recommended checkpoint; 0 skips.", group=EVAL, at_least=0)
    cem_c_steps: int = _opt(5, "CEM c search steps for that comparison.", group=EVAL, at_least=1)
    cem_iterations: int = _opt(300, "CEM iterations per c step for that comparison.", group=EVAL, at_least=1)
    # Explanations (explain.py)
    method: str = _opt("fido-ssr", "Explanation method (amortised: the one-pass explainer that train_explainer.py "
                       "trained with the same flags).", group=EXPLAIN, choices=(*METHODS, "amortised"))
    n: int = _opt(10, "Number of test images to explain.", group=EXPLAIN, at_least=1)
    sample_from_class: Optional[int] = _opt(None, "Take the first --n test images of true class K.",
                                            group=EXPLAIN, at_least=0, metavar="K")
    budget: float = _opt(0.1, "Share of the pixels kept in the figure's 'kept' and 'filled' columns.",
                         group=EXPLAIN, above=0, at_most=1)
    infiller: str = _opt("local-mean", "What replaces dropped pixels (FIDO, BBMP and the figure's filled image).",
                         group=EXPLAIN, choices=INFILLERS)
    # FIDO and BBMP (a typed --learning_rate is theirs: default 0.05)
    grid: Optional[int] = _opt(None, "Mask cells per side, upsampled bilinearly (default: image_size / 4).",
                               group=EXPLAIN, at_least=1)
    temperature: float = _opt(0.1, "FIDO: temperature of the concrete (relaxed Bernoulli) samples.", group=EXPLAIN,
                              above=0)
    num_samples: int = _opt(1, "FIDO: concrete samples per iteration.", group=EXPLAIN, at_least=1)
    reg_coef: Optional[float] = _opt(None, "Weight lambda of the mask-size penalty, per pixel (default: FIDO's "
                                     "1e-3, BBMP's 5e-3).", group=EXPLAIN, at_least=0)
    reg_ramp: int = _opt(30, "Iterations over which lambda ramps up linearly from 0.", group=EXPLAIN, at_least=0)
    epochs: int = _opt(300, "FIDO, BBMP: Adam iterations (the learning rate decays linearly to 0).",
                       group=EXPLAIN, at_least=1)
    # Gradients and occlusion
    steps: int = _opt(50, "Integrated gradients: steps of the path integral; FIDO, BBMP with --start: the "
                      "refinement's steps K.", group=EXPLAIN, at_least=1)
    # Refinement from a start (FIDO, BBMP; semi-amortised: utils/explainers/masks.py)
    start: Optional[str] = _opt(None, "FIDO, BBMP: start from each image's logits of the HnS hider ('hns': the run "
                                "and checkpoint the HnS flags name, as for faithfulness.py) or of the one-pass "
                                "explainer ('amortised': train_explainer.py's run) and refine them for --steps "
                                "iterations, one logit per pixel.", group=EXPLAIN, choices=STARTS)
    refine_objective: str = _opt("own", "With --start: the method's own objective (own), or the budget mode's exact "
                                 "top-k objective at each image's HnS budget (topk; bbmp-ssr only).", group=EXPLAIN,
                                 choices=("own", "topk"))
    baseline_value: float = _opt(0.0, "Integrated gradients: the baseline image's value.", group=EXPLAIN)
    noise_samples: int = _opt(50, "SmoothGrad: noisy copies per image.", group=EXPLAIN, at_least=1)
    noise_std: float = _opt(0.15, "SmoothGrad: noise standard deviation, as a share of the input range.",
                            group=EXPLAIN, at_least=0)
    patch: Optional[int] = _opt(None, "Occlusion: side of the square patch (default: image_size / 7).",
                                group=EXPLAIN, at_least=1)
    stride: Optional[int] = _opt(None, "Occlusion: stride of the patch (default: patch / 2).", group=EXPLAIN,
                                 at_least=1)
    # CEM (cem-pp, cem-pn): the MNIST settings of the CEM paper (a typed --learning_rate: default 1e-2)
    kappa: float = _opt(0.0, "CEM: confidence margin on the seeker's logits.", group=EXPLAIN, at_least=0)
    beta: float = _opt(0.1, "CEM: L1 weight, the shrinkage threshold.", group=EXPLAIN, at_least=0)
    gamma: float = _opt(100.0, "CEM: weight of the autoencoder term.", group=EXPLAIN, at_least=0)
    c_init: float = _opt(1.0, "CEM: initial weight c of the attack term.", group=EXPLAIN, above=0)
    c_steps: int = _opt(10, "CEM: steps of the search on c.", group=EXPLAIN, at_least=1)
    max_iterations: int = _opt(1000, "CEM: FISTA iterations per c step.", group=EXPLAIN, at_least=1)
    cem_patience: Optional[int] = _opt(None, "CEM: stop an image's c step once its best valid solution has not "
                                       "improved for N iterations (default: run every iteration, as alibi).",
                                       group=EXPLAIN, at_least=1)
    c_tolerance: Optional[float] = _opt(None, "CEM: stop an image's search on c once a solution was found and "
                                        "upper - lower <= TOL * upper (default: run every c step, as alibi).",
                                        group=EXPLAIN, above=0, below=1)
    no_ae: bool = _opt(False, "CEM: no autoencoder term (gamma 0); no hider weights needed.", group=EXPLAIN)
    save_every: Optional[int] = _opt(None, "CEM: keep the iterates every N iterations of each c step in "
                                     "savepoints.npz.", group=EXPLAIN, at_least=1)
    # Faithfulness benchmark (faithfulness.py)
    methods: str = _opt("all", "Comma-separated methods to score: any of explain.py's, hns (the binary mask), "
                        "hns-ranked (by the hider's probability), amortised (train_explainer.py's one-pass "
                        "explainer), random, random-foreground, brightest; or all (every one but amortised).",
                        group=FAITH)
    budgets: str = _opt("0.01,0.02,0.05,0.1,0.2,0.5", "Comma-separated fixed budgets (shares of the pixels kept, "
                        "each in (0, 1]) besides each image's HnS budget.", group=FAITH)
    refine_steps: str = _opt("", "Comma-separated refinement steps K, each adding a row hns+refine<K>: BBMP from the "
                             "HnS hider's logits, K steps, cut at each image's HnS budget (empty: none).", group=FAITH)
    refine_starts: str = _opt("hns", "Comma-separated starts of the --refine_steps rows: hns (the HnS hider's logits, "
                              "rows hns+refine<K>) and/or amortised (the one-pass explainer's, rows "
                              "amortised+refine<K>).", group=FAITH)
    refine_objectives: str = _opt("topk", "Comma-separated objectives of the --refine_steps rows: topk (the budget "
                                  "mode's, rows hns+refine<K>) and/or ssr (BBMP-SSR's, rows hns+refine<K>-bbmp-ssr).",
                                  group=FAITH)
    faith_images: int = _opt(200, "Images scored (the first ones of --faith_split).", group=FAITH, at_least=1)
    faith_split: str = _opt("test", "Split scored: test (to report) or validation (to choose settings on).",
                            group=FAITH, choices=SPLITS)
    judge_infiller: str = _opt("zero", "In-filler of the judges' inputs: EVAL-X training and keep/remove "
                               "accuracy.", group=FAITH, choices=INFILLERS)
    checkpoint: Optional[str] = _opt(None, "HnS checkpoint to score, a file of the run (default: the recommended "
                                     "one of evaluation.json, else final.weights.h5).", group=FAITH,
                                     plain_name=True)
    evaluator: Optional[str] = _opt(None, "Run name of the EVAL-X evaluator, weights/<config>/evalx/<evaluator>/; "
                                    "trained with --max_epochs if missing (default: "
                                    "<identifier>-seed<evaluator_seed>).", group=FAITH, plain_name=True)
    evaluator_seed: Optional[int] = _opt(None, "Seed of the evaluator's training (default: --seed + 1, so that it is "
                                         "never the random-mask seeker a REAL-X hider was trained against).",
                                         group=FAITH, at_least=0, at_most=MAX_SEED)
    evaluator_weights: Optional[str] = _opt(None, "EVAL-X weights file to judge with instead of the evaluator run.",
                                            group=FAITH)
    evaluator_start: str = _opt("scratch", "Where the EVAL-X judge starts: 'scratch' (random weights, as in "
                                "Jethani et al. 2021) or 'seeker' (the pretrained seeker's weights, then trained on "
                                "random masks; its run is named <evaluator>-from-seeker).", group=FAITH,
                                choices=("scratch", "seeker"))
    # The one-pass explainer of a fixed classifier (train_explainer.py, utils/stages/amortised.py)
    classifier: Optional[str] = _opt(None, "The classifier to explain: a Keras model file (.keras) from images to "
                                     "logits (default: the pretrained seeker of --seeker_weights or of the preset "
                                     "and identifier).", group=AMORTISED)
    explainer_budget: float = _opt(0.03, "train_explainer.py: share of the pixels the one-pass explainer's top-k mask "
                                   "keeps in training.", group=AMORTISED, above=0, at_most=1)
    explainer_start: str = _opt("hns", "train_explainer.py: where the explainer's hider starts: hns (the hider of the "
                                "HnS run and checkpoint the HnS flags name, as for faithfulness.py), autoencoder (the "
                                "pretrained hider autoencoder, --hider_weights) or scratch (random weights).",
                                group=AMORTISED, choices=EXPLAINER_STARTS)
    evalx_min_rate: float = _opt(0.01, "EVAL-X random masks: keep rates are drawn from U(rate, 1).", group=EVALX,
                                 above=0, below=1)
    evalx_grid: Optional[int] = _opt(None, "EVAL-X random masks: cells of a grid with this many per side "
                                     "(default: pixels).", group=EVALX, at_least=1)
    leakage_folds: int = _opt(5, "Folds of the cross-validated mask-only leakage probe.", group=FAITH, at_least=2)
    probe_epochs: int = _opt(100, "Passes of each leakage probe over its training masks.", group=FAITH, at_least=1)
    # Which flags the user typed on the command line (not a flag itself).
    typed: frozenset = field(default=frozenset(), compare=False, metadata={"group": None})

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    @property
    def seeker_architecture(self) -> str:
        """The seeker's builder name (`networks.seeker.build_seeker`): --seeker_model, else --model's."""
        return self.seeker_model or self.model


FIELDS = {f.name: f for f in fields(Config) if f.metadata.get("group")}

# What each script's --help leaves out of its groups: flags that mean nothing in that script. The script
# still accepts them (demo.py passes every common flag to every stage), and the run records them as before.
_TRAINING_ONLY = ("evaluate", "allow_weak_seeker")    # collaborative_training.py's switches among the HnS flags
HIDDEN_FLAGS = {
    "pretrain_seeker.py": ("baseline", "foreground_threshold"),
    "pretrain_hider.py": ("baseline", "foreground_threshold"),
    "baseline.py": ("mixed_precision", "steps_per_execution", "max_epochs", "learning_rate", "augment_shift",
                    "shift_fill", "hider_decoder", "hider_weights", "baseline", "foreground_threshold", "overwrite",
                    "resume"),
    "evaluation.py": ("mixed_precision", "max_epochs", "learning_rate", "augment_shift", "shift_fill", "overwrite",
                      "resume", *_TRAINING_ONLY),
    "explain.py": ("strategy", "mixed_precision", "max_epochs", "resume", "batch_size", "augment_shift", "shift_fill",
                   "baseline", "foreground_threshold", *_TRAINING_ONLY),
    "faithfulness.py": ("overwrite", "resume", *_TRAINING_ONLY),
    # the explainer's run is a fixed top-k budget against a frozen classifier (utils.stages.amortised.training_config);
    # the HnS flags that name the run it starts from stay
    "train_explainer.py": ("alpha", "alpha_step", "min_alpha", "patience", "min_delta", "monitor", "start_budget",
                           "final_budget", "budget_epochs", "baseline", "evaluate", "allow_weak_seeker"),
}
# The learning rates of the methods whose --learning_rate explain.py takes only when typed (the explainers' own).
METHOD_LEARNING_RATES = LEARNING_RATES
# What a flag does in one script when that differs from its help in the schema.
SCRIPT_HELP = {
    ("faithfulness.py", "max_epochs"): "Epochs of the EVAL-X judge's training, when its run (--evaluator) is missing; "
                                       "it may stay at chance for tens of epochs before it takes off.",
    ("faithfulness.py", "learning_rate"): "Adam learning rate of the EVAL-X judge's training; typed, also FIDO's, "
                                          "BBMP's and CEM's (otherwise each method's own: FIDO/BBMP 0.05, CEM 0.01).",
    ("faithfulness.py", "augment_shift"): "Augmentation of the EVAL-X judge's training images: a random whole number "
                                          "of pixels in [-N, N] along each axis (0: off).",
    ("faithfulness.py", "mixed_precision"): "The EVAL-X judge trains in bfloat16 with float32 variables, logits and "
                                            "losses.",
    ("faithfulness.py", "strategy"): "Distribution of the EVAL-X judge's training: default (one device), mirrored, "
                                     "multiworker (TF_CONFIG; only the chief writes).",
    ("evaluation.py", "strategy"): "Under mirrored or multiworker (TF_CONFIG) the devices and the cluster are set up "
                                   "as for training and only the chief writes; the evaluation is not distributed.",
    ("baseline.py", "strategy"): "Under mirrored or multiworker (TF_CONFIG) the devices and the cluster are set up as "
                                 "for training and only the chief writes; the measurement is not distributed.",
    ("evaluation.py", "seeker_weights"): "The pretrained seeker, which classifies each checkpoint's masked images "
                                         "and is compared in PP/PN (default: the preset's and identifier's, if it "
                                         "exists).",
    ("evaluation.py", "hider_weights"): "The hider autoencoder of CEM's term in the PP/PN comparison (default: the "
                                        "preset's and identifier's, if it exists).",
    ("faithfulness.py", "seeker_weights"): "The pretrained seeker that the post-hoc methods explain and that judges "
                                           "(default: the preset's and identifier's).",
    ("faithfulness.py", "hider_weights"): "The hider autoencoder of the autoencoder in-filler and of CEM's term "
                                          "(default: the preset's and identifier's).",
    ("explain.py", "learning_rate"): "Learning rate of FIDO and BBMP (Adam) and of CEM (its initial one), only when "
                                     "typed: otherwise each method's own, FIDO/BBMP 0.05, CEM 0.01 (the preset's is "
                                     "the training's Adam rate, not used here).",
}
# Where a script reads the HnS flags of a trained run (to find and rebuild it), not to train one.
HNS_RUN_NOTE = {
    "evaluation.py": "Here: a setting of the HnS run to evaluate, as collaborative_training.py was given it.",
    "explain.py": "Here: only with --start hns, a setting of the HnS run to start from.",
    "faithfulness.py": "Here: a setting of the HnS run to score, as collaborative_training.py was given it.",
}


def type_of(f) -> type:
    t = f.type if isinstance(f.type, str) else f.type.__name__
    t = t.replace("Optional[", "").rstrip("]")
    return {"str": str, "int": int, "float": float, "bool": bool}[t]


def fill_dataset_defaults(cfg: Config) -> Config:
    """Native image size, channels and classes of the built-in datasets where not given; the shift fill."""
    if cfg.shift_fill is None:
        cfg = dataclasses.replace(cfg, shift_fill="zero" if cfg.dataset in BLACK_BACKGROUND else "edge")
    if cfg.dataset in NATIVE_SHAPES:
        size, channels, classes = NATIVE_SHAPES[cfg.dataset]
        cfg = dataclasses.replace(
            cfg,
            image_size=cfg.image_size or size,
            channels=cfg.channels or channels,
            num_classes=cfg.num_classes or classes,
        )
    return cfg


def as_dict(cfg: Config, groups=(COMMON, HNS, EVALX)) -> dict:
    """The settings of `groups` worth recording with a run's results (no UI switches)."""
    return {name: getattr(cfg, name) for name, f in FIELDS.items()
            if f.metadata["group"] in groups and name not in UI_FLAGS}
