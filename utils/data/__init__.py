"""Data: splits of the embedded and Keras datasets and of image folders, and tf.data pipelines."""
from utils.data.datasets import load_data
from utils.data.pipelines import epoch_pipeline, pipeline, shift_images, steps_per_epoch, to_float
from utils.data.splits import Data, Split, stratified_split, stratified_subset

__all__ = ["Data", "Split", "epoch_pipeline", "load_data", "pipeline", "shift_images", "steps_per_epoch",
           "stratified_split", "stratified_subset", "to_float"]
