"""Bad input gets a clear 4xx that a farmer can act on, never a 500 and never a half-written record."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from agrisense.region import load_region
from tests.api.conftest import World, service_settings

V1 = "/api/v1"


def _ring(world: World) -> list[list[float]]:
    return [list(p) for p in world.features[6]["geometry"]["coordinates"][0]]


def _square(lon: float, lat: float, d: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
    }


def _plot_count(world: World) -> int:
    return len(world.client.get(f"{V1}/plots", headers=world.headers["b"]).json())


def _cases(world: World) -> dict[str, tuple[dict[str, Any], str]]:
    ring = _ring(world)
    lon, lat = ring[0]
    bowtie = [[lon, lat], [lon + 0.002, lat + 0.002], [lon + 0.002, lat], [lon, lat + 0.002], [lon, lat]]
    west = load_region(world.settings.region_dir).bbox_lonlat[0]
    return {
        "self-intersecting": ({"type": "Polygon", "coordinates": [bowtie]}, "crosses itself"),
        "unclosed ring": ({"type": "Polygon", "coordinates": [ring[:-1]]}, "not closed"),
        "swapped lat/lon": ({"type": "Polygon", "coordinates": [[[y, x] for x, y in ring]]}, "swapped"),
        "latitude out of range": ({"type": "Polygon", "coordinates": [[[x, y + 100] for x, y in ring]]}, "latitude"),
        "longitude out of range": ({"type": "Polygon", "coordinates": [[[x + 200, y] for x, y in ring]]}, "longitude"),
        "huge polygon": (_square(lon - 0.5, lat - 0.5, 1.0), "larger than"),
        "outside imagery": (_square(lon + 1.0, lat + 1.0, 0.002), "outside the area our satellite imagery covers"),
        "partly outside imagery": (_square(west - 0.001, lat, 0.003), "part of this field lies outside"),
        "too few corners": (
            {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.001, lat], [lon, lat]]]},
            "at least 3",
        ),
        "empty": ({"type": "Polygon", "coordinates": []}, "empty"),
        "point": ({"type": "Point", "coordinates": [lon, lat]}, "Polygon"),
        "multipolygon of nothing": ({"type": "MultiPolygon", "coordinates": [[]]}, ""),
    }


@pytest.mark.parametrize(
    "case",
    [
        "self-intersecting",
        "unclosed ring",
        "swapped lat/lon",
        "latitude out of range",
        "longitude out of range",
        "huge polygon",
        "outside imagery",
        "partly outside imagery",
        "too few corners",
        "empty",
        "point",
        "multipolygon of nothing",
    ],
)
def test_bad_outline_is_a_clear_422_and_stores_nothing(world: World, case: str) -> None:
    geometry, phrase = _cases(world)[case]
    before = _plot_count(world)
    r = world.client.post(
        f"{V1}/plots", json={"geometry": geometry, "declared_crop": "maize"}, headers=world.headers["b"]
    )
    assert r.status_code == 422, r.text
    assert phrase.lower() in r.json()["detail"].lower()
    assert _plot_count(world) == before


def test_100k_vertex_polygon_is_refused_before_parsing(world: World) -> None:
    lon, lat = _ring(world)[0]
    ring = [
        [lon + 0.001 * math.cos(2 * math.pi * t / 100_000), lat + 0.001 * math.sin(2 * math.pi * t / 100_000)]
        for t in range(100_000)
    ]
    ring.append(ring[0])
    r = world.client.post(
        f"{V1}/plots", json={"geometry": {"type": "Polygon", "coordinates": [ring]}}, headers=world.headers["b"]
    )
    assert r.status_code == 413
    assert "simplify" in r.json()["detail"].lower()


def test_many_vertices_under_the_size_limit_get_the_vertex_message(world: World) -> None:
    lon, lat = _ring(world)[0]
    n = 6_000
    ring = [
        [round(lon + 0.001 * math.cos(2 * math.pi * t / n), 7), round(lat + 0.001 * math.sin(2 * math.pi * t / n), 7)]
        for t in range(n)
    ]
    ring.append(ring[0])
    r = world.client.post(
        f"{V1}/plots", json={"geometry": {"type": "Polygon", "coordinates": [ring]}}, headers=world.headers["b"]
    )
    assert r.status_code == 422 and "corners" in r.json()["detail"]


@pytest.mark.parametrize("body", ['{"geometry": {"type": "Polygon", "coordinates": [[[NaN, 2.3]]]}}', "{", "[]"])
def test_malformed_json_is_a_422(world: World, body: str) -> None:
    r = world.client.post(
        f"{V1}/plots", content=body, headers={**world.headers["b"], "content-type": "application/json"}
    )
    assert r.status_code == 422


def test_unknown_crop_names_the_choices(world: World) -> None:
    r = world.client.post(
        f"{V1}/plots",
        json={"geometry": world.features[6]["geometry"], "declared_crop": "opium"},
        headers=world.headers["b"],
    )
    assert r.status_code == 422 and "maize" in r.json()["detail"]


def test_application_without_consent_is_refused_and_nothing_is_recorded(world: World) -> None:
    c, h = world.client, world.headers
    before = c.get(f"{V1}/me/export", headers=h["b"]).json()
    r = c.post(f"{V1}/applications", json={"plot_ids": [world.ids["b1"]], "consent": False}, headers=h["b"])
    assert r.status_code == 422 and "consent" in r.json()["detail"]
    after = c.get(f"{V1}/me/export", headers=h["b"]).json()
    assert after["consents"] == before["consents"] and after["applications"] == before["applications"]


def test_duplicate_submission_is_a_conflict(world: World) -> None:
    r = world.client.post(
        f"{V1}/applications", json={"plot_ids": [world.ids["a1"]], "consent": True}, headers=world.headers["a"]
    )
    assert r.status_code == 409 and "already in application" in r.json()["detail"]
    r = world.client.post(
        f"{V1}/applications",
        json={"plot_ids": [world.ids["a2"], world.ids["a2"]], "consent": True},
        headers=world.headers["a"],
    )
    assert r.status_code == 422 and "twice" in r.json()["detail"]


def test_pledged_plot_cannot_be_changed_or_deleted(world: World) -> None:
    url = f"{V1}/plots/{world.ids['a1']}"
    assert world.client.patch(url, json={"declared_crop": "beans"}, headers=world.headers["a"]).status_code == 409
    assert world.client.delete(url, headers=world.headers["a"]).status_code == 409


def test_registration_input_errors(world: World) -> None:
    c = world.client
    assert (
        c.post(f"{V1}/auth/register", json={"phone": "not-a-phone", "password": "long-enough", "name": "X"}).status_code
        == 422
    )
    assert (
        c.post(f"{V1}/auth/register", json={"phone": "13800000055", "password": "short", "name": "X"}).status_code
        == 422
    )
    r = c.post(f"{V1}/auth/register", json={"phone": "13800000001", "password": "long-enough", "name": "X"})
    assert r.status_code == 409 and "already registered" in r.json()["detail"]


def test_rate_limit_answers_429_with_retry_after(small_region, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agrisense.app.api.main import create_app

    settings = service_settings(small_region, tmp_path).model_copy(update={"rate_limit_per_minute": 5})
    with TestClient(create_app(settings)) as client:
        codes = [client.get(f"{V1}/plots").status_code for _ in range(7)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
        r = client.get(f"{V1}/plots")
        assert int(r.headers["retry-after"]) >= 1 and "wait" in r.json()["detail"].lower()
        assert client.get("/healthz").status_code == 200  # health checks are never throttled


def test_oversized_body_without_content_length_is_413(world: World) -> None:
    big = json.dumps({"geometry": {"type": "Polygon", "coordinates": [[[1.0, 2.0]] * 200_000]}}).encode()

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = world.client.post(
        f"{V1}/plots", content=chunks(), headers={**world.headers["b"], "content-type": "application/json"}
    )
    assert r.status_code == 413


def test_geometry_is_normalised_and_area_measured(world: World) -> None:
    geometry = world.features[7]["geometry"]
    r = world.client.post(
        f"{V1}/plots", json={"geometry": geometry, "declared_crop": "Groundnut "}, headers=world.headers["b"]
    )
    assert r.status_code == 201
    body = r.json()
    assert body["declared_crop"] == "groundnut"
    assert shapely.geometry.shape(body["geometry"]).equals(shapely.geometry.shape(geometry))
    assert body["area_ha"] > 0 and abs(body["area_mu"] - 15 * body["area_ha"]) < 0.01
    assert world.client.delete(f"{V1}/plots/{body['id']}", headers=world.headers["b"]).status_code == 204


def _non_cropland_square(world: World) -> dict[str, Any]:
    """A ~1 ha square where the region's truth map has no cropland at all (lon/lat)."""
    import numpy as np
    import rasterio
    from pyproj import Transformer

    with rasterio.open(world.settings.region_dir / "truth" / "landcover.tif") as src:
        land = src.read(1)
        transform, crs = src.transform, src.crs
    size = 12  # pixels of 10 m
    for row in range(40, land.shape[0] - 40 - size, 4):
        for col in range(40, land.shape[1] - 40 - size, 4):
            if np.all(land[row - 10 : row + size + 10, col - 10 : col + size + 10] == 0):
                x0, y0 = transform * (col, row + size)
                x1, y1 = transform * (col + size, row)
                to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
                corners = [to_lonlat.transform(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
                return {"type": "Polygon", "coordinates": [[list(c) for c in corners]]}
    pytest.skip("the test region has no non-cropland block")


def test_plot_on_non_cropland_is_refused_with_a_fix_and_nothing_is_stored(world: World) -> None:
    headers = world.headers["b"]
    r = world.client.post(
        f"{V1}/plots", json={"geometry": _non_cropland_square(world), "declared_crop": "maize"}, headers=headers
    )
    assert r.status_code == 201, r.text
    plot_id = r.json()["id"]
    before = world.client.get(f"{V1}/applications", headers=headers).json()
    r = world.client.post(f"{V1}/applications", json={"plot_ids": [plot_id], "consent": True}, headers=headers)
    assert r.status_code == 422, r.text
    assert "farmland" in r.json()["detail"] and "redraw" in r.json()["detail"]
    assert world.client.get(f"{V1}/applications", headers=headers).json() == before  # no application written
    # the plot is not pledged: the farmer can redraw it (or delete it)
    assert world.client.delete(f"{V1}/plots/{plot_id}", headers=headers).status_code in (200, 204)
