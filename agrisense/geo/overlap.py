"""Overlap between plots claimed by different farmers (a double-pledge signal)."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
from shapely import STRtree

from agrisense.geo.plots import Plot


def overlap_fractions(plots: Sequence[Plot]) -> dict[str, float]:
    """Share of each plot's area that is also claimed by another farmer's plot (0..1), measured in UTM."""
    if not plots:
        return {}
    frame = gpd.GeoDataFrame(
        {"plot_id": [p.plot_id for p in plots], "farmer_id": [p.farmer_id for p in plots]},
        geometry=[p.geometry for p in plots],
        crs="EPSG:4326",
    )
    metric = frame.to_crs(frame.estimate_utm_crs())
    geoms = list(metric.geometry)
    tree = STRtree(geoms)
    result: dict[str, float] = {}
    for i, geom in enumerate(geoms):
        others = []
        for j in tree.query(geom, predicate="intersects"):
            j = int(j)
            same_farmer = plots[j].farmer_id is not None and plots[j].farmer_id == plots[i].farmer_id
            if j != i and not same_farmer:
                others.append(geoms[j])
        if not others or geom.area == 0:
            result[plots[i].plot_id] = 0.0
            continue
        shared = geom.intersection(gpd.GeoSeries(others).union_all()).area
        result[plots[i].plot_id] = float(min(1.0, shared / geom.area))
    return result
