"""One rule for outlines outside the imagery: the API's plot check and the CLI's reading of plot files agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import mapping

from agrisense.config import Settings
from agrisense.errors import InvalidGeometry
from agrisense.geo import OUTSIDE_IMAGERY, ImageryArea
from agrisense.lending.plots import check_plot
from agrisense.region import load_region


def _square(x: float, y: float, side: float = 0.001) -> dict[str, Any]:
    return dict(json.loads(json.dumps(mapping(shapely.box(x, y, x + side, y + side)))))


def _features(settings: Settings) -> list[dict[str, Any]]:
    region = load_region(settings.region_dir)
    minx, miny, maxx, maxy = region.bbox_lonlat
    inside = json.loads(gpd.read_file(settings.region_dir / "plots.geojson").head(1).to_json())["features"][0]
    inside["properties"] = {"plot_id": "inside", "declared_crop": "maize"}
    outside = {"type": "Feature", "properties": {"plot_id": "outside"}, "geometry": _square(maxx + 0.5, maxy + 0.5)}
    partly = {
        "type": "Feature",
        "properties": {"plot_id": "partly"},
        "geometry": _square(maxx - 0.0005, (miny + maxy) / 2),
    }
    return [inside, outside, partly]


def test_imagery_area_rule() -> None:
    area = ImageryArea("Test county", (30.0, 1.0, 30.1, 1.1))
    assert area.problem(shapely.box(30.01, 1.01, 30.02, 1.02)) is None
    outside = str(area.problem(shapely.box(31, 2, 31.1, 2.1)))
    assert "outside the area our satellite imagery covers (Test county" in outside
    assert str(area.problem(shapely.box(30.09, 1.05, 30.11, 1.06))).startswith("Part of this field lies outside")


def test_cli_reading_and_api_check_refuse_the_same_outlines(small_settings: Settings, tmp_path: Path) -> None:
    from agrisense import services

    features = _features(small_settings)
    path = tmp_path / "plots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    plots, errors = services.read_region_plots(path, small_settings)
    assert [p.plot_id for p in plots] == ["inside"]
    expected = [(1, "outside", OUTSIDE_IMAGERY), (2, "partly", OUTSIDE_IMAGERY)]
    assert [(e.index, e.plot_id, e.code) for e in errors] == expected

    region = load_region(small_settings.region_dir)
    check_plot(features[0]["geometry"], region=region)  # the API accepts the inside outline
    for feature, error in zip(features[1:], errors, strict=True):
        with pytest.raises(InvalidGeometry) as refused:
            check_plot(feature["geometry"], region=region)
        assert str(refused.value) == error.message  # the same message, word for word
    assert "outside the area our satellite imagery covers" in errors[0].message
    assert errors[1].message.startswith("Part of this field lies outside the area our satellite imagery covers")


def test_score_file_refers_outside_outlines_never_blames_clouds(small_settings: Settings, tmp_path: Path) -> None:
    from agrisense import services

    features = _features(small_settings)
    path = tmp_path / "plots.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    run = services.score_file(path, small_settings)
    assert [o.plot_id for o in run.offers] == ["inside", "outside", "partly"]
    assert run.offers[0].imagery is not None
    for offer in run.offers[1:]:
        assert offer.decision == "refer" and offer.credit_limit == 0 and offer.pd is None
        assert [r.code for r in offer.reasons] == [OUTSIDE_IMAGERY]
        assert "outside the area our satellite imagery covers" in offer.reasons[0].message_en
        assert "卫星影像覆盖" in offer.reasons[0].message_zh
