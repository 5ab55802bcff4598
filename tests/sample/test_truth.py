"""Truth raster, fields and plots agree with each other."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio import features

CROPS = ["maize", "sorghum", "groundnut", "beans"]


def test_landcover_matches_field_polygons(region_dir: Path) -> None:
    fields = gpd.read_parquet(region_dir / "truth" / "fields.parquet")
    with rasterio.open(region_dir / "truth" / "landcover.tif") as src:
        lc = src.read(1)
        burned = features.rasterize(
            [(g, CROPS.index(c) + 1) for g, c in zip(fields.geometry, fields["crop"], strict=True)],
            out_shape=lc.shape,
            transform=src.transform,
            fill=0,
            dtype="uint8",
        )
        assert src.nodata == 255 and src.crs.to_epsg() == 32636
    assert (lc == burned).mean() > 0.999
    assert set(np.unique(lc).tolist()) <= {0, 1, 2, 3, 4}
    assert 0.15 < (lc > 0).mean() < 0.7
    for k in range(1, 5):
        assert (lc == k).mean() > 0.02, f"crop {k} barely present"


def test_plots_geojson(region_dir: Path) -> None:
    doc = json.loads((region_dir / "plots.geojson").read_text())
    plots = gpd.read_file(region_dir / "plots.geojson")
    assert plots.crs.to_epsg() == 4326
    assert len(doc["features"]) == len(plots) > 10
    for feat in doc["features"]:
        assert set(feat["properties"]) == {"plot_id", "farmer_id", "declared_crop"}
        assert feat["geometry"]["type"] == "Polygon"
        assert 5 <= len(feat["geometry"]["coordinates"][0]) <= 9  # 4-8 vertices, closed ring
    b = plots.total_bounds
    assert 32.9 < b[0] < b[2] < 33.1 and 2.2 < b[1] < b[3] < 2.4
    assert plots["plot_id"].is_unique and plots["plot_id"].str.fullmatch(r"P\d{5}").all()
    assert plots["farmer_id"].str.fullmatch(r"F\d{4}").all()
    assert plots.groupby("farmer_id").size().between(1, 3).all()
    assert set(plots["declared_crop"]) <= set(CROPS)


def test_plot_truth_is_consistent(region_dir: Path) -> None:
    plots = gpd.read_file(region_dir / "plots.geojson").set_index("plot_id")
    truth = pd.read_parquet(region_dir / "truth" / "plots_truth.parquet").set_index("plot_id")
    assert set(truth.index) == set(plots.index)
    good = truth[truth["kind"] == "good"]
    assert (good["overlap_with_field"] > 0.6).mean() > 0.9
    assert (plots.loc[good.index, "declared_crop"] == good["true_crop"]).mean() > 0.9
    wrong = truth[truth["kind"] == "wrong_crop"]
    assert (plots.loc[wrong.index, "declared_crop"] != wrong["true_crop"]).all()
    with_field = truth["true_crop"].notna()
    right = (plots.loc[truth.index[with_field], "declared_crop"] == truth.loc[with_field, "true_crop"]).mean()
    assert 0.7 < right < 0.97


def test_landcover_has_a_palette_and_class_names(region_dir: Path) -> None:
    from rio_cogeo.cogeo import cog_validate

    from agrisense.maps.palette import PALETTE

    path = region_dir / "truth" / "landcover.tif"
    with rasterio.open(path) as src:
        cmap = src.colormap(1)
        names = json.loads(src.tags(1)["class_names"])
        assert src.colorinterp[0] == rasterio.enums.ColorInterp.palette
        assert json.loads(src.tags()["classes"]) == ["non_crop", *CROPS]
    assert [names[str(i)] for i in range(5)] == ["non_crop", *CROPS] and names["255"] == "nodata"
    assert all(cmap[i] == PALETTE[name] for i, name in enumerate(["non_crop", *CROPS])) and cmap[255][3] == 0
    assert cog_validate(str(path), quiet=True)[0]
