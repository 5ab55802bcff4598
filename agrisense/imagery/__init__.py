"""Sentinel-2 L2A imagery: STAC search, Dask loading with the reflectance rule and SCL mask, per-period
composites with indices, and per-plot statistics with provenance.

Entry point: ``agrisense.imagery.timeseries.build_composites``. See docs/imagery.md.
"""
