"""The names the explainers answer to, and their defaults that the configuration checks, free of TensorFlow so
that `utils.config` can offer them as choices before TensorFlow starts."""

# Explanation methods (`utils.explainers.factory.build_explainer`).
METHODS = ("cem-pn", "cem-pp", "fido-ssr", "fido-sdr", "bbmp-ssr", "bbmp-sdr", "gradient", "gradient-input",
           "integrated-gradients", "smoothgrad", "occlusion", "sobel")
# What replaces the pixels a mask drops (`utils.explainers.infillers.build_infiller`).
INFILLERS = ("zero", "mean", "local-mean", "blur", "noise", "autoencoder")
# Rankings that know nothing of the model (`utils.explainers.references.ReferenceExplainer`).
REFERENCES = ("random", "random-foreground", "brightest")
# Each method family's own learning rate, used unless --learning_rate was typed (the preset's is Adam's).
LEARNING_RATES = {"cem": 1e-2, "fido": 0.05, "bbmp": 0.05}


def default_occlusion_patch(image_size: int) -> int:
    """Occlusion's default patch side: image_size / 7 (4 pixels at 28)."""
    return max(1, image_size // 7)
