"""Training of the land-cover U-Net: ``train_landcover(region_dir, out_dir)``, the field-boundary head
(``train_boundary``) and their building blocks."""

from agrisense.ml.training.fit import FitConfig, FitResult, fit_landcover
from agrisense.ml.training.pipeline import TrainReport, train_boundary, train_landcover

__all__ = ["FitConfig", "FitResult", "TrainReport", "fit_landcover", "train_boundary", "train_landcover"]
