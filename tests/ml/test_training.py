import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from shapely.geometry import box

from agrisense.errors import InvalidInput, NotFound
from agrisense.ml.dataset import EXCLUDED, IGNORE, TEST, TRAIN, VAL, RandomTiles, block_split, class_weights
from agrisense.ml.features import (
    DEFAULT_BANDS,
    DEFAULT_INDICES,
    channel_statistics,
    stack_features,
    standardise,
)
from agrisense.ml.registry import load_model, weights_digest
from agrisense.ml.training import FitConfig, fit_landcover, train_landcover
from agrisense.ml.training.region import cache_key, composite_cache_path, load_composites, write_composite_cache

from .conftest import CLASSES, synthetic_composites, synthetic_truth

MONTHS = (3, 4, 5, 6, 7, 8)
TOY_RUN = {"tile": 32, "tiles_per_epoch": 8, "months": MONTHS, "device": "cpu", "log": lambda _: None}  # a few seconds


def test_block_split_keeps_fields_whole_and_covers_every_class(small_scene):
    _, labels, field_ids = small_scene
    split = block_split(labels, 5, seed=3, field_ids=field_ids)
    assert split.blocks.shape == (4, 4)
    assert (split.blocks == VAL).sum() == 3 and (split.blocks == TEST).sum() == 3
    for fid in np.unique(field_ids[field_ids > 0]):
        sides = set(np.unique(split.split[field_ids == fid])) - {EXCLUDED}
        assert len(sides) <= 1, f"field {fid} is on {sides}"
    for which in (TRAIN, VAL, TEST):
        assert set(np.unique(labels[split.split == which])) == {0, 1, 2, 3, 4}
    assert (split.split[15:17, :] == EXCLUDED).all()  # block edge at row 16, margin 2
    np.testing.assert_array_equal(split.split, block_split(labels, 5, seed=3, field_ids=field_ids).split)
    with pytest.raises(InvalidInput, match="blocks"):
        block_split(labels[:3, :3], 5)


def test_class_weights_balance_the_mean():
    labels = np.array([0] * 90 + [1] * 10 + [IGNORE] * 5)
    w = class_weights(labels, 3)
    assert w[1] / w[0] == pytest.approx(3.0)  # (0.9 / 0.1) ** 0.5
    assert 0.9 * w[0] + 0.1 * w[1] == pytest.approx(1.0)
    assert w[2] == pytest.approx(w.max())


def test_random_tiles_are_reproducible_and_labelled(small_scene):
    _, labels, _ = small_scene
    features = np.random.default_rng(0).normal(size=(3, 64, 64)).astype(np.float32)
    only_left = np.where(np.arange(64)[None, :] < 32, labels, IGNORE).astype(np.int64)
    tiles = RandomTiles(features, only_left, tile=16, n_tiles=10, seed=5, min_labelled=0.9)
    x1, y1 = tiles[3]
    x2, y2 = tiles[3]
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (3, 16, 16) and y1.dtype == torch.int64
    assert (y1 != IGNORE).float().mean() >= 0.9
    tiles.set_epoch(1)
    assert not torch.equal(tiles[3][0], x1)
    with pytest.raises(InvalidInput, match="larger than"):
        RandomTiles(features, only_left, tile=128, n_tiles=1)


@pytest.mark.slow  # trains a U-Net
def test_fit_lowers_the_loss(small_scene):
    ds, labels, field_ids = small_scene
    features = stack_features(ds, bands=DEFAULT_BANDS, indices=DEFAULT_INDICES, months=MONTHS)
    split = block_split(labels, 5, field_ids=field_ids)
    mean, std = channel_statistics(features, split.split == TRAIN)
    config = FitConfig(
        tile=32,
        epochs=4,
        tiles_per_epoch=16,
        batch_size=8,
        val_tiles=4,
        lr=3e-3,
        decoder_channels=(32, 16, 16, 8),
        stem_channels=16,
    )
    result = fit_landcover(
        standardise(features, mean, std), labels, split, 5, config, torch.device("cpu"), log=lambda _: None
    )
    assert len(result.train_loss) == 4
    assert result.train_loss[-1] < 0.8 * result.train_loss[0]
    assert not result.module.training


def _write_region(root, labels, field_ids, ds):
    h, w = labels.shape
    transform = Affine(10, 0, 500000, 0, -10, 300000)
    meta = {
        "name": "toy",
        "seed": 1,
        "generator_version": "test",
        "crs": "EPSG:32636",
        "bbox_utm": [500000, 300000 - 10 * h, 500000 + 10 * w, 300000],
        "resolution": 10,
        "imagery_start": "2026-03-01",
        "imagery_end": "2026-08-31",
        "crops": list(CLASSES[1:]),
        "synthetic": True,
    }
    (root / "truth").mkdir(parents=True)
    (root / "region.json").write_text(json.dumps(meta))
    with rasterio.open(
        root / "truth" / "landcover.tif",
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="uint8",
        crs="EPSG:32636",
        transform=transform,
        nodata=255,
    ) as dst:
        dst.write(labels, 1)
    rows = []
    for fid in np.unique(field_ids[field_ids > 0]):
        r, c = np.nonzero(field_ids == fid)
        (x0, y0), (x1, y1) = transform @ (c.min(), r.max() + 1), transform @ (c.max() + 1, r.min())
        rows.append({"field_id": f"f{fid}", "crop": CLASSES[labels[r[0], c[0]]], "geometry": box(x0, y0, x1, y1)})
    gpd.GeoDataFrame(rows, crs="EPSG:32636").to_parquet(root / "truth" / "fields.parquet")
    write_composite_cache(ds, composite_cache_path(root), cache_key(root))
    return meta


@pytest.mark.slow  # trains a U-Net
def test_train_landcover_writes_a_loadable_bundle(tmp_path):
    labels, field_ids = synthetic_truth(64, 64, seed=1, n_fields=60)
    ds = synthetic_composites(labels, months=MONTHS, seed=1)
    region = tmp_path / "region"
    meta = _write_region(region, labels, field_ids, ds)
    cached = load_composites(region, meta, log=lambda _: None)
    np.testing.assert_array_equal(cached["red"].values, ds["red"].values)
    assert list(cached["period"].dt.month.values) == list(MONTHS)

    out = tmp_path / "models" / "landcover_unet"
    report = train_landcover(
        region,
        out,
        epochs=2,
        boundary_epochs=1,
        **TOY_RUN,
    )
    for name in ("model.pt", "bundle.json", "MODEL_CARD.md", "confusion_matrix.png"):
        assert (out / name).is_file()
    assert report.epochs_run == 2 and report.temperature > 0
    assert set(report.metrics["test"]) >= {"overall_accuracy", "macro_f1", "f1", "iou", "cropland_iou"}
    assert report.metrics["n_test_fields"] > 0
    assert "SYNTHETIC" in (out / "MODEL_CARD.md").read_text()
    model = load_model(tmp_path / "models", device="cpu")
    assert model.bundle.months == MONTHS and model.bundle.classes == CLASSES
    assert model.bundle.metrics["calibration"]["val_nll_after"] <= model.bundle.metrics["calibration"]["val_nll_before"]
    # the boundary head came with it, scored on whole test fields against cropland patches alone
    assert model.bundle.boundary_head and 0 < model.bundle.boundary_threshold < 1
    fields = model.bundle.metrics["fields"]
    assert fields["test"]["n_truth"] > 0 and 0 <= fields["test"]["f1"] <= 1 and "test_cropland_only" in fields
    assert (out / "MODEL_CARD.md").read_text().count("## Field boundaries") == 1
    # the version names the weights: the date and seed, then the land-cover network's digest (boundary head apart)
    state = torch.load(out / "model.pt", weights_only=True)
    assert model.bundle.version == report.model_version and model.bundle.version.endswith("." + weights_digest(state))


@pytest.mark.slow  # trains a U-Net
def test_boundary_head_leaves_the_land_cover_probabilities_unchanged(tmp_path):
    from agrisense.ml.features import stack_features
    from agrisense.ml.inference import predict_logits, predict_maps
    from agrisense.ml.training import train_boundary

    labels, field_ids = synthetic_truth(64, 64, seed=2, n_fields=60)
    ds = synthetic_composites(labels, months=MONTHS, seed=2)
    region = tmp_path / "region"
    _write_region(region, labels, field_ids, ds)
    out = tmp_path / "models" / "landcover_unet"
    train_landcover(
        region,
        out,
        epochs=1,
        boundary_epochs=0,
        **TOY_RUN,
    )
    before = load_model(tmp_path / "models", device="cpu")
    assert not before.bundle.boundary_head
    features = stack_features(ds, bands=before.bundle.bands, indices=before.bundle.indices, months=MONTHS)
    with pytest.raises(InvalidInput, match="no field-boundary head"):
        predict_logits(before, features, boundary=True)
    assert predict_maps(before, features).boundary is None

    for _ in range(2):  # retraining replaces the head and the card's section
        result = train_boundary(out, region, epochs=1, tile=32, device="cpu", log=lambda _: None)
    assert set(result) >= {"boundary_threshold", "test", "test_cropland_only", "training"}
    after = load_model(tmp_path / "models", device="cpu")
    assert after.bundle.boundary_head and after.bundle.version == before.bundle.version
    np.testing.assert_array_equal(predict_logits(after, features), predict_logits(before, features))
    maps = predict_maps(after, features)
    assert maps.boundary is not None and maps.boundary.shape == features.shape[1:]
    assert np.all((maps.boundary >= 0) & (maps.boundary <= 1))
    np.testing.assert_array_equal(maps.probabilities, predict_maps(before, features).probabilities)
    assert (out / "MODEL_CARD.md").read_text().count("## Field boundaries") == 1


def test_train_landcover_without_region(tmp_path):
    with pytest.raises(NotFound, match="sample build"):
        train_landcover(tmp_path, tmp_path / "out")


def test_cli_reports_a_missing_region(tmp_path):
    from typer.testing import CliRunner

    from agrisense.app.cli.main import app

    result = CliRunner().invoke(app, ["train", "cropland", "--region", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "agrisense sample build" in " ".join(result.output.split())
