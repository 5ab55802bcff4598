"""In-season evidence from monthly NDVI: no emergence, early harvest, healthy crop; loans from offers."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from agrisense.agronomy.calendar import crop_calendar, load_crop_table
from agrisense.config import Settings
from agrisense.credit.engine import quote
from agrisense.credit.policy import load_policy
from agrisense.errors import InvalidInput
from agrisense.ml.growth import load_expected_curves
from agrisense.monitoring.season import (
    CANOPY_DAYS,
    LATE_EMERGENCE,
    approved_offers,
    latest_normal_emergence,
    loan_from_record,
    monitor_plot,
    season_spi,
)

REF = Settings().reference_dir


@pytest.fixture(scope="module")
def ctx():  # type: ignore[no-untyped-def]
    crops = load_crop_table(REF / "crops.csv")
    policy = load_policy(Settings().policy_file)
    return crops, policy, load_expected_curves(REF / "ndvi_curves.csv")


def _loan(ctx, season=2026):  # type: ignore[no-untyped-def]
    crops, policy, _ = ctx
    offer = quote("maize", 1.5, season=season + 1, crops=crops, policy=policy, weather=None, ndvi_anomaly=0.0)
    return loan_from_record(offer.to_dict(), crops, season=season)


def _run(ctx, ndvi, as_of):  # type: ignore[no-untyped-def]
    crops, policy, curves = ctx
    return monitor_plot(
        _loan(ctx), ndvi, season=2026, as_of=as_of, crops=crops, curves=curves, policy=policy, rain=None, run_id="r1"
    )


def test_offer_for_next_season_is_monitored_in_this_season(ctx) -> None:  # type: ignore[no-untyped-def]
    active = _loan(ctx)
    cal = crop_calendar(ctx[0]["maize"], 2026)
    assert active.loan.sow_date == cal.sow_date and all(t.date.year == 2026 for t in active.loan.disbursements)


def test_bare_plot_after_the_emergence_date_is_no_emergence(ctx) -> None:  # type: ignore[no-untyped-def]
    # the deadline is the latest normal emergence + CANOPY_DAYS + the policy's grace (was: typical emergence + grace)
    deadline = latest_normal_emergence(ctx[0]["maize"], 2026) + timedelta(CANOPY_DAYS + 15)
    months = range(3, deadline.month + 2)
    result, rows = _run(ctx, {m: 0.18 for m in months}, date(2026, deadline.month + 1, 20))
    assert "NO_EMERGENCE" in [w.code for w in result.warnings] and result.status == "alert"
    assert rows and all(r["message_zh"] and r["run_id"] == "r1" and r["loan_id"] for r in rows)


def test_expected_curve_gives_no_alert_and_an_early_drop_is_early_harvest(ctx) -> None:  # type: ignore[no-untyped-def]
    curve = ctx[2]["maize"]
    healthy = {m: curve.mean[m] for m in range(3, 9)}
    result, _ = _run(ctx, healthy, date(2026, 8, 20))
    assert result.status in ("ok", "watch") and "CROP_FAILURE" not in [w.code for w in result.warnings]
    peak = max(healthy, key=healthy.get)  # type: ignore[arg-type]
    dropped = {m: (v if m <= peak else 0.15) for m, v in healthy.items()}
    dropped.update({m: 0.15 for m in range(peak + 1, peak + 3)})
    result, _ = _run(ctx, dropped, date(2026, peak + 2, 20))
    codes = [w.code for w in result.warnings]
    assert "EARLY_HARVEST" in codes or "CROP_FAILURE" in codes
    assert "freeze_undisbursed" in [a.code for a in result.actions] or "analyst_review" in [
        a.code for a in result.actions
    ]


def test_approved_offers_and_bad_records(ctx) -> None:  # type: ignore[no-untyped-def]
    assert (
        approved_offers(
            [
                {"decision": "refer", "credit_limit": 0},
                {"decision": "approve", "credit_limit": 900, "disbursements": [{"date": "2027-05-01", "amount": 900}]},
            ]
        )
        != []
    )
    with pytest.raises(InvalidInput, match="lacks"):
        loan_from_record({"loan_id": 3}, ctx[0], season=2026)
    row = loan_from_record({"loan_id": 3, "plot_ids": ["P1"], "crop": "maize", "limit": 2000}, ctx[0], season=2026)
    assert row.loan.limit == 2000 and row.loan.plot_id == "P1"


def test_season_spi_is_low_for_a_dry_year() -> None:
    days = pd.date_range("1990-01-01", "2026-12-31", freq="D")
    rng = np.random.default_rng(0)
    rain = pd.DataFrame({"date": days, "precip_mm": rng.gamma(0.8, 4.0, len(days))})
    rain.loc[rain["date"].dt.year == 2026, "precip_mm"] *= 0.3
    assert season_spi(rain, date(2026, 4, 1), date(2026, 6, 30)) < -1.5  # type: ignore[operator]
    assert season_spi(rain, date(2026, 4, 1), date(2026, 3, 1)) is None


def _codes(ctx, ndvi, as_of):  # type: ignore[no-untyped-def]
    result, _ = _run(ctx, ndvi, as_of)
    return [w.code for w in result.warnings]


def test_a_one_month_dip_that_recovers_is_no_early_harvest(ctx) -> None:  # type: ignore[no-untyped-def]
    curve = ctx[2]["maize"]
    healthy = {m: curve.mean[m] for m in range(3, 11)}
    peak = max(healthy, key=healthy.get)  # type: ignore[arg-type]
    dip = {**healthy, peak + 1: 0.15}  # one clear month low, the next one green again
    for as_of in (date(2026, peak + 1, 20), date(2026, peak + 2, 20)):
        codes = _codes(ctx, {m: v for m, v in dip.items() if m <= as_of.month}, as_of)
        assert "EARLY_HARVEST" not in codes and "CROP_FAILURE" not in codes, (as_of, codes)


def test_a_rising_curve_has_emerged(ctx) -> None:  # type: ignore[no-untyped-def]
    rising = {3: 0.10, 4: 0.10, 5: 0.11, 6: 0.15, 7: 0.24, 8: 0.33, 9: 0.41}
    assert "NO_EMERGENCE" not in _codes(ctx, rising, date(2026, 9, 20))


def test_late_green_up_is_late_emergence_not_no_emergence(ctx) -> None:  # type: ignore[no-untyped-def]
    late = {3: 0.12, 4: 0.12, 5: 0.12, 6: 0.12, 7: 0.12, 8: 0.13, 9: 0.35, 10: 0.55, 11: 0.65}
    codes = _codes(ctx, late, date(2026, 11, 20))
    assert LATE_EMERGENCE in codes and "NO_EMERGENCE" not in codes
    early = {m: v for m, v in late.items() if m <= 9}  # green-up seen on one observation only: not yet
    assert LATE_EMERGENCE not in _codes(ctx, early, date(2026, 9, 20))


def test_season_rise_is_the_green_up_before_the_peak() -> None:
    from agrisense.monitoring.season import season_rise

    series = {date(2026, m, 15): v for m, v in {3: 0.30, 4: 0.20, 5: 0.50, 6: 0.70, 7: float("nan"), 8: 0.40}.items()}
    rise = season_rise(series)
    assert rise is not None and rise.rise == pytest.approx(0.5) and rise.fall == pytest.approx(0.3)
    assert rise.green_date == date(2026, 5, 15)  # first at least half the rise above the low
    assert season_rise({date(2026, 3, 15): 0.2}) is None


def test_a_failed_stand_is_told_from_normal_crops_of_every_crop(ctx) -> None:  # type: ignore[no-untyped-def]
    """Seeded plots made as the sample county makes them: a normal crop is its expected curve plus its own AR(1)
    deviation; a failed one keeps a fifth of that green-up (``agrisense.sample.signatures.FAILED_GREEN``)."""
    from agrisense.sample.signatures import FAILED_GREEN

    crops, policy, curves = ctx
    rng = np.random.default_rng(17)
    as_of = date(2026, 10, 15)
    for crop in ("maize", "sorghum", "groundnut", "beans"):
        active = loan_from_record({"loan_id": crop, "plot_ids": [crop], "crop": crop, "limit": 900}, crops, season=2026)
        curve = curves[crop]
        flagged = {"normal": 0, "failed": 0}
        for _ in range(10):
            dev = np.cumsum(rng.normal(0.0, 0.02, 9))
            green = {m: curve.mean[m] + dev[m - 3] for m in range(3, 12)}
            bare = float(np.mean([green[3], green[4]]))
            for status, series in (
                ("normal", green),
                ("failed", {m: bare + FAILED_GREEN * (v - bare) for m, v in green.items()}),
            ):
                result, _ = monitor_plot(
                    active, series, season=2026, as_of=as_of, crops=crops, curves=curves, policy=policy, rain=None,
                    run_id="r",
                )  # fmt: skip
                codes = {w.code for w in result.warnings}
                flagged[status] += bool(codes & {"NO_EMERGENCE", "CROP_FAILURE", "EARLY_HARVEST"})
        assert flagged == {"normal": 0, "failed": 10}, (crop, flagged)
