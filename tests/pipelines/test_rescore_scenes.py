"""The county re-score keeps its financed plots' every clear scene from the tile tasks: the same scenes and values
as ``read_plot_scenes`` over the catalog, taken from the composites' own pass over the scenes (each scene loaded
once), and a re-run with nothing new reads no imagery for the monitoring."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import agrisense.monitoring.scene_reader as scene_reader
import agrisense.pipelines.rescore as rescore_module
from agrisense.config import Settings
from agrisense.geo import read_plots
from agrisense.monitoring.scene_reader import read_plot_scenes
from agrisense.pipelines.rescore import (
    plan_tasks,
    read_tile_scenes,
    rescore_config,
    season_window,
    static_inputs_fingerprint,
    with_season,
)
from agrisense.pipelines.rescore_run import rescore_region
from agrisense.region import load_region
from tests.pipelines.test_rescore_database import _offers

AS_OF = date(2026, 9, 15)


@pytest.mark.slow  # a cold in-season re-score of the small region and a second read of its financed plots' scenes
def test_tile_scenes_equal_read_plot_scenes_and_a_rerun_reads_no_imagery(
    small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(region_dir=small_region, cache_dir=tmp_path / "cache", device="cpu")
    offers = [o for o in _offers(small_region, 6, season=2026) if o["decision"] == "approve" and o["credit_limit"]]
    (tmp_path / "offers.json").write_text(json.dumps(offers))
    out = tmp_path / "out"
    with monkeypatch.context() as once:  # the tile tasks load each scene once: the composites keep their NDVI
        once.setattr(scene_reader, "load_scenes", lambda *a, **k: pytest.fail("scenes loaded a second time"))
        run = rescore_region(settings, out, as_of=AS_OF, n_workers=0, active_loans_file=tmp_path / "offers.json")

    region = with_season(load_region(small_region), 2026)
    cfg = rescore_config(settings, region, *season_window(region, 2026, AS_OF), out)
    financed = {str(o["plot_id"]) for o in offers}
    tasks = plan_tasks(read_plots(region.plots)[0], cfg, static_fingerprint="s", financed=financed)
    assert run.loans == len(offers) > 0 and sum(len(t.financed) for t in tasks) == len(financed)
    kept = read_tile_scenes(cfg, tasks)

    frame = gpd.read_parquet(out / "plots.parquet")
    read = read_plot_scenes(settings.catalog_source, frame[frame["plot_id"].isin(financed)], cfg.start, AS_OF)
    assert kept.keys() == read.keys() == financed
    for pid, scenes in read.items():
        assert kept[pid].days == scenes.days and len(scenes.days) >= 10
        np.testing.assert_array_equal(kept[pid].clear_share, scenes.clear_share)
        np.testing.assert_array_equal(kept[pid].ndvi_median, scenes.ndvi_median)  # NaN where none clear, both

    warnings = pd.read_parquet(out / "warnings.parquet")
    monkeypatch.setattr(rescore_module, "rescore_tile", lambda *a, **k: pytest.fail("a tile was scored again"))
    monkeypatch.setattr(scene_reader, "load_scenes", lambda *a, **k: pytest.fail("imagery was read again"))
    again = rescore_region(settings, out, as_of=AS_OF, n_workers=0, active_loans_file=tmp_path / "offers.json")
    assert again.tiles_skipped == again.n_tiles and again.warnings == run.warnings
    pd.testing.assert_frame_equal(pd.read_parquet(out / "warnings.parquet"), warnings)


def test_a_loan_changes_the_fingerprint_of_its_own_tile_only(small_region: Path, tmp_path: Path) -> None:
    settings = Settings(region_dir=small_region, cache_dir=tmp_path / "cache")
    region = with_season(load_region(small_region), 2026)
    cfg = rescore_config(settings, region, region.imagery_start, region.imagery_end, tmp_path)
    plots = read_plots(region.plots)[0]
    static = static_inputs_fingerprint(cfg)
    plain = {t.job.tile_id: t.fingerprint for t in plan_tasks(plots, cfg, static_fingerprint=static)}
    loan = plan_tasks(plots, cfg, static_fingerprint=static, financed=[plots[0].plot_id, "not-a-plot"])
    changed = {t.job.tile_id for t in loan if t.fingerprint != plain[t.job.tile_id]}
    assert changed == {t.job.tile_id for t in loan if t.financed} and len(changed) == 1
    assert next(t for t in loan if t.financed).financed == {plots[0].plot_id}
