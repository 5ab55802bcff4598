from __future__ import annotations

from datetime import date, timedelta

import pytest

from agrisense.credit.engine import quote
from agrisense.credit.monitoring import Loan, SeasonEvidence, monitor
from agrisense.credit.policy import parse_policy
from agrisense.errors import InvalidInput


@pytest.fixture
def loan(crops, policy, weather) -> Loan:
    offer = quote("maize", 1.5, season=2026, crops=crops, policy=policy, weather=weather, ndvi_anomaly=0.0)
    return Loan.from_offer(offer.to_dict(), crops)


def evidence(loan: Loan, days_after_sowing: int, **kw) -> SeasonEvidence:
    values = {"condition_z": 0.0, "clear_observations": 4, "emergence_detected": loan.expected_emergence,
              "spi_to_date": 0.0, "harvest_detected": None}  # fmt: skip
    as_of = loan.sow_date + timedelta(days=days_after_sowing)
    if as_of < loan.expected_emergence:
        values["emergence_detected"] = None
    values.update(kw)
    return SeasonEvidence(as_of=as_of, **values)


# (days after sowing, evidence changes, status, warning codes, action codes)
CASES = [
    (3, {}, "ok", [], []),
    (3, {"clear_observations": 0, "emergence_detected": None}, "watch", ["INSUFFICIENT_IMAGERY"], []),
    (10, {"condition_z": -2.5}, "alert", ["CROP_FAILURE"], ["freeze_undisbursed", "analyst_review"]),
    (10, {"condition_z": -1.2}, "watch", ["CONDITION_POOR"], ["analyst_review"]),
    (60, {"condition_z": -2.5}, "alert", ["CROP_FAILURE"], ["analyst_review"]),  # all tranches already paid
    (10, {"spi_to_date": -1.2}, "watch", ["DROUGHT_SO_FAR"], ["analyst_review"]),
    (10, {"spi_to_date": -1.8}, "alert", ["SEVERE_DROUGHT_SO_FAR"], ["freeze_undisbursed", "analyst_review"]),
    (12, {"emergence_detected": None}, "ok", [], []),  # within the grace period
    (30, {"emergence_detected": None}, "alert", ["NO_EMERGENCE"], ["analyst_review"]),  # tranche already paid
    (20, {"emergence_detected": None, "condition_z": None}, "ok", [], []),
    (60, {"harvest_detected": "early"}, "alert", ["EARLY_HARVEST"], ["analyst_review"]),
    (10, {"condition_z": 1.5}, "ok", [], ["increase_limit"]),
    (10, {"condition_z": 1.5, "spi_to_date": -1.1}, "watch", ["DROUGHT_SO_FAR"], ["analyst_review"]),
]


@pytest.mark.parametrize(("days", "changes", "status", "codes", "actions"), CASES)
def test_rules(loan, policy, days, changes, status, codes, actions):
    if changes.get("harvest_detected") == "early":
        changes = {**changes, "harvest_detected": loan.sow_date + timedelta(days=days - 1)}
    result = monitor(loan, evidence(loan, days, **changes), policy)
    assert result.status == status
    assert [w.code for w in result.warnings] == codes
    assert [a.code for a in result.actions] == actions
    assert all(w.message_zh for w in result.warnings) and result.policy_version == policy.version


def test_freeze_amounts_and_no_emergence_freezes_only_its_tranche(loan, policy, crops):
    frozen = monitor(loan, evidence(loan, 1, condition_z=-3.0), policy).actions[0]
    pending = [t for t in loan.disbursements if t.date > loan.sow_date + timedelta(days=1)]
    assert frozen.amount == pytest.approx(sum(t.amount for t in pending)) and len(frozen.tranche_dates) == len(pending)
    # a loan whose emergence tranche comes late: no emergence after the grace period freezes that tranche only
    late = Loan(**{**loan.__dict__, "expected_emergence": loan.sow_date - timedelta(days=20)})
    result = monitor(late, evidence(late, 1, emergence_detected=None), policy)
    assert [w.code for w in result.warnings] == ["NO_EMERGENCE"]
    freeze = result.actions[0]
    assert freeze.code == "freeze_undisbursed"
    assert freeze.tranche_dates == tuple(t.date for t in late.disbursements if t.condition == "emergence_confirmed")


def test_increase_respects_policy(loan, policy):
    increase = monitor(loan, evidence(loan, 10, condition_z=1.5), policy).actions[0]
    assert increase.amount == pytest.approx(loan.limit * policy.monitoring.limit_increase // 100 * 100)
    old = parse_policy({**policy.model_dump(), "monitoring": {}})  # a 2026.1-style policy: no increases
    assert monitor(loan, evidence(loan, 10, condition_z=1.5), old).actions == ()


def test_bad_inputs(loan, crops):
    with pytest.raises(InvalidInput, match="future"):
        SeasonEvidence(date(2026, 6, 1), 0.0, 3, date(2026, 7, 1), None)
    with pytest.raises(InvalidInput, match="clear_observations"):
        SeasonEvidence(date(2026, 6, 1), 0.0, -1, None, None)
    with pytest.raises(InvalidInput, match="no loan"):
        Loan.from_offer({"assessed_crop": "maize", "credit_limit": 0.0, "disbursements": [], "finance_season": 2026,
                         "plot_id": "X", "area_ha": 1.0}, crops)  # fmt: skip
    with pytest.raises(InvalidInput, match="not an Offer"):
        Loan.from_offer({"plot_id": "X"}, crops)
