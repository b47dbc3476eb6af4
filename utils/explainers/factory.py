"""Explainers by method name, with explicit settings (the orchestration layer, `utils.stages`, turns a
configuration into them)."""
from __future__ import annotations

from utils.explainers.cem import ContrastiveExplainer
from utils.explainers.edges import EdgeExplainer
from utils.explainers.gradients import GradientExplainer, OcclusionExplainer
from utils.explainers.infillers import build_infiller
from utils.explainers.masks import MaskExplainer


def build_explainer(method: str, model, train_images=None, autoencoder=None, progress: bool = False,
                    infiller: str = "zero", image_size: int | None = None, **settings):
    """The explainer of `method` on `model` (logits).

    `settings` are the keyword arguments of the method's class (`ContrastiveExplainer` for cem-pp and
    cem-pn, `MaskExplainer` for fido-* and bbmp-*, `OcclusionExplainer`, `GradientExplainer` for the
    rest; `EdgeExplainer`, sobel, takes none); ``objective="topk"`` turns bbmp-ssr into the refinement of
    a start on the budget mode's top-k objective. FIDO and BBMP fill dropped pixels
    with the in-filler named `infiller`, scaled to `image_size` (default: the model's input height);
    `train_images` (float, in [0, 1]) give the data set's mean for the mean and local-mean in-fillers;
    `autoencoder` is CEM's autoencoder term (used when its gamma > 0) and the autoencoder in-filler.
    """
    family = method.split("-")[0]
    if family == "cem":
        return ContrastiveExplainer(model, mode=method[-2:].upper(), progress=progress,
                                    autoencoder=autoencoder if settings["gamma"] > 0 else None, **settings)
    if family in ("fido", "bbmp"):
        settings = {"objective": method.split("-")[1], **settings}
        return MaskExplainer(model, stochastic=family == "fido",
                             infiller=build_infiller(infiller, image_size or model.input_shape[1], train_images,
                                                     autoencoder),
                             progress=progress, **settings)
    if method == "occlusion":
        return OcclusionExplainer(model, **settings)
    if method == "sobel":
        return EdgeExplainer(model, **settings)
    return GradientExplainer(model, kind=method, **settings)
