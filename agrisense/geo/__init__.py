"""Plot geometry: validation, geodesic area (ha, 亩), UTM zone, overlaps between claims."""

from agrisense.geo.area import MU_PER_HA, Area, geodesic_area, ha_to_mu
from agrisense.geo.coverage import OUTSIDE_IMAGERY, ImageryArea
from agrisense.geo.overlap import overlap_fractions
from agrisense.geo.plots import Plot, PlotError, make_plot, parse_plots, read_plots, validate_geometry
from agrisense.geo.utm import utm_epsg

__all__ = [
    "MU_PER_HA",
    "OUTSIDE_IMAGERY",
    "Area",
    "ImageryArea",
    "Plot",
    "PlotError",
    "geodesic_area",
    "ha_to_mu",
    "make_plot",
    "overlap_fractions",
    "parse_plots",
    "read_plots",
    "utm_epsg",
    "validate_geometry",
]
