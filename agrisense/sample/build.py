"""Build the synthetic sample county region folder (see docs/architecture.md, "Region folder")."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from agrisense.agronomy.calendar import CropReference
from agrisense.agronomy.climatology import ClimatologyWeather
from agrisense.errors import InvalidInput
from agrisense.maps import write_cog
from agrisense.maps.palette import palette
from agrisense.market import Market, market_named
from agrisense.resources import resource_path
from agrisense.sample.crop_curves import crop_spectra, sown_before
from agrisense.sample.farmers import farmers_for_area, make_plots, plot_truth
from agrisense.sample.grid import RegionGrid, make_grid
from agrisense.sample.inputs import NONCROP_CLASSES, Spectra, WeatherParams, load_inputs
from agrisense.sample.landscape import Landscape, make_landscape
from agrisense.sample.profiles import EAST_AFRICA, RegionProfile
from agrisense.sample.rasters import LANDCOVER_NODATA, landcover, object_map
from agrisense.sample.readme import region_readme
from agrisense.sample.scenes import make_context, plan_scenes, render_scene
from agrisense.sample.signatures import build_signatures
from agrisense.sample.stac_writer import COLLECTION_ID, item_id, save_catalog, write_scene
from agrisense.sample.weather_gen import generate_weather

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.0.0"  # the East-African output is unchanged by the profiles (same seed, same bytes)
REGION_NAME = EAST_AFRICA.name
_GENERATED = ("region.json", "plots.geojson", "README.md", "stac", "truth", "weather")


@dataclass(frozen=True)
class RegionSummary:
    """What ``build_region`` wrote."""

    out_dir: Path
    seed: int
    size_km: float
    n_fields: int
    n_farmers: int
    n_plots: int
    n_scenes: int
    n_cloudy_scenes: int  # scenes with eo:cloud_cover > 50 %
    crop_field_shares: dict[str, float]
    landcover_shares: dict[str, float]  # share of region pixels per class (non_crop + crops)
    catalog: Path
    plots: Path
    fields: Path
    landcover: Path
    plots_truth: Path
    weather: Path
    region_json: Path
    seconds: float


def _calendar(crops: dict[str, CropReference], season: int) -> dict[str, tuple[date, date]]:
    """Each crop's sowing window for the harvest of ``season`` (the autumn before for a winter crop)."""
    out = {}
    for crop, ref in crops.items():
        year = season - 1 if sown_before(ref, season) else season
        sm, sd = (int(v) for v in ref.sow_start.split("-"))
        em, ed = (int(v) for v in ref.sow_end.split("-"))
        out[crop] = (date(year, sm, sd), date(year, em, ed))
    return out


def sowing_windows(profile: RegionProfile, season: int) -> dict[str, tuple[date, date]]:
    """The profile's crops' sowing windows (from its market) for the harvest of ``season``."""
    return _calendar(_crops(profile)[1], season)


def _crops(profile: RegionProfile) -> tuple[Market, dict[str, CropReference]]:
    """The profile's market and its crops (area yields and calendars), in the profile's order."""
    market = market_named(resource_path("reference"), profile.market)
    table = market.crop_table(profile.market_area)
    missing = [c for c in profile.crops if c not in table]
    if missing:
        raise InvalidInput(f"profile {profile.key}: crops {missing} are not crops of market {profile.market}")
    return market, {c: table[c] for c in profile.crops}


def _weather(
    rng: np.random.Generator, inputs_weather: WeatherParams, market: Market, profile: RegionProfile, season: int
) -> pd.DataFrame:
    """Daily weather 1991-01-01 .. ``season``-11-30: the area's climatology where the market has one, else the
    station-calibrated generator."""
    normals = market.normals(profile.market_area) if profile.market_area else None
    end = date(season, 11, 30)
    if normals is None:
        return generate_weather(rng, inputs_weather, end)
    frame = ClimatologyWeather(normals, last_year=season).daily(date(1991, 1, 1), end)
    return frame.assign(date=pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"))


def _check_target(out_dir: Path) -> None:
    """Refuse a file, or a non-empty folder without region.json: the build replaces region folders only."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"{out_dir} is a file; choose a new or empty folder for the region.")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "region.json").exists():
        raise InvalidInput(
            f"{out_dir} is not empty and holds no region.json; choose an empty or new folder "
            "(the build replaces region folders only)."
        )


@contextmanager
def _staged(out_dir: Path) -> Iterator[Path]:
    """A new hidden folder beside ``out_dir`` to build in, moved into place only once the build completes: a failed
    build (an error, Ctrl-C) leaves no partial region, and a region already in ``out_dir`` stays as it was."""
    _check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(out_dir)
    work = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for sub in ("truth", "weather"):
            (work / sub).mkdir(parents=True)
        yield work
        _move_into_place(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _remove_abandoned_builds(out_dir: Path) -> None:
    """Delete the staging folders of earlier builds of ``out_dir`` whose process is gone (killed with SIGKILL or
    by a power cut, so its own clean-up never ran); a build still running on this machine keeps its folder."""
    for old in out_dir.parent.glob(f".{out_dir.name}.building-*"):
        pid_text = old.name.rsplit(".building-", 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue
        log.info("removing %s, left by an interrupted build", old)
        shutil.rmtree(old, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _move_into_place(work: Path, out_dir: Path) -> None:
    """Put the complete region of ``work`` into ``out_dir``: a new folder is a rename; in an existing region the
    generated entries are replaced, region.json last, and the folder's other files stay."""
    if not out_dir.exists():
        work.rename(out_dir)
        return
    replaced = Path(tempfile.mkdtemp(prefix=".replaced-", dir=out_dir))
    try:
        for name in _GENERATED:
            if os.path.lexists(out_dir / name):
                (out_dir / name).rename(replaced / name)
        for name in reversed(_GENERATED):  # region.json last
            shutil.move(work / name, out_dir / name)
    finally:
        shutil.rmtree(replaced, ignore_errors=True)


def _validate(
    size_km: float, n_farmers: int | None, interval: tuple[int, int], season: int, max_scenes: int | None
) -> None:
    if not (isinstance(interval, tuple | list) and len(interval) == 2 and 1 <= interval[0] <= interval[1] <= 60):
        raise InvalidInput(f"scene_interval_days={interval!r} must be (min, max) days with 1 <= min <= max <= 60.")
    if not 1995 <= season <= 2100:
        raise InvalidInput(f"season={season} is out of range; use a year such as 2026.")
    if n_farmers is not None and n_farmers < 1:
        raise InvalidInput(f"n_farmers={n_farmers} must be at least 1 (or None for ~300 per 100 km2).")
    if max_scenes is not None and max_scenes < 1:
        raise InvalidInput(f"max_scenes={max_scenes} must be at least 1 (or None for the whole season).")


def _write_truth(out_dir: Path, land: Landscape, grid: RegionGrid, lc: np.ndarray, crops: tuple[str, ...]) -> list[str]:
    f = land.fields
    field_ids = [f"FLD{i + 1:05d}" for i in range(len(f))]
    gdf = gpd.GeoDataFrame(
        {
            "field_id": field_ids,
            "crop": f.crop.astype(str),
            "sow_date": pd.to_datetime(list(f.sow_date)),
            "status": f.status.astype(str),
            "area_ha": np.round(shapely.area(f.geometry) / 1e4, 4),
            "large_farm": f.large,
        },
        geometry=list(shapely.set_precision(f.geometry, 0.01)),
        crs=f"EPSG:{grid.epsg}",
    )
    gdf.to_parquet(out_dir / "truth" / "fields.parquet", index=False)
    classes = ["non_crop", *crops]
    colormap, names = palette(classes, nodata_name="nodata")
    write_cog(
        out_dir / "truth" / "landcover.tif",
        lc,
        transform=grid.transform,
        crs=f"EPSG:{grid.epsg}",
        nodata=LANDCOVER_NODATA,
        band_names=["landcover"],
        colormap=colormap,
        class_names=names,
        tags={"classes": json.dumps(classes)},
    )
    return field_ids


def build_region(
    out_dir: Path,
    *,
    seed: int = 20261122,
    size_km: float = 10.0,
    n_farmers: int | None = None,
    scene_interval_days: tuple[int, int] = (5, 10),
    season: int = 2026,
    max_scenes: int | None = None,
    inputs_dir: Path | None = None,
    profile: RegionProfile = EAST_AFRICA,
) -> RegionSummary:
    """Generate the whole synthetic region into ``out_dir`` (deterministic for a given seed).

    ``max_scenes`` caps the number of acquisitions (tests use a few); ``inputs_dir`` holds the
    calibration tables (default: the bundled ones); ``profile`` is the kind of region (place, market, crops).
    The region is built beside ``out_dir`` and moved there when complete; a region already there is replaced.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir).resolve()  # absolute, so no relative path leaks into the STAC asset hrefs
    _validate(size_km, n_farmers, scene_interval_days, season, max_scenes)
    grid = make_grid(size_km, profile.center_lonlat, profile.epsg)
    inputs = load_inputs(inputs_dir)
    market, crops = _crops(profile)
    crop_names = profile.crops

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, k])

    with _staged(out_dir) as work:
        calendar = _calendar(crops, season)
        land = make_landscape(rng(1), grid, inputs.shapes, calendar, profile)
        omap = object_map(land, grid)
        lc = landcover(land, grid, crop_names)

        # Sowing shift relative to each crop's reference date (the middle of its sowing window).
        ref = {c: s + (e - s) / 2 for c, (s, e) in calendar.items()}
        shift = np.zeros(len(omap.cls))
        failed = np.zeros(len(omap.cls), bool)
        isf = omap.field_index >= 0
        fi = omap.field_index[isf]
        shift[isf] = [(land.fields.sow_date[i] - ref[str(land.fields.crop[i])]).days for i in fi]
        failed[isf] = land.fields.status[fi] == "failed"
        spectra: Spectra = (
            crop_spectra(inputs.spectra, crops, season, keep=NONCROP_CLASSES)
            if profile.curve_spectra
            else inputs.spectra
        )
        model = build_signatures(
            rng(2), spectra, omap.cls, omap.field_index, shift, failed, season, crop_names, profile.bare_months
        )
        ctx = make_context(rng(3), omap.raster, model)

        weather = _weather(rng(4), inputs.weather, market, profile, season)
        weather.to_csv(work / "weather" / "daily.csv", index=False)
        rain = dict(zip(pd.to_datetime(weather["date"]).dt.date, weather["precip_mm"], strict=True))

        specs = plan_scenes(
            rng(5), season, (int(scene_interval_days[0]), int(scene_interval_days[1])), rain, max_scenes
        )
        stac_dir = work / "stac"
        items = []
        for spec in specs:
            arrays = render_scene(spec, ctx, model)
            iid = item_id(spec, grid)
            items.append(write_scene(stac_dir / COLLECTION_ID / iid, spec, arrays, grid, seed))
        catalog = save_catalog(stac_dir, items, grid, seed)

        field_ids = _write_truth(work, land, grid, lc, crop_names)
        plots = make_plots(
            rng(6), land, n_farmers or farmers_for_area(grid.area_km2), crop_names, profile.large_farm_plots
        )
        pgdf = gpd.GeoDataFrame(
            {
                "plot_id": plots.plot_id.astype(str),
                "farmer_id": plots.farmer_id.astype(str),
                "declared_crop": plots.declared_crop.astype(str),
            },
            geometry=list(plots.geometry),
            crs=f"EPSG:{grid.epsg}",
        ).to_crs(4326)
        pgdf["geometry"] = shapely.set_precision(pgdf.geometry.to_numpy(), 1e-7)
        (work / "plots.geojson").write_text(pgdf.to_json(drop_id=True, to_wgs84=False) + "\n")
        truth = plot_truth(plots, land)
        fidx = truth.pop("field_index")
        pd.DataFrame(
            {
                "plot_id": truth["plot_id"].astype(str),
                "field_id": [field_ids[i] if i >= 0 else None for i in fidx],
                "true_crop": truth["true_crop"],
                "overlap_with_field": truth["overlap_with_field"],
                "kind": truth["kind"].astype(str),
            }
        ).to_parquet(work / "truth" / "plots_truth.parquet", index=False)

        lon_lat = grid.bbox_lonlat()
        region = {
            "name": profile.name,
            "seed": seed,
            "generator_version": GENERATOR_VERSION,
            "crs": f"EPSG:{grid.epsg}",
            "bbox_utm": list(grid.bbox),
            "bbox_lonlat": [round(v, 7) for v in lon_lat],
            "resolution": grid.res,
            "season": season,
            "imagery_start": f"{season}-03-01",
            "imagery_end": f"{season}-11-30",
            "currency": market.spec.currency,
            "market": profile.market,
            **({"market_area": profile.market_area} if profile.market_area else {}),
            "model": profile.model,
            **({"crop_model": profile.crop_model} if profile.crop_model else {}),
            "crops": list(crop_names),
            "synthetic": True,
            "size_km": size_km,
            "shape": [grid.height, grid.width],
        }
        (work / "region.json").write_text(json.dumps(region, indent=2) + "\n")

        n_px = lc.size
        lc_shares = {"non_crop": round(float((lc == 0).mean()), 4)}
        lc_shares.update({c: round(float((lc == i + 1).sum() / n_px), 4) for i, c in enumerate(crop_names)})
        crop_shares = {
            c: round(float((land.fields.crop == c).mean()), 4) if len(land.fields) else 0.0 for c in crop_names
        }
        cloudy = sum(1 for it in items if it.properties["eo:cloud_cover"] > 50)
        summary = RegionSummary(
            out_dir=out_dir,
            seed=seed,
            size_km=size_km,
            n_fields=len(land.fields),
            n_farmers=len(set(plots.farmer_id)),
            n_plots=len(plots.plot_id),
            n_scenes=len(items),
            n_cloudy_scenes=cloudy,
            crop_field_shares=crop_shares,
            landcover_shares=lc_shares,
            catalog=out_dir / catalog.relative_to(work),
            plots=out_dir / "plots.geojson",
            fields=out_dir / "truth" / "fields.parquet",
            landcover=out_dir / "truth" / "landcover.tif",
            plots_truth=out_dir / "truth" / "plots_truth.parquet",
            weather=out_dir / "weather" / "daily.csv",
            region_json=out_dir / "region.json",
            seconds=round(time.perf_counter() - t0, 1),
        )
        kinds = pd.Series(plots.kind).value_counts().to_dict()
        (work / "README.md").write_text(region_readme(summary, region, kinds, profile))
    return summary
