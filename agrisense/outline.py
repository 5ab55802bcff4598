"""Suggest a plot outline where a farmer taps: the field the land-cover model's boundary head delineates there.

One service call for every front end (API, farmer app): the tapped point's imagery tile comes from the same
composite cache the scorer uses, the model runs on a window of ``WINDOW_PX`` pixels around the point, and
:func:`agrisense.ml.fields.label_fields` cuts the window's cropland into fields. The field under the point
(or the nearest one within ``SNAP_PX`` pixels) is returned as a WGS84 polygon with its area, the crop the
model sees there and how sure it is, for the farmer to check and adjust before submitting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from rasterio.features import shapes
from shapely.geometry import Point, Polygon, shape

from agrisense.config import Settings, get_settings
from agrisense.errors import InvalidInput, NotFound
from agrisense.geo.area import geodesic_area, ha_to_mu
from agrisense.imagery.cache import build_composites_keyed
from agrisense.imagery.plot_series import group_plots_by_tile
from agrisense.ml.features import stack_features
from agrisense.ml.fields import FieldThresholds, label_fields
from agrisense.ml.inference import aggregate_plot, predict_maps
from agrisense.ml.plot_crop import ASSETS
from agrisense.ml.plot_crop_model import load_plot_crop_model
from agrisense.ml.registry import NON_CROP, load_model_cached
from agrisense.region import load_region
from agrisense.scoring.evidence import refine_prediction

WINDOW_PX = 96
"""Side of the window the model runs on (0.96 km at 10 m): enough context around a smallholder field."""
SNAP_PX = 2
"""A tap this many pixels or fewer outside a detected field still picks it."""
MAX_FIELD_HA = 50.0
"""A detected 'field' larger than this is a cropland patch the model could not split: not suggested."""


@dataclass(frozen=True)
class OutlineSuggestion:
    """A suggested plot outline (GeoJSON Polygon, WGS84) and what the model sees in it."""

    geometry: dict[str, Any]
    area_ha: float
    area_mu: float
    crop: str
    crop_probability: float
    cropland_fraction: float
    n_pixels: int
    model_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": self.geometry,
            "properties": {
                "area_ha": round(self.area_ha, 3),
                "area_mu": round(self.area_mu, 2),
                "crop": self.crop,
                "crop_probability": round(self.crop_probability, 3),
                "cropland_fraction": round(self.cropland_fraction, 3),
                "n_pixels": self.n_pixels,
                "model_version": self.model_version,
            },
        }


def suggest_outline(lon: float, lat: float, *, settings: Settings | None = None) -> OutlineSuggestion:
    """The outline of the field at (``lon``, ``lat``); NotFound when the model sees no field there."""
    if not (isinstance(lon, int | float) and isinstance(lat, int | float)) or not (
        math.isfinite(lon) and math.isfinite(lat)
    ):
        raise InvalidInput("lon and lat must be finite numbers (decimal degrees, WGS84)")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        hint = " (are lon and lat swapped?)" if -90 <= lon <= 90 and -180 <= lat <= 180 else ""
        raise InvalidInput(f"lon {lon} / lat {lat} are outside -180..180 / -90..90{hint}")
    settings = settings or get_settings()
    model = load_model_cached(str(settings.models_dir), device=settings.device)
    bundle = model.bundle
    if not bundle.boundary_head:
        raise NotFound(
            f"model {bundle.name} {bundle.version} has no field-boundary head, so it cannot suggest outlines; "
            "train one with `agrisense train boundary`, or draw the plot by hand"
        )
    region = load_region(settings.region_dir)
    west, south, east, north = region.bbox_lonlat
    if not (west <= lon <= east and south <= lat <= north):
        raise InvalidInput(
            f"the point ({lon:.5f}, {lat:.5f}) is outside the area this service has imagery for "
            f"({west:.4f}..{east:.4f} E, {south:.4f}..{north:.4f} N)"
        )
    frame = gpd.GeoDataFrame({"plot_id": ["tap"]}, geometry=[Point(lon, lat)], crs="EPSG:4326")
    group = group_plots_by_tile(frame)[0]
    geobox = group.tile.geobox(region.resolution)
    result, _ = build_composites_keyed(
        settings.catalog_source,
        geobox,
        region.imagery_start,
        region.imagery_end,
        cache_dir=Path(settings.cache_dir) / "composites",
    )
    point = group.plots.geometry.iloc[0]
    col_f, row_f = ~geobox.affine * (point.x, point.y)
    row, col = int(math.floor(row_f)), int(math.floor(col_f))
    height, width = geobox.shape
    if not (0 <= row < height and 0 <= col < width):
        raise NotFound("the point lies outside the imagery tile; check the coordinates")
    r0 = min(max(row - WINDOW_PX // 2, 0), max(height - WINDOW_PX, 0))
    c0 = min(max(col - WINDOW_PX // 2, 0), max(width - WINDOW_PX, 0))
    window = result.composites.isel(y=slice(r0, r0 + WINDOW_PX), x=slice(c0, c0 + WINDOW_PX))
    features = stack_features(window, bands=bundle.bands, indices=bundle.indices, months=bundle.months)
    if not np.isfinite(features).any(axis=0)[row - r0, col - c0]:
        raise NotFound("there is no clear imagery at this point this season; draw the plot by hand")
    prediction = predict_maps(model, features)
    probabilities, boundary = prediction.probabilities, prediction.boundary
    cropland = 1.0 - probabilities[bundle.classes.index(NON_CROP)]
    labels = label_fields(cropland, boundary, FieldThresholds(boundary=bundle.boundary_threshold))
    field = _field_at(labels, row - r0, col - c0)
    if field == 0:
        raise NotFound("no field detected at this point; tap inside the field, or draw the outline by hand")
    mask = labels == field
    if float(mask.sum()) * abs(geobox.affine.a * geobox.affine.e) / 1e4 > MAX_FIELD_HA:
        raise NotFound("the model cannot separate this field from its neighbours; draw the outline by hand")
    outline = _mask_outline(mask, geobox.affine * geobox.affine.translation(c0, r0), str(geobox.crs))
    # the service only scores plots inside its imagery area (check_plot): never suggest one it would refuse
    outline = outline.intersection(shapely.box(west, south, east, north))
    outline = max(getattr(outline, "geoms", [outline]), key=lambda g: g.area) if not outline.is_empty else outline
    if outline.is_empty or not isinstance(outline, Polygon):
        raise NotFound("no field detected inside the imagery area at this point; draw the outline by hand")
    area_ha = geodesic_area(outline).ha
    plot = aggregate_plot(probabilities, mask.astype(np.float32), bundle.classes, model_version=bundle.version)
    if region.crop_model:  # the crop as scoring will see it: pooled with the region's plot crop model
        months = tuple(int(str(p)[5:7]) for p in window["period"].values)
        bands = np.stack([window[a].values for a in ASSETS])
        crop_model = load_plot_crop_model(Path(settings.models_dir), region.crop_model)
        plot = refine_prediction(plot, crop_model, bands, mask.astype(np.float32), tuple(bundle.classes), months)
    return OutlineSuggestion(
        geometry=dict(shapely.geometry.mapping(outline)),
        area_ha=area_ha,
        area_mu=ha_to_mu(area_ha),
        crop=plot.crop,
        crop_probability=plot.crop_probability,
        cropland_fraction=plot.cropland_fraction,
        n_pixels=int(mask.sum()),
        model_version=plot.model_version,
    )


@dataclass(frozen=True)
class OutlineCheck:
    """A drawn plot against the field the model delineates at its centre (for an analyst's review)."""

    drawn_area_ha: float
    detected: OutlineSuggestion | None  # None: no field detected there
    iou: float | None  # overlap of the drawn outline and the detected field, 0..1
    verdict: str  # "matches", "larger than the field", "smaller than the field", "differs", "no field detected"
    message: str


MATCH_IOU = 0.5
"""Drawn outline and detected field overlapping this much (IoU) count as the same field."""


def check_outline(geometry: Mapping[str, Any], *, settings: Settings | None = None) -> OutlineCheck:
    """Compare a drawn plot (GeoJSON geometry, WGS84) with the field the model finds at its representative point."""
    drawn = shape(geometry)
    if drawn.is_empty or not drawn.is_valid:
        raise InvalidInput("the plot outline is empty or invalid; it cannot be compared with the imagery")
    drawn_ha = geodesic_area(drawn).ha
    point = drawn.representative_point()
    try:
        detected = suggest_outline(point.x, point.y, settings=settings)
    except NotFound:
        message = f"Drawn {drawn_ha:.2f} ha; the model finds no separate field at the plot's centre."
        return OutlineCheck(drawn_ha, None, None, "no field detected", message)
    field = shape(detected.geometry)
    iou = float(drawn.intersection(field).area / drawn.union(field).area)
    ratio = drawn_ha / detected.area_ha if detected.area_ha > 0 else float("inf")
    if iou >= MATCH_IOU:
        verdict = "matches"
    elif field.area > 0 and drawn.intersection(field).area / field.area >= 0.8 and ratio > 1.5:
        verdict = "larger than the field"
    elif drawn.area > 0 and drawn.intersection(field).area / drawn.area >= 0.8 and ratio < 1 / 1.5:
        verdict = "smaller than the field"
    else:
        verdict = "differs"
    message = (
        f"Drawn {drawn_ha:.2f} ha; the model's field here {detected.area_ha:.2f} ha ({detected.crop}, "
        f"p={detected.crop_probability:.2f}); overlap IoU {iou:.2f}: {verdict}."
    )
    return OutlineCheck(drawn_ha, detected, iou, verdict, message)


def _field_at(labels: np.ndarray, row: int, col: int) -> int:
    """The field id at (row, col), else the id of the nearest field pixel within ``SNAP_PX``, else 0."""
    if labels[row, col]:
        return int(labels[row, col])
    r0, c0 = max(row - SNAP_PX, 0), max(col - SNAP_PX, 0)
    near = labels[r0 : row + SNAP_PX + 1, c0 : col + SNAP_PX + 1]
    rows, cols = np.nonzero(near)
    if rows.size == 0:
        return 0
    best = int(np.argmin((rows + r0 - row) ** 2 + (cols + c0 - col) ** 2))
    return int(near[rows[best], cols[best]])


def _mask_outline(mask: np.ndarray, transform: Any, crs: str) -> Polygon:
    """The largest polygon of ``mask`` in WGS84, its pixel staircase smoothed by half a pixel."""
    polygons = [shape(geom) for geom, value in shapes(mask.astype(np.uint8), mask=mask, transform=transform) if value]
    largest = max(polygons, key=lambda p: p.area)
    smooth = largest.simplify(abs(transform.a) * 0.5, preserve_topology=True)
    smooth = shapely.make_valid(smooth) if not smooth.is_valid else smooth
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lonlat = shapely.transform(smooth, lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])))
    out = shapely.set_precision(lonlat, 1e-7)  # about 1 cm
    if not isinstance(out, Polygon):
        out = max(getattr(out, "geoms", []), key=lambda g: g.area)
    return out
