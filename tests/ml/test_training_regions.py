"""Training on several regions: mixed tiles, pooled statistics, each region's own split, the bundle and card."""

import json

import numpy as np
import pytest
import torch

from agrisense.errors import InvalidInput
from agrisense.ml.dataset import IGNORE, TEST, TRAIN, RandomTiles, block_split, training_tiles
from agrisense.ml.features import DEFAULT_BANDS, DEFAULT_INDICES, channel_statistics
from agrisense.ml.registry import load_model
from agrisense.ml.training import train_landcover
from agrisense.ml.training.region import (
    cache_key,
    composite_cache_path,
    load_training_region,
    pooled_statistics,
    write_composite_cache,
)

from .conftest import synthetic_composites, synthetic_truth
from .test_training import MONTHS, TOY_RUN, _write_region


def _tiles(value: float, seed: int) -> RandomTiles:
    features = np.full((2, 32, 32), value, dtype=np.float32)
    return RandomTiles(features, np.zeros((32, 32), dtype=np.int64), tile=8, n_tiles=40, seed=seed)


def _sources(tiles) -> list[float]:
    return [float(tiles[i][0][0, 0, 0]) for i in range(len(tiles))]


def test_mixed_tiles_draw_from_every_region_by_weight_and_reproducibly():
    one = _tiles(0.0, seed=3)
    assert training_tiles([one], [1.0], seed=3) is one  # a single region trains exactly as before
    mixed = training_tiles([_tiles(0.0, 3), _tiles(1.0, 4)], [1.0, 1.0], seed=3)
    first = _sources(mixed)
    assert len(first) == 40 and 0 < sum(first) < 40  # tiles of both regions
    assert _sources(mixed) == first and torch.equal(mixed[5][0], mixed[5][0])
    mixed.set_epoch(1)
    assert _sources(mixed) != first
    heavy = training_tiles([_tiles(0.0, 3), _tiles(1.0, 4)], [9.0, 1.0], seed=3)
    assert sum(_sources(heavy)) < sum(first)
    assert sum(_sources(training_tiles([_tiles(0.0, 3), _tiles(1.0, 4)], [0.0, 1.0], seed=3))) == 40
    with pytest.raises(InvalidInput, match="weight"):
        training_tiles([_tiles(0.0, 3), _tiles(1.0, 4)], [1.0], seed=3)
    with pytest.raises(InvalidInput, match=">= 0"):
        training_tiles([_tiles(0.0, 3), _tiles(1.0, 4)], [0.0, 0.0], seed=3)


def _region(root, name: str, seed: int, crops: list[str] | None = None):
    labels, field_ids = synthetic_truth(64, 64, seed=seed, n_fields=60)
    composites = synthetic_composites(labels, months=MONTHS, seed=seed)
    folder = root / name
    meta = _write_region(folder, labels, field_ids, composites)
    meta.update(seed=seed, **({"crops": crops} if crops else {}))
    (folder / "region.json").write_text(json.dumps(meta))
    write_composite_cache(composites, composite_cache_path(folder), cache_key(folder))  # region.json changed
    return folder


def _load(folder):
    return load_training_region(
        folder, bands=DEFAULT_BANDS, indices=DEFAULT_INDICES, months=MONTHS, seed=0, log=lambda _: None
    )


def test_pooled_statistics_cover_the_training_blocks_of_all_regions(tmp_path):
    a, b = _load(_region(tmp_path, "a", 1)), _load(_region(tmp_path, "b", 2))
    assert (
        a.split.blocks.tolist() == block_split(a.truth.labels, 5, seed=0, field_ids=a.truth.field_ids).blocks.tolist()
    )
    for got, want in zip(
        pooled_statistics([a]), channel_statistics(a.features, mask=a.split.split == TRAIN), strict=True
    ):
        np.testing.assert_array_equal(got, want)  # one region: exactly the old statistics
    both = np.concatenate([a.features[:, a.split.split == TRAIN], b.features[:, b.split.split == TRAIN]], axis=1)
    mean, std = pooled_statistics([a, b])
    np.testing.assert_allclose(mean, np.nanmean(both, axis=1), rtol=1e-5)
    np.testing.assert_allclose(std, np.nanstd(both, axis=1), rtol=1e-5)
    assert not np.allclose(mean, pooled_statistics([a])[0])
    assert a.describe()["folder"] == "a" and a.describe()["region_seed"] == 1
    assert sum(a.labelled_pixels().values()) == int(((a.split.split >= 0) & (a.truth.labels != IGNORE)).sum())


def test_regions_with_other_crops_are_refused_before_training(tmp_path):
    from typer.testing import CliRunner

    from agrisense.app.cli.main import app

    main = _region(tmp_path, "main", 1)
    other = _region(tmp_path, "other", 2, crops=["maize", "sorghum", "groundnut", "cotton"])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["train", "cropland", "--region", str(main), "--region", str(other), "--out", str(out), "--device", "cpu"]
    )
    assert result.exit_code != 0
    text = " ".join(result.output.split())
    assert "'other'" in text and "same crops" in text
    assert not out.exists()  # nothing written


@pytest.mark.slow  # trains a U-Net on two toy regions
def test_train_landcover_on_several_regions_keeps_each_regions_test_blocks(tmp_path):
    main, more = _region(tmp_path, "main", 1), _region(tmp_path, "more", 2)
    out = tmp_path / "models" / "landcover_unet"
    report = train_landcover(
        main,
        out,
        more_regions=[more],
        epochs=1,
        boundary_epochs=1,
        **TOY_RUN,
    )
    bundle = load_model(tmp_path / "models", device="cpu").bundle
    trained_on = bundle.trained_on
    assert trained_on["region_seed"] == 1  # the first region is the main one
    assert [r["folder"] for r in trained_on["regions"]] == ["main", "more"]
    assert [r["region_seed"] for r in trained_on["regions"]] == [1, 2]
    loaded = [_load(main), _load(more)]
    assert [r["split_blocks"] for r in trained_on["regions"]] == [r.split.blocks.tolist() for r in loaded]
    mean, _ = pooled_statistics(loaded)
    np.testing.assert_allclose(bundle.channel_mean, mean, rtol=1e-6)
    (scores,) = report.metrics["regions"]
    assert scores["folder"] == "more" and scores["n_test_fields"] > 0 and 0 <= scores["field_accuracy"] <= 1
    in_test = loaded[1].split.split == TEST
    assert scores["n_test_fields"] == len(
        np.unique(loaded[1].truth.field_ids[in_test & (loaded[1].truth.field_ids > 0)])
    )
    card = (out / "MODEL_CARD.md").read_text()
    assert "More training regions" in card and "| `more` | toy | 2 | test |" in card
    assert bundle.boundary_head and card.count("## Field boundaries") == 1


def test_evaluate_knows_every_training_region():
    from agrisense.ml.region_eval import trained_on_region

    main = {"region": "county", "region_seed": 1, "generator_version": "1.0.0"}
    more = {"folder": "b", "region": "county", "region_seed": 12, "generator_version": "1.0.0"}
    trained_on = {**main, "regions": [{"folder": "a", **main}, more]}
    for seed, seen in ((1, True), (12, True), (7202611, False)):
        meta = {"name": "county", "seed": seed, "generator_version": "1.0.0"}
        assert trained_on_region(trained_on, meta) is seen  # only an unseen county is scored on all its pixels
    assert not trained_on_region(main, {"name": "county", "seed": 12, "generator_version": "1.0.0"})
