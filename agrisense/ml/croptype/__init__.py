"""Crop-type classification of point samples (12 monthly Sentinel-2 composites): TempCNN ensemble + random
forest, spatially grouped CV, temperature scaling. See docs/croptype.md."""

from agrisense.ml.croptype.model import CropTypeModel, load_model, save_model
from agrisense.ml.croptype.pipeline import train_croptype
from agrisense.ml.croptype.table import build_features, harmonise_labels, validate_table

__all__ = [
    "CropTypeModel",
    "build_features",
    "harmonise_labels",
    "load_model",
    "save_model",
    "train_croptype",
    "validate_table",
]
