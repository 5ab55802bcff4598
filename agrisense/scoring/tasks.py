"""Frozen descriptions of scoring work: which tile, which plots, and where its evidence comes from.

A task description is small, picklable and carries no secret (no database URL, no signing key), so it can travel
to a Dask worker as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
from odc.geo.geobox import GeoBox
from shapely import to_wkb

from agrisense.geo.plots import Plot
from agrisense.imagery.cache import TileKey
from agrisense.imagery.plot_series import group_plots_by_tile
from agrisense.region import DEFAULT_MODEL


@dataclass(frozen=True)
class ScoringInputs:
    """Where a tile's evidence comes from: the STAC source, the imagery window, the model bundles, the caches and
    the torch device."""

    catalog: str
    start: date
    end: date
    models_dir: Path
    cache_dir: Path  # root of the on-disk caches: composites here, model probabilities in ``probabilities/``
    device: str = "auto"
    model: str = DEFAULT_MODEL  # the land-cover bundle (a folder of ``models_dir``): the region's
    crop_model: str | None = None  # the plot crop model (a folder of ``models_dir``) pooled with it; None: U-Net only

    @property
    def probabilities_dir(self) -> Path:
        return self.cache_dir / "probabilities"


@dataclass(frozen=True)
class TileJob:
    """One imagery-cache tile and the plots (UTM geometries as WKB) scored in it."""

    tile: TileKey
    resolution: float
    plot_ids: tuple[str, ...]
    plot_wkb: tuple[bytes, ...]

    @property
    def tile_id(self) -> str:
        return self.tile.name

    @property
    def crs(self) -> str:
        return f"EPSG:{self.tile.epsg}"

    def geobox(self) -> GeoBox:
        return self.tile.geobox(self.resolution)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        left, bottom, right, top = self.geobox().boundingbox
        return (float(left), float(bottom), float(right), float(top))


def plan_tiles(plots: Sequence[Plot], *, resolution: float = 10.0) -> list[TileJob]:
    """Group plots into the fixed imagery-cache tiles (2.56 km, UTM-aligned, padded) they fall in.

    The grid does not depend on which plots are present, so a later plot in an already-seen area reuses the
    cached composites of its tile. Deterministic order (the imagery layer's own grouping).
    """
    if not plots:
        return []
    frame = gpd.GeoDataFrame(
        {"plot_id": [p.plot_id for p in plots]}, geometry=[p.geometry for p in plots], crs="EPSG:4326"
    )
    return [
        TileJob(
            tile=group.tile,
            resolution=resolution,
            plot_ids=tuple(str(pid) for pid in group.plots["plot_id"]),
            plot_wkb=tuple(to_wkb(g) for g in group.plots.geometry),
        )
        for group in group_plots_by_tile(frame)
    ]
