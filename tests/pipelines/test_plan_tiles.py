"""Tile planning is pure and deterministic: every plot lands in exactly one tile that contains it."""

from __future__ import annotations

import geopandas as gpd
import shapely

from agrisense.geo import make_plot
from agrisense.imagery.cache import TILE_PAD_M
from agrisense.scoring import plan_tiles


def square(pid: str, lon: float, lat: float, d: float = 0.001) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {
        "type": "Feature",
        "properties": {"plot_id": pid},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_tiles_are_fixed_cache_tiles_independent_of_the_plot_set() -> None:
    plots = [make_plot(square(f"p{i}", 33.0 + 0.004 * i, 2.3)) for i in range(6)]
    alone = plan_tiles(plots[:1])[0]
    together = next(j for j in plan_tiles(plots) if "p0" in j.plot_ids)
    assert alone.tile_id == together.tile_id and alone.bbox == together.bbox
    assert alone.geobox().shape == (320, 320)


def test_plots_are_grouped_into_tiles_that_contain_them() -> None:
    plots = [make_plot(square(f"p{i}", 33.0 + 0.01 * i, 2.3 + 0.007 * (i % 3))) for i in range(12)]
    plots.append(make_plot(square("far", 36.5, -1.0)))  # another UTM zone (37S)
    jobs = plan_tiles(plots)
    assert sorted(pid for j in jobs for pid in j.plot_ids) == sorted(p.plot_id for p in plots)
    assert {j.crs for j in jobs} == {"EPSG:32636", "EPSG:32737"}
    for job in jobs:
        minx, miny, maxx, maxy = job.bbox
        assert all(v % 10 == 0 for v in job.bbox), "tile grid snapped to 10 m pixels"
        box = shapely.box(minx, miny, maxx, maxy)
        for pid, wkb in zip(job.plot_ids, job.plot_wkb, strict=True):
            geom = shapely.from_wkb(wkb)
            assert box.contains(geom), pid
            # the U-Net sees context around every plot: at least the tile padding on some side
            assert box.buffer(-TILE_PAD_M / 2).intersects(geom), pid
    assert plan_tiles(plots) == jobs  # deterministic


def test_plot_geometries_are_in_the_tile_crs() -> None:
    plot = make_plot(square("a", 33.0, 2.3))
    (job,) = plan_tiles([plot])
    expected = gpd.GeoSeries([plot.geometry], crs="EPSG:4326").to_crs(32636).iloc[0]
    assert shapely.from_wkb(job.plot_wkb[0]).equals_exact(expected, 1e-6)
    assert job.geobox().crs.epsg == 32636
