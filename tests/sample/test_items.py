"""STAC items follow the Earth Search v1 sentinel-2-l2a schema; assets are valid COGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

DATA_ASSETS = {"blue", "green", "red", "nir", "nir08", "rededge1", "rededge2", "rededge3", "swir16", "swir22"}
TEN_M = {"blue", "green", "red", "nir"}


def _items(region_dir: Path) -> list[tuple[Path, dict]]:
    paths = sorted((region_dir / "stac" / "sentinel-2-l2a").glob("*/*.json"))
    return [(p, json.loads(p.read_text())) for p in paths]


def test_item_schema(region_dir: Path) -> None:
    items = _items(region_dir)
    assert items
    for path, item in items:
        props = item["properties"]
        assert item["id"] == path.stem and item["collection"] == "sentinel-2-l2a"
        assert item["id"].startswith(("S2A_36N", "S2B_36N", "S2C_36N")) and item["id"].endswith("_0_L2A")
        assert set(item["assets"]) == DATA_ASSETS | {"scl"}
        assert props["platform"] in {"sentinel-2a", "sentinel-2b", "sentinel-2c"}
        assert props["constellation"] == "sentinel-2"
        assert props["proj:epsg"] == 32636 and "proj:code" not in props  # projection v1.0.0 (Earth Search v1)
        assert isinstance(props["earthsearch:boa_offset_applied"], bool)
        assert props["s2:processing_baseline"] in {"05.10", "05.11"}
        assert 0 <= props["eo:cloud_cover"] <= 100
        assert props["mgrs:utm_zone"] == 36 and props["mgrs:latitude_band"] == "N"
        assert any("projection" in e for e in item["stac_extensions"])
        assert any("raster" in e for e in item["stac_extensions"])
        for key in DATA_ASSETS:
            asset = item["assets"][key]
            rb = asset["raster:bands"][0]
            res = 10 if key in TEN_M else 20
            assert rb == {
                "nodata": 0,
                "data_type": "uint16",
                "bits_per_sample": 15,
                "spatial_resolution": res,
                "scale": 0.0001,
                "offset": -0.1,
            }
            assert asset["roles"] == ["data", "reflectance"] and asset["href"] == f"./{key}.tif"
            assert asset["proj:transform"][0] == res
        scl = item["assets"]["scl"]
        assert scl["raster:bands"][0] == {"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}


def test_assets_are_cogs_matching_the_item(region_dir: Path) -> None:
    path, item = _items(region_dir)[0]
    for key, asset in item["assets"].items():
        with rasterio.open(path.parent / asset["href"]) as src:
            assert src.crs.to_epsg() == 32636
            assert [src.height, src.width] == asset["proj:shape"]
            assert list(src.transform)[:6] == pytest.approx(asset["proj:transform"])
            assert src.nodata == 0
            assert src.dtypes[0] == ("uint8" if key == "scl" else "uint16")
            assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.compression is not None and src.compression.value == "DEFLATE"
            if src.width > 256:
                assert src.overviews(1) == [2]


def test_dn_follow_the_reflectance_rule(region_dir: Path) -> None:
    """Whatever the boa flag, the architecture's rule gives plausible surface reflectance."""
    flags = set()
    for path, item in _items(region_dir):
        applied = item["properties"]["earthsearch:boa_offset_applied"]
        flags.add(applied)
        offset = 0.0 if applied else -0.1
        with rasterio.open(path.parent / "red.tif") as src:
            dn = src.read(1).astype(float)
        with rasterio.open(path.parent / "scl.tif") as src:
            scl = np.kron(src.read(1), np.ones((2, 2), np.uint8))
        clear = np.isin(scl, [4, 5]) & (dn > 0)
        if clear.mean() < 0.2:
            continue
        red = dn[clear] * 0.0001 + offset
        assert 0.02 < np.median(red) < 0.2, item["id"]
        assert dn.max() <= 32767
    assert flags == {True, False}  # both encodings occur (about 20 % without the offset)


def test_scl_has_clouds_and_shadows_somewhere(region_dir: Path) -> None:
    seen: set[int] = set()
    for path, _ in _items(region_dir):
        with rasterio.open(path.parent / "scl.tif") as src:
            seen |= set(np.unique(src.read(1)).tolist())
    assert {4, 5}.issubset(seen)
    assert seen & {8, 9}
    assert seen <= {0, 3, 4, 5, 6, 7, 8, 9, 10}


def test_nodata_is_consistent_across_bands_and_scl(region_dir: Path) -> None:
    n_with_edge = 0
    for path, item in _items(region_dir):
        with rasterio.open(path.parent / "scl.tif") as src:
            scl_nodata = src.read(1) == 0
        with rasterio.open(path.parent / "swir16.tif") as src:
            np.testing.assert_array_equal(src.read(1) == 0, scl_nodata)
        with rasterio.open(path.parent / "red.tif") as src:
            np.testing.assert_array_equal((src.read(1) == 0)[::2, ::2], scl_nodata)
        n_with_edge += bool(scl_nodata.any())
        assert (item["properties"]["s2:nodata_pixel_percentage"] > 0) == bool(scl_nodata.any())
    assert n_with_edge >= 1  # a swath edge occurs in the season


def test_items_are_valid_against_the_extension_versions_they_declare(region_dir: Path) -> None:
    from tests.stac_validation import validate_offline

    items = _items(region_dir)
    for _, item in items:
        used = validate_offline(item)
        assert "https://stac-extensions.github.io/projection/v1.0.0/schema.json" in used
        assert set(item["stac_extensions"]) <= set(used)
    collection = json.loads((region_dir / "stac" / "sentinel-2-l2a" / "collection.json").read_text())
    validate_offline(collection)


def test_the_validator_rejects_a_field_the_declared_version_lacks(region_dir: Path) -> None:
    import pystac

    from tests.stac_validation import validate_offline

    item = _items(region_dir)[0][1]
    item["properties"]["proj:code"] = "EPSG:32636"  # defined from projection v1.2.0 on
    with pytest.raises(pystac.STACValidationError):
        validate_offline(item)
