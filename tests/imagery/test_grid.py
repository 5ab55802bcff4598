from __future__ import annotations

import pytest

from agrisense.errors import InvalidInput
from agrisense.imagery.grid import region_geobox, utm_epsg


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (33.0, 0.9, 32636),
        (32.99, -0.5, 32736),
        (-180.0, 10.0, 32601),
        (180.0, 10.0, 32660),
        (5.3, 50.6, 32631),
    ],
)
def test_utm_epsg(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def test_region_geobox_is_snapped_to_the_s2_grid() -> None:
    gbox = region_geobox((33.001, 0.901, 33.019, 0.919))
    assert gbox.crs.epsg == 32636
    a = gbox.affine
    assert (a.a, a.e) == (10.0, -10.0)
    assert a.c % 10 == 0 and a.f % 10 == 0
    assert 195 <= gbox.shape.x <= 205 and 195 <= gbox.shape.y <= 205  # ~2 km
    assert region_geobox((33.001, 0.901, 33.019, 0.919), resolution=20).affine.c % 20 == 0


@pytest.mark.parametrize("bbox", [(33.0, 1.0, 32.0, 2.0), (0.9, 33.0, 0.91, 33.01, 1.0), (200.0, 0.0, 201.0, 1.0)])
def test_bad_bbox_is_rejected(bbox: tuple) -> None:
    with pytest.raises(InvalidInput):
        region_geobox(bbox)


def test_geographic_crs_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="projected"):
        region_geobox((33.0, 0.9, 33.01, 0.91), crs="EPSG:4326")
