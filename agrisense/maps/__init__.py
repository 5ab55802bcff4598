"""Raster map outputs (Cloud-Optimized GeoTIFFs readable in QGIS): crop class, probability, cropland, NDVI."""

from agrisense.maps.cog import write_cog

__all__ = ["write_cog"]
