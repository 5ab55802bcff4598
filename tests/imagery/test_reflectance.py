from __future__ import annotations

import pytest

from agrisense.errors import InvalidInput
from agrisense.imagery.reflectance import parse_baseline, scale_offset

ES_BAND = {"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}


@pytest.mark.parametrize(
    ("props", "band", "expected"),
    [
        # flag true: offset already removed from the pixels, whatever raster:bands says
        ({"s2:processing_baseline": "05.11", "earthsearch:boa_offset_applied": True}, ES_BAND, (0.0001, 0.0)),
        ({"s2:processing_baseline": "04.00", "earthsearch:boa_offset_applied": True}, ES_BAND, (0.0001, 0.0)),
        # baseline >= 04.00, flag false or absent: raster:bands offset, default -0.1
        (
            {"s2:processing_baseline": "05.11", "earthsearch:boa_offset_applied": False},
            ES_BAND,
            (0.0001, -0.1),
        ),
        ({"s2:processing_baseline": "04.00"}, ES_BAND, (0.0001, -0.1)),
        ({"s2:processing_baseline": "04.00"}, None, (0.0001, -0.1)),
        ({"s2:processing_baseline": "05.11"}, {"scale": 0.0002, "offset": -0.2}, (0.0002, -0.2)),
        ({"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": "false"}, {}, (0.0001, -0.1)),
        # baseline < 04.00: no offset
        ({"s2:processing_baseline": "02.14"}, ES_BAND, (0.0001, 0.0)),
        ({"s2:processing_baseline": "03.01", "earthsearch:boa_offset_applied": False}, None, (0.0001, 0.0)),
        # baseline missing: trust an advertised offset, else none
        ({}, ES_BAND, (0.0001, -0.1)),
        ({}, None, (0.0001, 0.0)),
        ({"s2:processing_baseline": None, "earthsearch:boa_offset_applied": True}, ES_BAND, (0.0001, 0.0)),
    ],
)
def test_scale_offset_rule(props: dict, band: dict | None, expected: tuple[float, float]) -> None:
    assert scale_offset(props, band) == pytest.approx(expected)


def test_baseline_compares_numerically() -> None:
    assert parse_baseline("05.11") == (5, 11)
    assert parse_baseline("4.0") == (4, 0)
    assert parse_baseline("") is None
    assert parse_baseline("10.00") > parse_baseline("09.99")


@pytest.mark.parametrize("bad", [{"s2:processing_baseline": "N0511"}, {"earthsearch:boa_offset_applied": "yes"}])
def test_malformed_metadata_is_reported(bad: dict) -> None:
    with pytest.raises(InvalidInput):
        scale_offset({"s2:processing_baseline": "05.11", **bad}, ES_BAND)
