from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from odc.geo.geobox import GeoBox

from .s2_fixture import SIZE10, X0, Y0, SceneSpec, write_catalog

SCENES = [
    # baseline 05.11, offset still in the pixels (DN + 1000); a cloud in the top-left corner and a shadow
    SceneSpec(datetime(2026, 3, 5, 8), cloud=(0, 8, 0, 8), shadow=(10, 12, 0, 4)),
    # Earth Search already removed the offset: plain DN although raster:bands says -0.1
    SceneSpec(datetime(2026, 3, 20, 8), boa_offset_applied=True),
    # entirely cloudy: must be dropped, leaving April empty
    SceneSpec(datetime(2026, 4, 10, 8), cloud=(0, 32, 0, 32)),
    # baseline 04.00 without the Earth Search flag: DN + 1000; one nodata 20 m pixel in the corner
    SceneSpec(datetime(2026, 5, 15, 8), baseline="04.00", boa_offset_applied=None, nodata=(31, 32, 31, 32)),
]


@pytest.fixture(scope="session")
def s2_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Static STAC catalog of the four scenes above."""
    return write_catalog(tmp_path_factory.mktemp("stac"), SCENES)


@pytest.fixture(scope="session")
def fixture_geobox() -> GeoBox:
    """The 64 x 64 10 m grid the fixture scenes cover."""
    return GeoBox.from_bbox((X0, Y0 - SIZE10 * 10, X0 + SIZE10 * 10, Y0), "EPSG:32636", resolution=10)
