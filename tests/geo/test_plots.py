"""Plot validation: every bad outline gets a clear message, good ones get exact geodesic areas."""

from __future__ import annotations

import json

import pytest

from agrisense.errors import InvalidGeometry, InvalidInput, NotFound
from agrisense.geo import MU_PER_HA, make_plot, overlap_fractions, parse_plots, read_plots, utm_epsg


def square(lon: float, lat: float, d: float = 0.001, **props: object) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_geodesic_area_of_a_degree_square_near_equator() -> None:
    plot = make_plot(square(33.0, 2.3, plot_id="a"))
    # 0.001 deg: 111.2 km/deg of longitude x cos(2.3 deg), 110.6 km/deg of latitude near the equator
    assert plot.area_ha == pytest.approx(1.2300, rel=2e-3)
    assert plot.area_mu == pytest.approx(plot.area_ha * MU_PER_HA)
    assert plot.utm_epsg == 32636


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(33.0, 2.3, 32636), (116.4, 39.9, 32650), (-58.4, -34.6, 32721), (180.0, 0.0, 32660)],
)
def test_utm_zone(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def bad(geometry: dict) -> str:
    with pytest.raises(InvalidGeometry) as info:
        make_plot({"type": "Feature", "properties": {}, "geometry": geometry})
    return str(info.value)


def test_unclosed_ring_is_rejected_with_a_fix() -> None:
    msg = bad({"type": "Polygon", "coordinates": [[[33, 2.3], [33.001, 2.3], [33.001, 2.301], [33, 2.301]]]})
    assert "not closed" in msg


def test_self_intersecting_bowtie() -> None:
    ring = [[33, 2.3], [33.001, 2.301], [33.001, 2.3], [33, 2.301], [33, 2.3]]
    assert "crosses itself" in bad({"type": "Polygon", "coordinates": [ring]})


def test_swapped_lat_lon_out_of_range_is_named() -> None:
    ring = [[2.3, 116.4], [2.301, 116.4], [2.301, 116.401], [2.3, 116.401], [2.3, 116.4]]
    assert "swapped" in bad({"type": "Polygon", "coordinates": [ring]})


def test_swapped_lat_lon_in_range_is_caught_with_region_bbox() -> None:
    feature = square(2.3, 33.0)
    with pytest.raises(InvalidGeometry, match="swapped"):
        make_plot(feature, expected_bbox=(32.9, 2.2, 33.1, 2.4))


def test_out_of_range_and_wrong_types() -> None:
    assert "longitude" in bad({"type": "Polygon", "coordinates": [[[200, 2], [201, 2], [201, 3], [200, 2]]]})
    assert "Polygon" in bad({"type": "Point", "coordinates": [33, 2]})
    assert "pair of numbers" in bad({"type": "Polygon", "coordinates": [[["a", 2], [1, 2], [1, 3], ["a", 2]]]})
    for value in (float("nan"), float("inf"), True):  # NaN/inf pass range checks and bool is an int: all refused
        ring = [[value, 2.0], [1.0, 2.0], [1.0, 3.0], [value, 2.0]]
        assert "pair of numbers" in bad({"type": "Polygon", "coordinates": [ring]})


def test_huge_and_tiny_and_dense_polygons() -> None:
    with pytest.raises(InvalidGeometry, match="larger than"):
        make_plot(square(33.0, 2.3, d=0.5))
    with pytest.raises(InvalidGeometry, match="smaller than"):
        make_plot(square(33.0, 2.3, d=0.00005))
    import math

    n = 100_000
    ring = [[33 + 0.001 * math.cos(2 * math.pi * k / n), 2.3 + 0.001 * math.sin(2 * math.pi * k / n)] for k in range(n)]
    ring.append(ring[0])
    assert "corners" in bad({"type": "Polygon", "coordinates": [ring]})


def test_one_bad_feature_loses_nothing_else(tmp_path) -> None:
    good = square(33.0, 2.3, plot_id="good")
    broken = {
        "type": "Feature",
        "properties": {"plot_id": "broken"},
        "geometry": {"type": "Point", "coordinates": [1, 2]},
    }
    dup = square(33.01, 2.3, plot_id="good")
    path = tmp_path / "plots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [good, broken, dup]}))
    plots, errors = read_plots(path)
    assert [p.plot_id for p in plots] == ["good"]
    assert [(e.plot_id, e.code) for e in errors] == [
        ("broken", "INVALID_GEOMETRY"),
        ("good", "INVALID_INPUT"),
    ]


def test_unreadable_files() -> None:
    with pytest.raises(NotFound):
        read_plots(__import__("pathlib").Path("/nonexistent/plots.geojson"))
    with pytest.raises(InvalidInput):
        parse_plots({"type": "Topology"})


def test_overlap_between_farmers_only() -> None:
    a = make_plot(square(33.0, 2.3, plot_id="a", farmer_id="F1"))
    b = make_plot(square(33.0005, 2.3, plot_id="b", farmer_id="F2"))  # half of a
    c = make_plot(square(33.0, 2.3005, plot_id="c", farmer_id="F1"))  # same farmer as a
    frac = overlap_fractions([a, b, c])
    assert frac["b"] == pytest.approx(0.5, abs=0.01)
    # a overlaps b (F2) by half; its overlap with c (same farmer) does not count
    assert frac["a"] == pytest.approx(0.5, abs=0.01)
    assert frac["c"] == pytest.approx(0.25, abs=0.01)
