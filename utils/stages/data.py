"""The data of a configuration: its splits, as `utils.data.load_data` draws them from its flags."""
from __future__ import annotations

from utils.config.arguments import data_arguments
from utils.data import Data
from utils.data import load_data as load_splits


def load_data(cfg) -> Data:
    """Train / validation / test splits of `cfg`'s dataset (--dataset, --image_size, --channels, --seed,
    --train_images, --test_images, --validation_split, --num_classes, --data_dir); an error names the flag or
    the preset a bad value came from."""
    return load_splits(**data_arguments(cfg))
