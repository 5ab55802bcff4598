"""Presto (a pretrained pixel-time-series transformer) as the product's crop model: the encoder
(``encoder.py``), the conversion of monthly series into its inputs (``inputs.py``). See docs/croptype.md."""

from agrisense.ml.presto.encoder import PrestoBatch, PrestoEncoder, encoder_weights_path, load_encoder
from agrisense.ml.presto.inputs import MonthlySeries, PrestoInputs, presto_inputs, series_from_table

__all__ = [
    "MonthlySeries",
    "PrestoBatch",
    "PrestoEncoder",
    "PrestoInputs",
    "encoder_weights_path",
    "load_encoder",
    "presto_inputs",
    "series_from_table",
]
