"""The names the models answer to, free of TensorFlow so that the configuration can offer them as choices."""

ESTIMATORS = ("st1", "st2", "sa", "reinforce")          # networks.binary.StochasticBinaryNeuron
DECODERS = ("transpose", "resize", "unet")              # networks.hider
SEEKER_TRAININGS = ("joint", "random-masks", "frozen")  # networks.hns.HideAndSeek
MASK_MODES = ("threshold", "topk")                      # networks.binary, networks.budget.TopKNeuron
HIDER_FEATURES = ("none", "frozen", "live")              # networks.feature_hider
RANDOM_MASK_SHAPES = ("evalx", "budget")                # networks.hns.HideAndSeek: the seeker's random masks
MASK_INFILLS = ("zero", "blur", "local-mean", "noise", "mean")  # networks.infill: what a HideAndSeek mask puts in
SEEKER_MODELS = ("small", "large", "resnet", "pooling")  # networks.seeker.build_seeker
