import numpy as np
import pytest
import rasterio
from affine import Affine

from agrisense.errors import InvalidInput
from agrisense.maps import write_cog

T = Affine(10, 0, 500000, 0, -10, 300000)


def test_class_map_round_trips_with_palette_and_names(tmp_path):
    data = (np.arange(300 * 280) % 5).astype(np.uint8).reshape(300, 280)
    path = write_cog(
        tmp_path / "crop.tif",
        data,
        transform=T,
        crs="EPSG:32636",
        nodata=255,
        colormap={0: (200, 200, 200, 255), 1: (255, 200, 0, 255)},
        class_names={0: "non-crop", 1: "maize"},
    )
    with rasterio.open(path) as src:
        assert src.profile["driver"] == "GTiff"
        assert src.block_shapes[0] != (1, src.width) and src.overviews(1)  # a COG: tiled with overviews
        assert src.crs.to_epsg() == 32636 and src.transform == T and src.nodata == 255
        assert src.colormap(1)[1] == (255, 200, 0, 255)
        assert src.tags(1)["class_1"] == "maize"
        np.testing.assert_array_equal(src.read(1), data)
    assert not list(tmp_path.glob(".*tmp*"))


def test_float_bands_keep_nan_and_names(tmp_path):
    data = np.random.default_rng(0).random((2, 40, 50)).astype(np.float32)
    data[0, :3, :3] = np.nan
    path = write_cog(tmp_path / "p.tif", data, transform=T, crs="EPSG:32636", band_names=["p", "ndvi"])
    with rasterio.open(path) as src:
        assert src.descriptions == ("p", "ndvi")
        out = src.read()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(data))
    np.testing.assert_allclose(out[~np.isnan(out)], data[~np.isnan(data)])


def test_bad_shapes_are_refused(tmp_path):
    with pytest.raises(InvalidInput):
        write_cog(tmp_path / "x.tif", np.zeros((0, 4)), transform=T, crs="EPSG:32636")
    with pytest.raises(InvalidInput):
        write_cog(
            tmp_path / "x.tif", np.zeros((2, 4, 4), np.uint8), transform=T, crs="EPSG:32636", colormap={0: (0, 0, 0, 0)}
        )
    assert not (tmp_path / "x.tif").exists()
