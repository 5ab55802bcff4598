"""Imagery benchmark on a region folder (default: the sample county).

1. Overhead (goal <= 1.2x): the pipeline's load + reflectance + SCL mask + monthly composites (n_obs, gap fill,
   indices) vs the yardstick, a bare ``odc.stac.load`` of the same 11 assets the pipeline reads (10 reflectance
   bands + SCL), same items, grid, chunks and resampling, no compositing (``load_scl``). Also reported: a bare
   load of the 10 bands only, and a bare load + plain float32 per-month NaN-median. Wall and process CPU time,
   best of ``--repeat`` with the sides interleaved, and the load average after every round (the machine is
   shared: CPU time is the steadier number).
2. Composite cache: cold and warm per-plot time series for one plot, then a *new* plot in the cached tile
   (goal: well under 1 s warm), and with ``--full`` cold and warm for every plot of the region.

    python benchmarks/imagery_load.py --region data/sample_county [--full] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import dask
import geopandas as gpd
import numpy as np
import odc.stac
import rasterio

from agrisense.imagery.cache import tile_for_bounds
from agrisense.imagery.catalog import open_source
from agrisense.imagery.composite import composites
from agrisense.imagery.load import ALL_BANDS, DEFAULT_CHUNKS, GDAL_READ_OPTIONS, SCL_BAND, load_scenes
from agrisense.imagery.plot_series import plot_timeseries

BARE_RESAMPLING = {"*": "bilinear"}
"""The pipeline's resampling for reflectance bands (20 m bands onto the 10 m grid)."""


def _timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--region", type=Path, default=Path("data/sample_county"))
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (best is reported)")
    ap.add_argument("--full", action="store_true", help="also cold/warm for every plot of the region (slow)")
    args = ap.parse_args(argv)
    meta = json.loads((args.region / "region.json").read_text())
    start, end = (date.fromisoformat(meta[k][:10]) for k in ("imagery_start", "imagery_end"))
    catalog = str(args.region / "stac" / "catalog.json")
    plots = gpd.read_file(args.region / "plots.geojson")
    epsg = int(meta["crs"].split(":")[1])
    utm = plots.to_crs(epsg)
    first = utm.geometry.iloc[0]
    tile = tile_for_bounds(first.bounds, epsg)
    geobox = tile.geobox()
    source = open_source(catalog)
    bbox = geobox.geographic_extent.boundingbox
    items = source.search((bbox.left, bbox.bottom, bbox.right, bbox.top), start, end)
    results: dict[str, object] = {
        "region": str(args.region),
        "tile": tile.name,
        "grid_px": list(geobox.shape.yx),
        "items": len(items),
        "bands": len(ALL_BANDS),
    }
    print(f"tile {tile.name}: {geobox.shape.yx} px, {len(items)} items", file=sys.stderr)

    with dask.config.set(scheduler="threads"):

        def bare_load(with_scl: bool = False) -> object:
            with rasterio.Env(**GDAL_READ_OPTIONS):
                return odc.stac.load(
                    items,
                    bands=[*ALL_BANDS, *([SCL_BAND] if with_scl else [])],
                    geobox=geobox,
                    groupby="solar_day",
                    resampling={SCL_BAND: "nearest", **BARE_RESAMPLING},
                    chunks=dict(DEFAULT_CHUNKS),
                )

        def bare() -> object:
            ds = bare_load()
            ds = ds.astype(np.float32).where(ds != 0)  # nodata -> NaN, float32 like the pipeline
            return ds.resample(time="1MS").median().compute()

        def pipeline() -> object:
            cube = load_scenes(items, geobox)
            return composites(cube, start=start, end=end).compute()

        # interleaved so that a change in background load hits both sides alike; best of `repeat` each, for
        # wall time and for CPU time of this process (all threads; less sensitive to other jobs on the machine)
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        # "load_scl": the bare load of every asset the pipeline reads (10 reflectance bands + the SCL it masks with)
        runs = {
            "bare": bare,
            "load_only": lambda: bare_load().compute(),  # type: ignore[attr-defined]
            "load_scl": lambda: bare_load(with_scl=True).compute(),  # type: ignore[attr-defined]
            "pipeline": pipeline,
        }
        round_loads: list[float] = []
        for _ in range(args.repeat):
            for name, fn in runs.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall[name] = min(wall.get(name, float("inf")), time.perf_counter() - t0)
                cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - c0)
            round_loads.append(round(os.getloadavg()[0], 2))
        results.update(
            goal_overhead_wall=round(wall["pipeline"] / wall["load_scl"], 2),
            goal_overhead_cpu=round(cpu["pipeline"] / cpu["load_scl"], 2),
            bare_s=round(wall["bare"], 2),
            bare_load_only_s=round(wall["load_only"], 2),
            pipeline_s=round(wall["pipeline"], 2),
            overhead=round(wall["pipeline"] / wall["bare"], 2),
            overhead_vs_load_only=round(wall["pipeline"] / wall["load_only"], 2),
            bare_load_with_scl_s=round(wall["load_scl"], 2),
            overhead_vs_load_with_scl=round(wall["pipeline"] / wall["load_scl"], 2),
            cpu_overhead_vs_load_with_scl=round(cpu["pipeline"] / cpu["load_scl"], 2),
            cpu_s={k: round(v, 2) for k, v in cpu.items()},
            cpu_overhead=round(cpu["pipeline"] / cpu["bare"], 2),
            cpu_overhead_vs_load_only=round(cpu["pipeline"] / cpu["load_only"], 2),
            load_average=[round(x, 2) for x in os.getloadavg()],
            load_average_per_round=round_loads,
        )
        print(
            f"pipeline {wall['pipeline']:.2f}s wall / {cpu['pipeline']:.2f}s CPU vs bare load of the 11 assets "
            f"{wall['load_scl']:.2f}s / {cpu['load_scl']:.2f}s: overhead {results['goal_overhead_wall']}x wall, "
            f"{results['goal_overhead_cpu']}x CPU (goal <= 1.2x; load average per round {round_loads}). "
            f"Also: {results['overhead_vs_load_only']}x a load of the 10 bands only, {results['overhead']}x a bare "
            "load + monthly median (wall)",
            file=sys.stderr,
        )

        cache = Path(tempfile.mkdtemp(prefix="agrisense-imagery-cache-"))
        try:
            in_tile = [i for i, g in enumerate(utm.geometry) if tile_for_bounds(g.bounds, epsg) == tile]
            one, other = plots.iloc[[in_tile[0]]], plots.iloc[[in_tile[-1]]]
            t0 = time.perf_counter()
            plot_timeseries(source, one, start, end, cache_dir=cache)
            results["one_plot_cold_s"] = round(time.perf_counter() - t0, 2)
            t_warm, table = _timed(lambda: plot_timeseries(source, other, start, end, cache_dir=cache), 3)
            results["new_plot_warm_s"] = round(t_warm, 3)
            results["plots_in_tile"] = len(in_tile)
            print(f"one plot cold {results['one_plot_cold_s']}s, new plot warm {t_warm:.3f}s", file=sys.stderr)
            if args.full:
                t0 = time.perf_counter()
                table = plot_timeseries(source, plots, start, end, cache_dir=cache)
                results["region_cold_s"] = round(time.perf_counter() - t0, 1)
                t0 = time.perf_counter()
                table = plot_timeseries(source, plots, start, end, cache_dir=cache)
                results["region_warm_s"] = round(time.perf_counter() - t0, 2)
                results["region_plots"] = len(plots)
                results["region_tiles"] = int(table["tile_id"].nunique())
                results["status_counts"] = table["status"].value_counts().to_dict()
            results["cache_mb"] = round(sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 1e6, 1)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
