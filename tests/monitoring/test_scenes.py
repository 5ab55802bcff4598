"""Per-scene plot evidence: statistics from small synthetic arrays, the stand rise and green-up date, and
``monitor_plot`` deciding emergence and late emergence from every clear scene."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.calendar import load_crop_table
from agrisense.config import Settings
from agrisense.credit.policy import load_policy
from agrisense.errors import InvalidInput, NotFound
from agrisense.ml.growth import load_expected_curves
from agrisense.monitoring.scene_reader import scenes_frame, scenes_from_frame
from agrisense.monitoring.scenes import PlotScenes, plot_scene_stats, stand_evidence
from agrisense.monitoring.season import (
    LATE_EMERGENCE,
    SCENE_LATE_DAYS,
    latest_normal_emergence,
    loan_from_record,
    monitor_plot,
)

REF = Settings().reference_dir


def _scenes(values: list[float], start: date = date(2026, 3, 5), every: int = 10) -> PlotScenes:
    days = tuple(start + timedelta(days=every * i) for i in range(len(values)))
    return PlotScenes(days, np.ones(len(values)), np.array(values, dtype=float))


def test_plot_scene_stats_weights_pixels_and_skips_cloud() -> None:
    days = [date(2026, 6, 1), date(2026, 6, 6), date(2026, 6, 11)]
    ndvi = np.array(
        [
            [[0.2, 0.8], [0.2, 0.2]],  # the 0.8 pixel is outside the plot (weight 0)
            [[np.nan, np.nan], [0.6, 0.6]],  # half of the plot under cloud
            [[np.nan, np.nan], [np.nan, np.nan]],  # all cloud
        ]
    )
    weights = np.array([[1.0, 0.0], [1.0, 1.0]])
    stats = plot_scene_stats(ndvi, weights, days)
    assert stats.days == tuple(days)
    assert stats.clear_share == pytest.approx([1.0, 2 / 3, 0.0])
    assert stats.ndvi_median[:2] == pytest.approx([0.2, 0.6]) and np.isnan(stats.ndvi_median[2])
    assert list(stats.usable(date(2026, 12, 1))) == [True, True, False]
    assert list(stats.usable(date(2026, 6, 5))) == [True, False, False]


def test_plot_scene_stats_rejects_mismatched_shapes() -> None:
    with pytest.raises(InvalidInput, match="matching weights"):
        plot_scene_stats(np.zeros((2, 3, 3)), np.ones((2, 2)), [date(2026, 6, 1), date(2026, 6, 2)])
    with pytest.raises(InvalidInput, match="strictly increasing"):
        PlotScenes((date(2026, 6, 2), date(2026, 6, 1)), np.ones(2), np.ones(2))


def test_stand_rise_ignores_one_bright_scene_and_dates_green_up() -> None:
    flat = stand_evidence(_scenes([0.2, 0.21, 0.2, 0.7, 0.22, 0.21, 0.2]), date(2026, 12, 1))
    assert flat.rise == pytest.approx(0.02)  # the single 0.7 scene (a mis-masked cloud edge) is not a stand
    grown = stand_evidence(_scenes([0.35, 0.2, 0.18, 0.2, 0.4, 0.6, 0.65, 0.6]), date(2026, 12, 1))
    assert grown.rise == pytest.approx(0.6 - 0.2)  # second-highest minus second-lowest
    # early-season greenness (0.35) fading before sowing is not the green-up: that is 0.4 -> 0.6 after the trough
    assert grown.green_date == date(2026, 3, 5) + timedelta(days=40)
    assert stand_evidence(_scenes([0.2, 0.6, 0.6]), date(2026, 12, 1)).rise is None  # too few scenes


def test_scene_frame_round_trip() -> None:
    scenes = {"P1": _scenes([0.2, 0.3]), "P2": _scenes([0.4, 0.5, 0.6])}
    back = scenes_from_frame(scenes_frame(scenes))
    assert back.keys() == scenes.keys()
    assert back["P2"].days == scenes["P2"].days
    assert back["P2"].ndvi_median == pytest.approx(scenes["P2"].ndvi_median)
    assert isinstance(scenes_frame(scenes), pd.DataFrame)


@pytest.fixture(scope="module")
def ctx():  # type: ignore[no-untyped-def]
    crops = load_crop_table(REF / "crops.csv")
    return crops, load_policy(Settings().policy_file), load_expected_curves(REF / "ndvi_curves.csv")


def _monitor(ctx, monthly, scenes, as_of):  # type: ignore[no-untyped-def]
    crops, policy, curves = ctx
    active = loan_from_record(
        {"loan_id": "L1", "plot_ids": ["P1"], "crop": "maize", "limit": 1000, "area_ha": 1.0}, crops, season=2026
    )
    return monitor_plot(
        active,
        monthly,
        season=2026,
        as_of=as_of,
        crops=crops,
        curves=curves,
        policy=policy,
        rain=None,
        run_id="r1",
        scenes=scenes,
    )


def test_scenes_overrule_a_flat_monthly_curve(ctx) -> None:  # type: ignore[no-untyped-def]
    # monthly composites flattened (cloud residue) say no emergence; the clear scenes show a normal green-up
    monthly = {m: 0.2 for m in range(3, 10)}
    as_of = date(2026, 9, 20)
    _, rows = _monitor(ctx, monthly, None, as_of)
    assert "NO_EMERGENCE" in {r["code"] for r in rows}
    values = [0.2] * 8 + [0.3, 0.45, 0.6, 0.65, 0.65, 0.6, 0.62, 0.6, 0.6, 0.6]
    result, rows = _monitor(ctx, monthly, _scenes(values), as_of)
    assert not {"NO_EMERGENCE", LATE_EMERGENCE} & {r["code"] for r in rows}
    # the emergence the rules read, which releases an emergence_confirmed tranche through the ledger
    assert result.emergence_detected == date(2026, 3, 5) + timedelta(days=90)


def test_scenes_flag_a_failed_stand_and_a_late_green_up(ctx) -> None:  # type: ignore[no-untyped-def]
    as_of = date(2026, 10, 20)
    failed = _scenes([0.2, 0.22, 0.21, 0.24, 0.25, 0.24, 0.26, 0.25, 0.24, 0.26, 0.25, 0.24, 0.25, 0.26, 0.25, 0.24])
    result, rows = _monitor(ctx, {m: 0.5 for m in range(3, 11)}, failed, as_of)
    assert "NO_EMERGENCE" in {r["code"] for r in rows} and result.status == "alert"
    assert result.emergence_detected is None
    late_day = latest_normal_emergence(ctx[0]["maize"], 2026) + timedelta(SCENE_LATE_DAYS + 20)
    days = tuple(date(2026, 3, 5) + timedelta(days=10 * i) for i in range(23))
    values = np.array([0.2 if d < late_day else 0.6 for d in days])
    _, rows = _monitor(ctx, {m: 0.5 for m in range(3, 11)}, PlotScenes(days, np.ones(23), values), as_of)
    assert LATE_EMERGENCE in {r["code"] for r in rows}


@pytest.mark.slow  # reads every scene of a tile: ~7 s on the shared machine
def test_read_plot_scenes_from_the_region_catalog(small_region) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd

    from agrisense.monitoring.scene_reader import read_plot_scenes

    plots = gpd.read_file(small_region / "plots.geojson").head(4)
    scenes = read_plot_scenes(str(small_region / "stac" / "catalog.json"), plots, date(2026, 3, 1), date(2026, 11, 30))
    assert set(scenes) == set(plots["plot_id"])
    for plot in scenes.values():
        assert len(plot.days) >= 10 and all(date(2026, 3, 1) <= d <= date(2026, 11, 30) for d in plot.days)
        assert ((plot.clear_share >= 0) & (plot.clear_share <= 1)).all()
        clear = plot.usable(date(2026, 12, 1))
        assert clear.sum() >= 4 and ((plot.ndvi_median[clear] > -1) & (plot.ndvi_median[clear] < 1)).all()
        assert stand_evidence(plot, date(2026, 10, 15)).rise is not None
    # a catalog that does not exist is a clear error, not an empty result
    with pytest.raises(NotFound, match="does not exist; build the sample region"):
        read_plot_scenes(str(small_region / "nope.json"), plots, date(2026, 3, 1), date(2026, 11, 30))
