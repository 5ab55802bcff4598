"""Expected NDVI curves of the China market's crops from the published stage curves (ndvi_curves_china.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrisense.errors import InvalidInput
from agrisense.market import market_named
from agrisense.ml.growth import load_expected_curves
from agrisense.resources import resource_path
from agrisense.sample.expected_curves import field_spread, published_curves, sowing_ndvi
from agrisense.scoring.offers import load_reference

REFERENCE = resource_path("reference")
CHINA = market_named(REFERENCE, "china")
CROPS = CHINA.crop_table("jiangxi")
REAL = load_expected_curves(REFERENCE / "ndvi_curves.csv")


def test_committed_china_curves_are_the_published_curves_of_every_market_crop() -> None:
    """The committed table is what `agrisense train published-curves --market china` writes, for every crop."""
    committed = pd.read_csv(CHINA.curves_path())
    assert CHINA.curves_path().name == "ndvi_curves_china.csv"
    assert set(committed["crop"]) == set(CROPS)
    fresh = published_curves(CHINA.crop_table(), 2026, field_spread(REAL))
    pd.testing.assert_frame_equal(committed, fresh, check_dtype=False)


def test_curves_follow_the_crop_seasons() -> None:
    curves = load_expected_curves(CHINA.curves_path())
    rapeseed, double, rice = curves["rapeseed"], curves["rice_double"], curves["rice"]
    assert set(rapeseed.growing_months()) == {1, 2, 3, 4}  # winter rapeseed, harvested in May
    assert set(double.growing_months()) == set(range(5, 11))  # early rice May-July, late rice August-October
    assert double.mean[7] < min(double.mean[6], double.mean[9]) - 0.15  # the early harvest between the two peaks
    assert set(rice.growing_months()) == {7, 8, 9}  # single (middle) rice, heading in August
    assert max(curves["wheat"].mean, key=lambda m: curves["wheat"].mean[m]) in (3, 4, 5)


def test_spread_adds_the_real_between_field_spread_to_the_sowing_spread() -> None:
    spread = field_spread(REAL)
    assert 0.1 < spread < 0.2  # the real East-African samples' median growing-month spread
    table = published_curves({"rice": CROPS["rice"]}, 2026, spread)
    sowing = sowing_ndvi(CROPS["rice"], 2026).std(axis=0)
    assert np.allclose(table["ndvi_std"], np.hypot(sowing, spread), atol=1e-4)
    assert table["ndvi_std"].min() >= spread - 1e-4
    assert sowing.max() > 0.05  # a three-week sowing window moves the transplanting month's NDVI


def test_mean_is_the_average_over_the_sowing_window() -> None:
    one = sowing_ndvi(CROPS["cotton"], 2026, dates=1)[0]
    spread = sowing_ndvi(CROPS["cotton"], 2026)
    assert spread.shape == (9, 12)
    assert np.abs(spread.mean(axis=0) - one).max() > 0.001  # the window average is not the middle day's curve
    assert np.abs(spread.mean(axis=0) - one).max() < 0.1


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="positive"):
        published_curves(CROPS, 2026, 0.0)
    with pytest.raises(InvalidInput, match="at least 1"):
        sowing_ndvi(CROPS["rice"], 2026, dates=0)
    with pytest.raises(InvalidInput, match="real-sample curves"):
        field_spread({})


def test_scoring_reads_the_market_curves_and_the_sample_county_keeps_the_real_ones() -> None:
    policies = resource_path("policies")
    china = load_reference(REFERENCE, policies / "china.yaml", "china", "jiangxi")
    assert set(china.curves) == set(CROPS)
    assert china.curves["maize"].mean[8] != pytest.approx(REAL["maize"].mean[8], abs=1e-3)  # summer maize, not EA's
    east_africa = load_reference(REFERENCE, policies / "default.yaml", "sample_county")
    assert east_africa.curves == REAL


def test_a_market_naming_a_missing_curve_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "markets").mkdir()
    text = (REFERENCE / "markets" / "china.yaml").read_text(encoding="utf-8")
    (tmp_path / "markets" / "china.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "crops.csv").write_text((REFERENCE / "crops.csv").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(Exception, match="ndvi_curves_china.csv is missing"):
        load_reference(tmp_path, resource_path("policies") / "china.yaml", "china", "jiangxi")


def test_published_curves_command_writes_the_committed_table(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agrisense.app.cli.main import app

    out = tmp_path / "curves.csv"
    result = CliRunner().invoke(app, ["train", "published-curves", "--market", "china", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(CHINA.curves_path()))
    bad = CliRunner().invoke(app, ["train", "published-curves", "--market", "atlantis", "--out", str(out)])
    assert bad.exit_code != 0 and "atlantis" in bad.output
