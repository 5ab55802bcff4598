"""GET /api/v1/fields/outline: the field the model delineates where a farmer taps (small test region)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point, shape

from tests.api.conftest import World

URL = "/api/v1/fields/outline"


def _truth_fields(world: World) -> gpd.GeoDataFrame:
    fields = gpd.read_parquet(world.settings.region_dir / "truth" / "fields.parquet")
    utm = fields[fields["area_ha"] > 0.3].reset_index(drop=True)
    return utm.set_geometry(utm.geometry.to_crs(4326)).assign(utm_geometry=utm.geometry)


def _tap(world: World, lon: float, lat: float, who: str = "a") -> Any:
    return world.client.get(URL, params={"lon": lon, "lat": lat}, headers=world.headers[who])


@pytest.mark.slow  # the model outlines 12 fields (~15-25 s); the save test below keeps a tap in make check
def test_tapping_inside_fields_returns_editable_outlines_that_match_the_truth(world: World) -> None:
    fields = _truth_fields(world)
    outlines = []
    for row in fields.head(12).itertuples():
        tap = row.geometry.representative_point()
        r = _tap(world, tap.x, tap.y)
        assert r.status_code in (200, 404), r.text
        if r.status_code == 404:
            assert "draw" in r.json()["detail"]  # tells the farmer what to do instead
            continue
        feature = r.json()
        assert feature["type"] == "Feature" and feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        props = feature["properties"]
        assert props["area_mu"] == pytest.approx(props["area_ha"] * 15, abs=0.02)  # both rounded
        assert props["crop"] in ("maize", "sorghum", "groundnut", "beans") and 0 < props["crop_probability"] <= 1
        assert "+plotcrop_ea@" in props["model_version"]  # the crop as scoring sees it: pooled with the plot model
        suggested = shape(feature["geometry"])
        assert suggested.is_valid and suggested.distance(Point(tap.x, tap.y)) < 3e-4  # ~30 m: the tapped field
        truth = row.geometry
        outlines.append(suggested.intersection(truth).area / suggested.union(truth).area)
    # the boundary head finds most fields; a found outline overlaps its truth field clearly (model card: F1)
    assert len(outlines) >= 6, f"only {len(outlines)} of 12 taps gave an outline"
    assert sorted(outlines)[len(outlines) // 2] > 0.4, outlines


def test_a_suggested_outline_can_be_saved_as_the_farmers_plot(world: World) -> None:
    fields = _truth_fields(world)
    for row in fields.iloc[12:40].itertuples():
        tap = row.geometry.representative_point()
        r = _tap(world, tap.x, tap.y, who="b")
        if r.status_code == 200:
            break
    else:
        pytest.fail("no tapped field gave an outline")
    feature = r.json()
    saved = world.client.post(
        "/api/v1/plots",
        json={"geometry": feature["geometry"], "declared_crop": feature["properties"]["crop"]},
        headers=world.headers["b"],
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["area_ha"] == pytest.approx(feature["properties"]["area_ha"], rel=0.05)
    world.client.delete(f"/api/v1/plots/{saved.json()['id']}", headers=world.headers["b"])


@pytest.mark.parametrize(
    ("lon", "lat", "status", "words"),
    [
        (0.0, 0.0, 422, "outside the area"),
        (200.0, 1.0, 422, "less than or equal"),
        ("nan", 1.0, 422, "lon"),
    ],
)
def test_bad_taps_get_a_clear_error(world: World, lon: object, lat: float, status: int, words: str) -> None:
    r = world.client.get(URL, params={"lon": lon, "lat": lat}, headers=world.headers["a"])
    assert r.status_code == status, r.text
    assert words in r.text


def test_swapped_coordinates_are_named(world: World) -> None:
    fields = _truth_fields(world)
    tap = fields.geometry.iloc[0].representative_point()
    r = _tap(world, tap.y, tap.x)  # lat, lon swapped: still inside -180..180 / -90..90
    assert r.status_code == 422 and "outside the area" in r.text


def test_outline_needs_a_signed_in_user(world: World) -> None:
    assert world.client.get(URL, params={"lon": 33.0, "lat": 2.0}).status_code == 401


@pytest.mark.slow  # 24 outline checks (~10 s)
def test_outline_check_flags_a_drawn_plot_much_larger_than_its_field(world: World) -> None:
    from shapely.geometry import mapping

    from agrisense.outline import check_outline

    fields = _truth_fields(world)
    utm_crs = gpd.read_parquet(world.settings.region_dir / "truth" / "fields.parquet").crs
    verdicts = []
    for row in fields.head(12).itertuples():
        exact = check_outline(mapping(row.geometry), settings=world.settings)
        if exact.detected is None:
            assert exact.verdict == "no field detected" and "no separate field" in exact.message
            continue
        verdicts.append(exact.verdict)
        # the farmer draws three times the field's area around it
        grown = gpd.GeoSeries([row.utm_geometry.buffer(0.75 * row.utm_geometry.area**0.5)], crs=utm_crs)
        large = check_outline(mapping(grown.to_crs(4326).iloc[0]), settings=world.settings)
        assert large.drawn_area_ha > 2 * exact.drawn_area_ha
        assert large.verdict in ("larger than the field", "differs", "no field detected"), large.message
    assert verdicts.count("matches") >= len(verdicts) // 2, verdicts
