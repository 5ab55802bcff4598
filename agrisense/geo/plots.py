"""Farmer plots: parse GeoJSON, validate each outline, and measure it.

A plot is what a farmer drew on a phone map. Outlines are checked strictly, one by one, so one bad feature
never loses the others: the caller gets a ``Plot`` for each good feature and a ``PlotError`` (with a message the
farmer can act on) for each bad one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from agrisense.errors import InvalidGeometry, InvalidInput, NotFound
from agrisense.geo.area import Area, geodesic_area
from agrisense.geo.coverage import OUTSIDE_IMAGERY, ImageryArea
from agrisense.geo.utm import utm_epsg

MAX_VERTICES = 5_000
MIN_AREA_HA = 0.01
MAX_AREA_HA = 1_000.0
SWAPPED = "Latitude and longitude look swapped: GeoJSON needs [longitude, latitude] (x first)."


@dataclass(frozen=True)
class Plot:
    """A validated plot: outline in EPSG:4326 lon/lat, its geodesic area and the UTM zone it is processed in."""

    plot_id: str
    farmer_id: str | None
    declared_crop: str | None
    geometry: Polygon | MultiPolygon
    area: Area
    utm_epsg: int
    declared_area_ha: float | None = None

    @property
    def area_ha(self) -> float:
        return self.area.ha

    @property
    def area_mu(self) -> float:
        return self.area.mu


@dataclass(frozen=True)
class PlotError:
    """A feature that could not be used, and why (``message`` is written for the farmer)."""

    index: int
    plot_id: str | None
    code: str
    message: str


def _rings(geometry: Mapping[str, Any]) -> list[list[Sequence[float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon" and isinstance(coords, list):
        return list(coords)
    if kind == "MultiPolygon" and isinstance(coords, list):
        return [ring for poly in coords for ring in poly]
    raise InvalidGeometry(
        f"A plot must be a Polygon or MultiPolygon, not {kind!r}. Draw the outline of the field as a closed shape."
    )


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_coordinates(rings: list[list[Sequence[float]]]) -> None:
    n_vertices = 0
    for ring in rings:
        if len(ring) < 4:
            raise InvalidGeometry(
                "An outline needs at least 3 distinct corners. Add corners around the field.",
                code="OUTLINE_TOO_FEW_CORNERS",
            )
        for point in ring:
            if not isinstance(point, list | tuple) or len(point) < 2 or not all(_finite_number(v) for v in point[:2]):
                raise InvalidGeometry(
                    "Every corner must be a [longitude, latitude] pair of numbers (finite: no NaN or infinity)."
                )
        if list(ring[0][:2]) != list(ring[-1][:2]):
            raise InvalidGeometry(
                "The outline is not closed: its last corner must equal its first. Close the shape and try again.",
                code="OUTLINE_NOT_CLOSED",
            )
        n_vertices += len(ring)
    if n_vertices > MAX_VERTICES:
        raise InvalidGeometry(
            f"The outline has {n_vertices} corners (at most {MAX_VERTICES}). Simplify it: a field needs a few dozen.",
            code="OUTLINE_TOO_MANY_CORNERS",
            params={"corners": n_vertices, "max": MAX_VERTICES},
        )
    xs = [float(p[0]) for ring in rings for p in ring]
    ys = [float(p[1]) for ring in rings for p in ring]
    if any(abs(y) > 90 for y in ys):
        if all(abs(x) <= 90 for x in xs) and all(abs(y) <= 180 for y in ys):
            raise InvalidGeometry(SWAPPED, code="COORDINATES_SWAPPED")
        raise InvalidGeometry(
            "A latitude is outside -90..90 degrees: coordinates must be WGS84 degrees.", code="COORDINATES_OUT_OF_RANGE"
        )
    if any(abs(x) > 180 for x in xs):
        raise InvalidGeometry(
            "A longitude is outside -180..180 degrees: coordinates must be WGS84 degrees.",
            code="COORDINATES_OUT_OF_RANGE",
        )


def validate_geometry(
    geometry: Mapping[str, Any], *, expected_bbox: tuple[float, float, float, float] | None = None
) -> Polygon | MultiPolygon:
    """Check a GeoJSON geometry and return it as a valid shapely polygon, or raise ``InvalidGeometry``.

    ``expected_bbox`` (lon/lat) lets the check recognise swapped coordinates that are still in range.
    """
    if not isinstance(geometry, Mapping):
        raise InvalidGeometry(
            "The plot has no geometry. Draw the outline of the field on the map.", code="OUTLINE_MISSING"
        )
    rings = _rings(geometry)
    _check_coordinates(rings)
    geom: BaseGeometry = shape(geometry)
    if geom.is_empty:
        raise InvalidGeometry("The outline is empty. Draw the outline of the field on the map.")
    if not geom.is_valid:
        reason = explain_validity(geom)
        raise InvalidGeometry(
            f"The outline crosses itself or is malformed ({reason}). Redraw it so that its edges do not cross.",
            code="OUTLINE_SELF_INTERSECTS",
        )
    if expected_bbox is not None:
        _check_inside(geom, expected_bbox)
    if not isinstance(geom, Polygon | MultiPolygon):  # pragma: no cover - shape() of Polygon types
        raise InvalidGeometry("A plot must be a polygon.")
    return shapely.normalize(geom)


def _check_inside(geom: BaseGeometry, bbox: tuple[float, float, float, float]) -> None:
    minx, miny, maxx, maxy = bbox
    region = shapely.box(minx, miny, maxx, maxy)
    if geom.intersects(region):
        return
    swapped = shapely.transform(geom, lambda xy: xy[:, ::-1])
    if swapped.intersects(region):
        raise InvalidGeometry(SWAPPED, code="COORDINATES_SWAPPED")


def make_plot(
    feature: Mapping[str, Any],
    *,
    index: int = 0,
    expected_bbox: tuple[float, float, float, float] | None = None,
) -> Plot:
    """Validate one GeoJSON Feature into a ``Plot`` (raises ``InvalidGeometry`` / ``InvalidInput``)."""
    props = feature.get("properties") or {}
    if not isinstance(props, Mapping):
        raise InvalidInput("Feature properties must be an object.")
    plot_id = str(props.get("plot_id") or feature.get("id") or f"plot-{index + 1}")
    geom = validate_geometry(feature.get("geometry"), expected_bbox=expected_bbox)  # type: ignore[arg-type]
    area = geodesic_area(geom)
    if area.ha < MIN_AREA_HA:
        raise InvalidGeometry(
            f"The plot is {area.m2:.0f} m², smaller than {MIN_AREA_HA * 10_000:.0f} m². Draw the whole field.",
            code="AREA_TOO_SMALL",
            params={"area_m2": round(area.m2), "min_m2": round(MIN_AREA_HA * 10_000)},
        )
    if area.ha > MAX_AREA_HA:
        raise InvalidGeometry(
            f"The plot is {area.ha:,.0f} ha, larger than {MAX_AREA_HA:,.0f} ha. Draw each field separately.",
            code="AREA_TOO_LARGE",
            params={"area_ha": round(area.ha, 1), "max_ha": MAX_AREA_HA},
        )
    centroid = geom.centroid
    declared_area = props.get("declared_area_ha")
    return Plot(
        plot_id=plot_id,
        farmer_id=None if props.get("farmer_id") is None else str(props["farmer_id"]),
        declared_crop=None if props.get("declared_crop") in (None, "") else str(props["declared_crop"]).strip().lower(),
        geometry=geom,
        area=area,
        utm_epsg=utm_epsg(centroid.x, centroid.y),
        declared_area_ha=None if declared_area is None else float(declared_area),
    )


def parse_plots(
    collection: Mapping[str, Any],
    *,
    expected_bbox: tuple[float, float, float, float] | None = None,
    imagery_area: ImageryArea | None = None,
) -> tuple[list[Plot], list[PlotError]]:
    """Validate every feature of a GeoJSON FeatureCollection (or a single Feature); bad ones become errors.

    With ``imagery_area``, an outline wholly or partly outside it becomes an ``OUTSIDE_IMAGERY`` error with the
    message the API gives for the same outline."""
    if collection.get("type") == "Feature":
        features: list[Any] = [collection]
    elif collection.get("type") == "FeatureCollection" and isinstance(collection.get("features"), list):
        features = collection["features"]
    else:
        raise InvalidInput("Expected a GeoJSON FeatureCollection of plot polygons (type 'FeatureCollection').")
    plots: list[Plot] = []
    errors: list[PlotError] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        pid = None
        try:
            if not isinstance(feature, Mapping):
                raise InvalidInput("Each feature must be a GeoJSON Feature object.")
            pid = (feature.get("properties") or {}).get("plot_id") or feature.get("id")
            plot = make_plot(feature, index=i, expected_bbox=expected_bbox)
            outside = None if imagery_area is None else imagery_area.problem(plot.geometry)
            if outside is not None:
                errors.append(PlotError(i, plot.plot_id, OUTSIDE_IMAGERY, outside))
                continue
            if plot.plot_id in seen:
                raise InvalidInput(f"plot_id {plot.plot_id!r} appears twice. Give every plot its own id.")
            seen.add(plot.plot_id)
            plots.append(plot)
        except InvalidGeometry as exc:
            errors.append(PlotError(i, None if pid is None else str(pid), "INVALID_GEOMETRY", str(exc)))
        except InvalidInput as exc:
            errors.append(PlotError(i, None if pid is None else str(pid), "INVALID_INPUT", str(exc)))
    return plots, errors


def read_plots(
    path: Path,
    *,
    expected_bbox: tuple[float, float, float, float] | None = None,
    imagery_area: ImageryArea | None = None,
) -> tuple[list[Plot], list[PlotError]]:
    """Read and validate a GeoJSON file of plots."""
    if not path.exists():
        raise NotFound(f"Plot file {path} does not exist. Pass a GeoJSON FeatureCollection of plot polygons.")
    try:
        collection = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid GeoJSON ({exc}). Export the plots as GeoJSON.") from exc
    if not isinstance(collection, Mapping):
        raise InvalidInput(f"{path} must hold a GeoJSON FeatureCollection.")
    return parse_plots(collection, expected_bbox=expected_bbox, imagery_area=imagery_area)


def plot_to_feature(plot: Plot) -> dict[str, Any]:
    """A plot back as a GeoJSON Feature (EPSG:4326)."""
    return {
        "type": "Feature",
        "properties": {
            "plot_id": plot.plot_id,
            "farmer_id": plot.farmer_id,
            "declared_crop": plot.declared_crop,
            "area_ha": round(plot.area_ha, 4),
            "area_mu": round(plot.area_mu, 3),
        },
        "geometry": mapping(plot.geometry),
    }
