"""County re-score: outputs, resume after a failure, incremental re-runs, worker-independent results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

import agrisense.pipelines.rescore as rescore_module
from agrisense.config import Settings
from agrisense.ml.plot_crop_model import load_plot_crop_model
from agrisense.pipelines.rescore import stored_fingerprint, tile_items
from agrisense.pipelines.rescore_run import rescore_region
from agrisense.scoring.evidence import evidence_model_version


@pytest.fixture(scope="module")
def settings(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One composites + probabilities cache for the module: only the first run reads imagery and runs the model."""
    return Settings(region_dir=small_region, cache_dir=tmp_path_factory.mktemp("rescore_cache"), device="cpu")


@pytest.fixture(scope="module")
def reference(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    rescore_region(settings, out, n_workers=0)
    return out


def _frame(out: Path) -> pd.DataFrame:
    return gpd.read_parquet(out / "plots.parquet").to_wkb()


def test_outputs(reference: Path, small_region: Path) -> None:
    plots = json.loads((small_region / "plots.geojson").read_text())["features"]
    frame = gpd.read_parquet(reference / "plots.parquet")
    assert sorted(frame["plot_id"]) == sorted(str(f["properties"]["plot_id"]) for f in plots)
    assert frame.crs.to_epsg() == 4326 and frame["decision"].isin(["approve", "refer", "decline"]).all()
    offer = json.loads(frame["offer"].iloc[0])
    assert offer["plot_id"] == frame["plot_id"].iloc[0] and "reasons" in offer and "imagery" in offer
    with rasterio.open(reference / "maps" / "crop_class.tif") as ds:
        assert ds.driver == "GTiff" and ds.overviews(1) is not None and ds.colormap(1)[1][3] == 255
        assert ds.crs.to_epsg() == 32636 and ds.res == (10.0, 10.0)
    for layer in ("probability", "ndvi", "cropland", "field_boundary"):
        with rasterio.open(reference / "maps" / f"{layer}.tif") as ds:
            assert ds.dtypes[0] == "float32"
    # the committed model has a field-boundary head: fields are delineated over the whole region
    fields = gpd.read_parquet(reference / "fields.parquet")
    truth = gpd.read_parquet(small_region / "truth" / "fields.parquet")
    assert fields.crs == truth.crs and len(fields) > 0.3 * len(truth)
    assert fields["field_id"].is_unique and (fields["area_mu"] - 15 * fields["area_ha"]).abs().max() < 1e-9
    assert fields["cropland"].between(0.5, 1.0).all()  # fields are cut from cropland only
    with rasterio.open(reference / "maps" / "fields.tif") as ds:
        ids = ds.read(1)
    assert set(np.unique(ids[ids > 0])) == set(fields["field_id"])
    run = json.loads((reference / "run.json").read_text())
    assert run["tiles_run"] == run["tiles"] >= 2 and run["pixels_run"] > 0
    report = (reference / "report.md").read_text()
    assert "plots scored" in report and "Exposure by crop" in report and "img/crop_class.png" in report
    manifest = json.loads((reference / "manifest.json").read_text())
    assert all(t["done"] for t in manifest["tiles"].values())
    assert pd.read_parquet(reference / "warnings.parquet").empty


def test_rerun_with_nothing_new_does_no_imagery_work(
    reference: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _frame(reference)
    calls = []
    monkeypatch.setattr(rescore_module, "rescore_tile", lambda *a, **k: calls.append(a) or pytest.fail("ran"))
    run = rescore_region(settings, reference, n_workers=0)
    assert calls == [] and run.tiles_skipped == run.n_tiles
    pd.testing.assert_frame_equal(_frame(reference), before)


def test_a_failed_run_resumes_with_the_missing_tiles_only(
    reference: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rescore_module.rescore_tile
    ran: list[str] = []

    def dies_after_one(task, cfg):  # type: ignore[no-untyped-def]
        if ran:
            raise RuntimeError("worker lost")
        ran.append(task.job.tile_id)
        return real(task, cfg)

    monkeypatch.setattr(rescore_module, "rescore_tile", dies_after_one)
    with pytest.raises(RuntimeError):
        rescore_region(settings, tmp_path, n_workers=0)
    assert len(list((tmp_path / "tiles").glob("*.parquet"))) == 1 and not (tmp_path / "plots.parquet").exists()

    resumed: list[str] = []
    monkeypatch.setattr(
        rescore_module, "rescore_tile", lambda task, cfg: resumed.append(task.job.tile_id) or real(task, cfg)
    )
    run = rescore_region(settings, tmp_path, n_workers=0)
    assert ran[0] not in resumed and len(resumed) == run.n_tiles - 1
    pd.testing.assert_frame_equal(_frame(tmp_path), _frame(reference))  # exactly the uninterrupted result
    assert (
        json.loads((tmp_path / "run.json").read_text())["run_id"]
        == json.loads((reference / "run.json").read_text())["run_id"]
    )


def test_changed_plot_reruns_its_tile_only(
    reference: Path, settings: Settings, small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = tmp_path / "region"
    shutil.copytree(small_region, region)
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    # the same catalog address (only the plots changed)
    changed = settings.model_copy(update={"region_dir": region, "catalog": settings.catalog_source})
    collection = json.loads((region / "plots.geojson").read_text())
    feature = collection["features"][0]
    feature["properties"]["declared_crop"] = (
        "beans" if feature["properties"].get("declared_crop") != "beans" else "maize"
    )
    (region / "plots.geojson").write_text(json.dumps(collection))
    real, ran = rescore_module.rescore_tile, []
    monkeypatch.setattr(rescore_module, "rescore_tile", lambda task, cfg: ran.append(task.plots) or real(task, cfg))
    rescore_region(changed, out, n_workers=0)
    assert len(ran) == 1 and str(feature["properties"]["plot_id"]) in {p.plot_id for p in ran[0]}
    frame = _frame(out).set_index("plot_id")
    assert frame.loc[str(feature["properties"]["plot_id"]), "declared_crop"] == feature["properties"]["declared_crop"]


def test_tile_fingerprints_see_a_reprocessed_scene(settings: Settings, small_region: Path, tmp_path: Path) -> None:
    from agrisense.geo import read_plots
    from agrisense.pipelines.rescore import plan_tasks, rescore_config, static_inputs_fingerprint, with_season
    from agrisense.region import load_region

    region = load_region(small_region)
    plots, _ = read_plots(region.plots)
    cfg = rescore_config(
        settings, with_season(region, region.season), region.imagery_start, region.imagery_end, tmp_path
    )
    static = static_inputs_fingerprint(cfg)
    before = {t.job.tile_id: t.fingerprint for t in plan_tasks(plots, cfg, static_fingerprint=static)}
    copy = tmp_path / "region"
    shutil.copytree(small_region, copy)
    item_path = next((copy / "stac").rglob("S2*_L2A.json"))
    item = json.loads(item_path.read_text())
    item["properties"]["updated"] = "2027-01-01T00:00:00Z"
    item_path.write_text(json.dumps(item))
    moved = rescore_config(settings.model_copy(update={"region_dir": copy}), cfg.region, cfg.start, cfg.end, tmp_path)
    items_before = tile_items(
        cfg.inputs.catalog, [plan_tasks(plots, cfg, static_fingerprint=static)[0].job], cfg.start, cfg.end
    )
    after = {t.job.tile_id: t.fingerprint for t in plan_tasks(plots, moved, static_fingerprint=static)}
    touched = {tid for tid in before if any(i == item["id"] for i, _ in items_before.get(tid, []))}
    assert touched and all(before[t] != after[t] for t in touched)


@pytest.mark.slow  # starts a Dask LocalCluster (worker processes)
def test_dask_cluster_gives_the_same_result(reference: Path, settings: Settings, tmp_path: Path) -> None:
    run = rescore_region(settings, tmp_path, n_workers=2)
    assert run.dashboard and run.dashboard.startswith("http")
    pd.testing.assert_frame_equal(_frame(tmp_path), _frame(reference))
    assert stored_fingerprint(next((tmp_path / "tiles").glob("*.parquet")))


def test_command_rejects_a_bad_date(small_region: Path, tmp_path: Path) -> None:
    import typer

    from agrisense.app.cli.rescore import rescore_command

    app = typer.Typer()
    app.command()(rescore_command)
    result = CliRunner().invoke(app, ["--region", str(small_region), "--out", str(tmp_path), "--as-of", "July"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
    early = CliRunner().invoke(
        app, ["--region", str(small_region), "--out", str(tmp_path), "--as-of", "2026-01-05", "--workers", "0"]
    )
    assert early.exit_code == 2 and "before the season" in early.output


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def test_maps_are_nodata_wherever_there_is_no_imagery(reference: Path) -> None:
    maps = reference / "maps"
    ndvi = _read(maps / "ndvi.tif")
    crop_class = _read(maps / "crop_class.tif")
    no_imagery = np.isnan(ndvi)
    assert no_imagery.any() and (~no_imagery).any()  # the small region's tiles reach past its imagery
    assert (crop_class[no_imagery] == 255).all() and (crop_class[~no_imagery] != 255).all()
    for layer in ("probability", "cropland", "field_boundary"):
        values = _read(maps / f"{layer}.tif")
        assert np.isnan(values[no_imagery]).all() and np.isfinite(values[~no_imagery]).all(), layer
    assert (_read(maps / "fields.tif")[no_imagery] == 0).all()  # no field reaches outside the imagery
    assert np.nanmin(ndvi) >= -1 and np.nanmax(ndvi) <= 1


def test_every_cog_is_valid_and_carries_the_run_metadata(reference: Path) -> None:
    from rio_cogeo.cogeo import cog_validate

    run = json.loads((reference / "run.json").read_text())
    cogs = sorted((reference / "maps").rglob("*.tif"))
    assert len(cogs) >= 6 + 5 * run["tiles"]  # 6 region layers, 5 per tile
    for path in cogs:
        valid, errors, _ = cog_validate(str(path), quiet=True)
        assert valid, (path, errors)
    for path in sorted((reference / "maps").glob("*.tif")):
        with rasterio.open(path) as ds:
            tags = ds.tags()
            assert tags["run_id"] == run["run_id"] and tags["season"] == str(run["season"])
            assert tags["model_version"] and tags["policy_version"] and tags["created"].endswith("+00:00")
            assert ds.descriptions[0], path  # a band description
    with rasterio.open(reference / "maps" / "crop_class.tif") as ds:
        classes = json.loads(ds.tags(1)["class_names"])
        assert classes["255"] == "no prediction" and "non_crop" in classes.values()
        assert ds.tags(1)["class_0"] == classes["0"] and ds.colormap(1)[255][3] == 0
        assert ds.descriptions[0] == "crop_class"


def test_tile_cogs_carry_the_run_tags(reference: Path, settings: Settings) -> None:
    from datetime import UTC, datetime

    from agrisense.credit.policy import load_policy
    from agrisense.ml.registry import read_bundle
    from agrisense.scoring import model_fingerprint

    run = json.loads((reference / "run.json").read_text())
    bundle = read_bundle(settings.models_dir / "landcover_unet")
    # the small East-African region pools its crops with the plot crop model, and the evidence names both
    evidence_version = evidence_model_version(bundle.version, load_plot_crop_model(settings.models_dir, "plotcrop_ea"))
    policy = load_policy(settings.policy_file)
    tiles = sorted(p for p in (reference / "maps" / "tiles").iterdir() if p.is_dir())
    assert len(tiles) == run["tiles"]
    for folder in tiles:
        for path in sorted(folder.glob("*.tif")):
            with rasterio.open(path) as ds:
                tags = ds.tags()
            assert tags["run_id"] == run["run_id"] and tags["policy_version"] == policy.version, path
            assert tags["model_fingerprint"] == model_fingerprint(bundle.to_json())
            assert tags["model_version"] == evidence_version and tags["tile_id"] == folder.name
            assert tags["layer"] == path.stem
            created = datetime.fromisoformat(tags["created"])
            assert created.tzinfo == UTC and (datetime.now(UTC) - created).total_seconds() < 3600


def test_plots_parquet_schema(reference: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agrisense.credit.offer import Offer
    from agrisense.pipelines.rescore_run import PLOTS_SCHEMA

    schema = pq.read_schema(reference / "plots.parquet")
    assert schema.remove_metadata().equals(PLOTS_SCHEMA.remove_metadata())
    assert b"geo" in (schema.metadata or {})
    assert "interest_rate" not in schema.names and "reason_codes" not in schema.names
    for name in ("annual_rate", "apr", "pd", "lgd", "expected_loss", "evidence_season", "finance_season",
                 "policy_version", "model_versions"):  # fmt: skip
        assert name in Offer.model_fields and name in schema.names, name
    assert schema.field("credit_limit").type == pa.decimal128(15, 2)
    reason = schema.field("reasons").type.value_type
    assert [f.name for f in reason] == ["code", "kind", "message_en", "message_zh"]
    table = pq.read_table(reference / "plots.parquet")
    assert table.column("as_of").null_count == table.num_rows  # a whole-season run
    frame = gpd.read_parquet(reference / "plots.parquet")
    for row in frame.itertuples():
        offer = Offer.model_validate(json.loads(row.offer) | {"plot_id": row.plot_id})
        assert [r["code"] for r in row.reasons] == [r.code for r in offer.reasons]
        assert row.evidence_season == offer.evidence_season and row.policy_version == offer.policy_version
        assert row.credit_limit == offer.credit_limit and row.expected_loss == offer.expected_loss
        assert row.annual_rate == offer.annual_rate and dict(row.model_versions) == offer.model_versions


def test_the_run_is_a_stac_collection(reference: Path) -> None:
    import pystac

    from tests.stac_validation import validate_offline

    collection = pystac.Collection.from_file(str(reference / "stac" / "collection.json"))
    items = {item.id.rsplit("-", 1)[-1]: item for item in collection.get_items()}
    assert {"maps", "plots", "fields"} <= set(items)
    run = json.loads((reference / "run.json").read_text())
    assert all(item.properties["agrisense:run_id"] == run["run_id"] for item in items.values())
    assert set(items["maps"].assets) == {"crop_class", "probability", "ndvi", "cropland", "field_boundary", "fields"}
    for item in items.values():
        validate_offline(item.to_dict())
        for asset in item.assets.values():
            assert Path(asset.get_absolute_href() or "").is_file(), asset.href
    raw = json.loads(next((reference / "stac").glob("*-maps/*-maps.json")).read_text())
    assert all(not Path(a["href"]).is_absolute() for a in raw["assets"].values())  # a movable folder
    assert raw["properties"]["proj:code"] == "EPSG:32636"
    validate_offline(collection.to_dict())


def test_imagery_mask_needs_a_clear_observation_and_finite_bands() -> None:
    import xarray as xr

    from agrisense.scoring.tile import imagery_mask

    red = np.full((2, 1, 4), 0.05, np.float32)
    red[:, 0, 0] = np.nan  # never observed
    red[0, 0, 1] = np.nan  # observed in the second period only
    nir = np.full_like(red, 0.3)
    nir[1, 0, 2] = np.nan
    red[0, 0, 2] = np.nan  # no period with every band finite
    n_obs = np.ones((2, 1, 4), np.int16)
    n_obs[:, 0, 3] = 0  # finite values but no clear observation (gap-filled)
    comp = xr.Dataset({b: (("period", "y", "x"), v) for b, v in {"red": red, "nir": nir}.items()})
    comp["n_obs"] = (("period", "y", "x"), n_obs)
    assert imagery_mask(comp).tolist() == [[False, True, False, False]]
