"""Raster map outputs (Cloud-Optimized GeoTIFFs readable in QGIS): crop class, probability, cropland, NDVI."""

from agrisense.maps.cog import copy_as_cog, write_cog

__all__ = ["copy_as_cog", "write_cog"]
