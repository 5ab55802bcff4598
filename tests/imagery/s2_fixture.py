"""Writes a tiny static STAC catalog of synthetic Sentinel-2 L2A scenes (Earth Search v1 item schema).

Grid: EPSG:32636, 64 x 64 px at 10 m (``blue green red nir``) and 32 x 32 px at 20 m (other bands, ``scl``),
upper-left corner (500000, 100640). Surface reflectance is the same known field in every scene (``truth``),
so a correct reader returns identical values whatever the scene's DN offset rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pystac
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine

CRS_EPSG = 32636
X0, Y0 = 500_000.0, 100_640.0
SIZE10 = 64
BANDS10 = ("blue", "green", "red", "nir")
BANDS20 = ("nir08", "rededge1", "rededge2", "rededge3", "swir16", "swir22")
CONST20 = {
    "nir08": 0.32,
    "rededge1": 0.12,
    "rededge2": 0.20,
    "rededge3": 0.26,
    "swir16": 0.22,
    "swir22": 0.14,
}
CLOUD_REFLECTANCE = 0.6
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]


def truth(band: str, res: int = 10) -> np.ndarray:
    """True surface reflectance of ``band`` on the 10 m (or 20 m) grid."""
    n = SIZE10 * 10 // res
    row, col = np.mgrid[0:n, 0:n].astype(np.float64) * (res / 10) / (SIZE10 - 1)
    fields = {
        "blue": 0.03 + 0.02 * col,
        "green": 0.06 + 0.02 * row,
        "red": 0.05 + 0.05 * col,
        "nir": 0.30 + 0.10 * row,
    }
    return fields[band] if band in fields else np.full((n, n), CONST20[band])


@dataclass(frozen=True)
class SceneSpec:
    """One synthetic scene. ``cloud``: SCL 20 m (row0, row1, col0, col1) set to 9; ``shadow`` set to 3;
    ``nodata``: 20 m window set to SCL 0 and DN 0; ``broken_asset``: that asset's file is not a raster."""

    when: datetime
    baseline: str | None = "05.11"
    boa_offset_applied: bool | None = False
    cloud: tuple[int, int, int, int] | None = None
    shadow: tuple[int, int, int, int] | None = None
    nodata: tuple[int, int, int, int] | None = None
    broken_asset: str | None = None
    tile: str = "36NXF"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"S2B_{self.tile}_{self.when:%Y%m%d}_0_L2A"

    @property
    def dn_offset(self) -> int:
        """DN added to the pixels: 1000 for baseline >= 04.00 unless Earth Search already removed it."""
        if self.boa_offset_applied or self.baseline is None or self.baseline < "04.00":
            return 0
        return 1000


def _window_mask(n: int, window: tuple[int, int, int, int] | None, factor: int) -> np.ndarray:
    mask = np.zeros((n, n), dtype=bool)
    if window is not None:
        r0, r1, c0, c1 = window
        mask[r0 * factor : r1 * factor, c0 * factor : c1 * factor] = True
    return mask


def _write_cog(path: Path, data: np.ndarray, res: int) -> None:
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{CRS_EPSG}",
        "transform": Affine(res, 0, X0, 0, -res, Y0),
        "nodata": 0,
        "blocksize": 16,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def scene_arrays(spec: SceneSpec) -> dict[str, np.ndarray]:
    """DN arrays (uint16 bands, uint8 scl) of one scene."""
    out: dict[str, np.ndarray] = {}
    n20 = SIZE10 // 2
    scl = np.full((n20, n20), 4, dtype=np.uint8)
    scl[_window_mask(n20, spec.shadow, 1)] = 3
    scl[_window_mask(n20, spec.cloud, 1)] = 9
    scl[_window_mask(n20, spec.nodata, 1)] = 0
    out["scl"] = scl
    for band in BANDS10 + BANDS20:
        res = 10 if band in BANDS10 else 20
        n, factor = (SIZE10, 2) if res == 10 else (n20, 1)
        refl = truth(band, res).copy()
        refl[_window_mask(n, spec.cloud, factor)] = CLOUD_REFLECTANCE
        dn = np.round(refl * 10000).astype(np.uint16) + np.uint16(spec.dn_offset)
        dn[_window_mask(n, spec.nodata, factor)] = 0
        out[band] = dn
    return out


def _footprint() -> tuple[dict, list[float]]:
    to_ll = Transformer.from_crs(CRS_EPSG, 4326, always_xy=True)
    x1, y1 = X0 + SIZE10 * 10, Y0 - SIZE10 * 10
    ring = [to_ll.transform(x, y) for x, y in [(X0, Y0), (x1, Y0), (x1, y1), (X0, y1), (X0, Y0)]]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return {"type": "Polygon", "coordinates": [ring]}, [min(lons), min(lats), max(lons), max(lats)]


def _item(spec: SceneSpec, folder: Path) -> pystac.Item:
    geometry, bbox = _footprint()
    arrays = scene_arrays(spec)
    cloud = 100.0 * float(np.isin(arrays["scl"], (3, 8, 9, 10)).mean())
    props: dict[str, object] = {
        "platform": "sentinel-2b",
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": cloud,
        "proj:epsg": CRS_EPSG,
        "proj:code": f"EPSG:{CRS_EPSG}",
        "mgrs:utm_zone": 36,
        "mgrs:latitude_band": "N",
        "mgrs:grid_square": spec.tile[-2:],
        "s2:product_type": "S2MSI2A",
        "s2:nodata_pixel_percentage": 0.0,
        "s2:vegetation_percentage": 100.0 - cloud,
        **spec.extra,
    }
    if spec.baseline is not None:
        props["s2:processing_baseline"] = spec.baseline
    if spec.boa_offset_applied is not None:
        props["earthsearch:boa_offset_applied"] = spec.boa_offset_applied
    item = pystac.Item(spec.id, geometry, bbox, spec.when, props, stac_extensions=list(EXTENSIONS))
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in arrays.items():
        res = 10 if name in BANDS10 else 20
        path = folder / f"{name}.tif"
        if name == spec.broken_asset:
            path.write_text("not a GeoTIFF")
        else:
            _write_cog(path, data, res)
        raster_band: dict[str, object] = {
            "nodata": 0,
            "data_type": data.dtype.name,
            "spatial_resolution": res,
        }
        if name != "scl":
            raster_band.update(bits_per_sample=15, scale=0.0001, offset=-0.1)
        extra = {
            "raster:bands": [raster_band],
            "proj:shape": list(data.shape),
            "proj:transform": [res, 0, X0, 0, -res, Y0],
        }
        if name != "scl":
            extra["eo:bands"] = [{"name": name}]
        item.add_asset(
            name,
            pystac.Asset(
                str(path),
                media_type=pystac.MediaType.COG,
                roles=["data"] if name == "scl" else ["data", "reflectance"],
                extra_fields=extra,
            ),
        )
    return item


def write_catalog(root: Path, scenes: list[SceneSpec], collection_id: str = "sentinel-2-l2a") -> Path:
    """Write the scenes as a self-contained static catalog under ``root``; returns ``root/catalog.json``."""
    root = Path(root)
    catalog = pystac.Catalog("test-region", "synthetic Sentinel-2 L2A scenes for tests")
    _, bbox = _footprint()
    collection = pystac.Collection(
        collection_id,
        "Sentinel-2 L2A (synthetic test scenes)",
        pystac.Extent(
            pystac.SpatialExtent([bbox]),
            pystac.TemporalExtent([[min(s.when for s in scenes), max(s.when for s in scenes)]]),
        ),
    )
    catalog.add_child(collection)
    for spec in scenes:
        collection.add_item(_item(spec, root / collection_id / spec.id))
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"
