"""Write scenes as COGs and describe them with Earth Search v1 ``sentinel-2-l2a`` STAC items."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio

from agrisense.maps import write_cog
from agrisense.sample import bands as B
from agrisense.sample.grid import RegionGrid
from agrisense.sample.scenes import SceneArrays, SceneSpec

COLLECTION_ID = "sentinel-2-l2a"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.0.0/schema.json",  # Earth Search v1: proj:epsg, no proj:code
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
]
RELATIVE_ORBIT = 78
SCL_DESCRIPTION = "Scene classification map (SCL)"


def mgrs_tile(grid: RegionGrid) -> tuple[int, str, str]:
    """(utm zone, latitude band, 100 km square) of the S2 tile whose origin lies west/north of the grid."""
    zone = grid.epsg - 32600
    lat = (grid.bbox_lonlat()[1] + grid.bbox_lonlat()[3]) / 2
    band = "CDEFGHJKLMNPQRSTUVWX"[int((lat + 80) // 8)]
    col_sets = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
    col = col_sets[(zone - 1) % 3][int(grid.bbox[0] // 100000) - 1]
    rows = "ABCDEFGHJKLMNPQRSTUV"
    row = rows[(int(grid.bbox[1] // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
    return zone, band, col + row


def item_id(spec: SceneSpec, grid: RegionGrid) -> str:
    zone, band, square = mgrs_tile(grid)
    return f"S2{spec.platform[-1].upper()}_{zone}{band}{square}_{spec.day:%Y%m%d}_0_L2A"


def write_asset(path: Path, array: np.ndarray, grid: RegionGrid, res: int, resampling: str) -> None:
    """One single-band asset COG at ``res`` metres on the region grid, nodata 0, nothing time-dependent inside;
    256 px blocks whatever the size, like the Earth Search assets it stands in for."""
    transform = rasterio.Affine(res, 0.0, grid.x0, 0.0, -res, grid.y0)
    crs = f"EPSG:{grid.epsg}"
    write_cog(path, array, transform=transform, crs=crs, nodata=0, resampling=resampling, blocksize=256)


def _sun_angles(when: datetime, lon: float, lat: float) -> tuple[float, float]:
    """Approximate solar azimuth and elevation (degrees)."""
    doy = when.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
    hour = when.hour + when.minute / 60 + lon / 15 - 12
    ha = math.radians(15 * hour)
    la = math.radians(lat)
    el = math.asin(math.sin(la) * math.sin(decl) + math.cos(la) * math.cos(decl) * math.cos(ha))
    az = math.atan2(-math.sin(ha), math.tan(decl) * math.cos(la) - math.sin(la) * math.cos(ha))
    return (math.degrees(az) % 360, math.degrees(el))


def _scl_percentages(scl: np.ndarray) -> dict[str, float]:
    total = scl.size
    valid = max(int((scl != B.SCL_NODATA).sum()), 1)

    def pct(code: int) -> float:
        return round(100.0 * int((scl == code).sum()) / valid, 6)

    return {
        "s2:degraded_msi_data_percentage": 0.0,
        "s2:nodata_pixel_percentage": round(100.0 * int((scl == B.SCL_NODATA).sum()) / total, 6),
        "s2:saturated_defective_pixel_percentage": 0.0,
        "s2:dark_features_percentage": 0.0,
        "s2:cloud_shadow_percentage": pct(B.SCL_SHADOW),
        "s2:vegetation_percentage": pct(B.SCL_VEG),
        "s2:not_vegetated_percentage": pct(B.SCL_BARE),
        "s2:water_percentage": pct(B.SCL_WATER),
        "s2:unclassified_percentage": pct(B.SCL_UNCLASSIFIED),
        "s2:medium_proba_clouds_percentage": pct(B.SCL_CLOUD_MEDIUM),
        "s2:high_proba_clouds_percentage": pct(B.SCL_CLOUD_HIGH),
        "s2:thin_cirrus_percentage": pct(B.SCL_CIRRUS),
        "s2:snow_ice_percentage": 0.0,
    }


def write_scene(item_dir: Path, spec: SceneSpec, arrays: SceneArrays, grid: RegionGrid, seed: int) -> pystac.Item:
    """Write the scene's 11 COGs into ``item_dir`` and return its item (asset hrefs absolute)."""
    item_dir.mkdir(parents=True, exist_ok=True)
    iid = item_id(spec, grid)
    when = datetime.fromisoformat(f"{spec.day.isoformat()}T{spec.time_utc}+00:00")
    rng = np.random.default_rng([seed, spec.seed])
    created = when + timedelta(hours=float(rng.uniform(3, 30)))
    zone, band, square = mgrs_tile(grid)
    lon0, lat0, lon1, lat1 = grid.bbox_lonlat()
    sun_az, sun_el = _sun_angles(when, (lon0 + lon1) / 2, (lat0 + lat1) / 2)
    pct = _scl_percentages(arrays.scl)
    cloud = round(
        pct["s2:medium_proba_clouds_percentage"]
        + pct["s2:high_proba_clouds_percentage"]
        + pct["s2:thin_cirrus_percentage"],
        6,
    )
    gen = created - timedelta(hours=2)
    baseline_code = spec.processing_baseline.replace(".", "")
    tile = f"T{zone}{band}{square}"
    footprint = {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }
    props: dict[str, Any] = {
        "created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": spec.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud,
        "proj:epsg": grid.epsg,
        "proj:bbox": list(grid.bbox),
        "mgrs:utm_zone": zone,
        "mgrs:latitude_band": band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{zone}{band}{square}",
        "view:azimuth": round(float(rng.uniform(100, 110)), 6),
        "view:incidence_angle": round(float(rng.uniform(2, 11)), 6),
        "view:sun_azimuth": round(sun_az, 6),
        "view:sun_elevation": round(sun_el, 6),
        **pct,
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": spec.processing_baseline,
        "s2:product_uri": f"{iid[:3]}_MSIL2A_{when:%Y%m%dT%H%M%S}_N{baseline_code}_R{RELATIVE_ORBIT:03d}_"
        f"{tile}_{gen:%Y%m%dT%H%M%S}.SAFE",
        "s2:generation_time": gen.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "s2:datatake_id": f"GS2{iid[2]}_{when:%Y%m%dT%H%M%S}_{int(rng.integers(10000, 99999)):06d}_"
        f"N{baseline_code[:2]}.{baseline_code[2:]}",
        "s2:datatake_type": "INS-NOBS",
        "s2:reflectance_conversion_factor": round(
            1 + 0.0334 * math.cos(2 * math.pi * (when.timetuple().tm_yday - 3) / 365.25), 6
        ),
        "s2:sequence": "0",
        "earthsearch:payload_id": f"roda-sentinel2/workflow-sentinel2-to-stac/{rng.bytes(16).hex()}",
        "earthsearch:boa_offset_applied": spec.boa_offset_applied,
        "processing:software": {"sentinel2-to-stac": "0.1.1"},
        "updated": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "agrisense:synthetic": True,
    }
    item = pystac.Item(
        id=iid,
        geometry=footprint,
        bbox=[lon0, lat0, lon1, lat1],
        datetime=when,
        properties=props,
        stac_extensions=list(STAC_EXTENSIONS),
        collection=COLLECTION_ID,
    )
    for bnd in B.BANDS:
        res = bnd.resolution
        arr = arrays.dn[bnd.asset]
        path = item_dir / f"{bnd.asset}.tif"
        write_asset(path, arr, grid, res, "average")
        item.add_asset(
            bnd.asset,
            pystac.Asset(
                href=str(path),
                media_type=COG_TYPE,
                title=f"{bnd.title} - {res}m",
                roles=["data", "reflectance"],
                extra_fields={
                    "eo:bands": [
                        {
                            "name": bnd.asset,
                            "common_name": bnd.asset
                            if bnd.asset in ("blue", "green", "red", "nir", "nir08", "swir16", "swir22")
                            else "rededge",
                            "description": bnd.title,
                            "center_wavelength": bnd.center_wavelength,
                            "full_width_half_max": bnd.fwhm,
                        }
                    ],
                    "gsd": res,
                    "proj:shape": list(arr.shape),
                    "proj:transform": [res, 0, grid.x0, 0, -res, grid.y0],
                    "raster:bands": [
                        {
                            "nodata": 0,
                            "data_type": "uint16",
                            "bits_per_sample": 15,
                            "spatial_resolution": res,
                            "scale": 0.0001,
                            "offset": -0.1,
                        }
                    ],
                },
            ),
        )
    scl_path = item_dir / "scl.tif"
    write_asset(scl_path, arrays.scl, grid, 20, "nearest")
    item.add_asset(
        "scl",
        pystac.Asset(
            href=str(scl_path),
            media_type=COG_TYPE,
            title=SCL_DESCRIPTION,
            roles=["data", "reflectance"],
            extra_fields={
                "proj:shape": list(arrays.scl.shape),
                "proj:transform": [20, 0, grid.x0, 0, -20, grid.y0],
                "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
            },
        ),
    )
    return item


def save_catalog(stac_dir: Path, items: list[pystac.Item], grid: RegionGrid, seed: int) -> Path:
    """Static SELF_CONTAINED catalog: catalog.json -> sentinel-2-l2a collection -> items, relative hrefs."""
    lon0, lat0, lon1, lat1 = grid.bbox_lonlat()
    times = [it.datetime for it in items if it.datetime is not None]
    start = min(times) if times else datetime(2000, 1, 1, tzinfo=UTC)
    end = max(times) if times else start
    catalog = pystac.Catalog(
        id="agrisense-sample-county",
        description=f"SYNTHETIC Sentinel-2 L2A-like scenes of the agrisense sample county (seed {seed}). "
        "Not real satellite data.",
        title="agrisense synthetic sample county",
    )
    coll = pystac.Collection(
        id=COLLECTION_ID,
        description="SYNTHETIC scenes following the Earth Search v1 sentinel-2-l2a item schema "
        "(generated by agrisense.sample; spectra calibrated on real WorldCereal samples).",
        extent=pystac.Extent(pystac.SpatialExtent([[lon0, lat0, lon1, lat1]]), pystac.TemporalExtent([[start, end]])),
        license="other",
        title="Sentinel-2 Level-2A (synthetic)",
    )
    catalog.add_child(coll)
    for it in sorted(items, key=lambda i: i.id):
        coll.add_item(it)
    catalog.normalize_hrefs(str(stac_dir))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return stac_dir / "catalog.json"
