from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrisense.agronomy.calendar import crop_calendar
from agrisense.credit.schedule import (
    apr,
    build_schedule,
    fee_within_cap,
    max_annual_rate,
    prepayment,
    seasonal_plan,
    split_cents,
    to_cents,
)
from agrisense.errors import InvalidInput


def test_split_cents_is_exact():
    assert split_cents(100001, [0.6, 0.4]) == [60000, 40001]
    assert sum(split_cents(333, [1 / 3] * 3)) == 333
    with pytest.raises(InvalidInput):
        split_cents(-1, [1.0])


def test_seasonal_schedule(crops, policy):
    cal = crop_calendar(crops["maize"], 2026)
    plan = seasonal_plan(to_cents(1500), [cal], policy.schedule, input_supplier="Co-op Seeds")
    assert [d.date for d in plan.disbursements] == [cal.sow_date, cal.emergence_date + timedelta(days=5)]
    assert [d.amount_cents for d in plan.disbursements] == [90000, 60000]
    assert [d.payee for d in plan.disbursements] == ["Co-op Seeds", "borrower"]
    assert plan.disbursements[1].condition == "emergence_confirmed"
    assert plan.repayment_dates == (cal.harvest_end + timedelta(days=30),)
    sched = build_schedule(plan, Decimal("0.12"), 750)
    (inst,) = sched.instalments
    days1 = (inst.date - cal.sow_date).days
    days2 = (inst.date - plan.disbursements[1].date).days
    assert inst.interest_cents == int(Decimal("0.12") * (90000 * days1 + 60000 * days2) / 365)
    assert inst.principal_cents == 150000 and inst.fee_cents == 750


def test_apr_matches_numpy_financial_irr():
    flows = [(date(2026, 5, 1), 100000), (date(2026, 6, 1), 50000), (date(2026, 12, 1), -160000)]
    values = np.zeros(215)
    for when, cents in flows:
        values[(when - date(2026, 5, 1)).days] += cents
    daily = npf.irr(values)
    assert apr(flows) == pytest.approx((1 + daily) ** 365 - 1, rel=1e-6)


def test_double_cropping_two_instalments(crops, policy):
    first = crop_calendar(crops["beans"], 2026)
    second = crop_calendar(crops["maize"], 2026)
    plan = seasonal_plan(100001, [first, second], policy.schedule)
    sched = build_schedule(plan, Decimal("0.1"), 500)
    assert len(sched.instalments) == 2 and sched.principal_cents == 100001
    assert sched.instalments[0].fee_cents == 500 and sched.instalments[1].fee_cents == 0


def test_prepayment(crops, policy):
    cal = crop_calendar(crops["maize"], 2026)
    sched = build_schedule(seasonal_plan(100000, [cal], policy.schedule), Decimal("0.1"), 500)
    early = prepayment(sched, cal.sow_date + timedelta(days=3))
    assert early.principal_cents == 60000 and early.cancelled_cents == 40000
    assert early.interest_cents == int(Decimal("0.1") * 60000 * 3 / 365) and early.fee_cents == 500
    later = prepayment(sched, cal.maturity_date)
    assert later.principal_cents == 100000 and later.interest_cents < sched.interest_cents
    with pytest.raises(InvalidInput):
        prepayment(sched, cal.sow_date - timedelta(days=1))


@settings(max_examples=60, deadline=None)
@given(
    amount=st.integers(min_value=100, max_value=50_000_00),
    crop=st.sampled_from(["maize", "sorghum", "groundnut", "beans"]),
    wanted=st.decimals(min_value=0, max_value=Decimal("0.5"), places=4),
    fee_rate=st.sampled_from([0.0, 0.005, 0.02]),
    cap=st.sampled_from([0.05, 0.15, 0.36]),
)
def test_principal_reconciles_and_apr_within_cap(crops, policy, amount, crop, wanted, fee_rate, cap):
    plan = seasonal_plan(amount, [crop_calendar(crops[crop], 2026)], policy.schedule)
    fee = fee_within_cap(plan, int(amount * fee_rate), cap)
    rate = min(wanted, max_annual_rate(plan, fee, cap))
    sched = build_schedule(plan, rate, fee)
    assert sum(d.amount_cents for d in sched.disbursements) == amount
    assert sched.principal_cents == amount
    if sched.interest_cents + fee > 0:
        assert sched.apr <= cap


def test_breakeven_counts_fee_and_lost_interest():
    from agrisense.credit.pricing import required_rate

    # (1 - PD)(r L + fee) = c L + PD LGD at the break-even rate
    pd_, lgd, cost, life, fee = 0.05, 0.6, 0.04, 0.45, 0.005
    r = required_rate(pd_, lgd, cost, life, fee)
    assert (1 - pd_) * (r * life + fee) == pytest.approx(cost * life + pd_ * lgd)
    assert required_rate(0.0, lgd, cost, life, 0.0) == pytest.approx(cost)
    assert required_rate(0.10, lgd, cost, life, fee) > r  # riskier needs more
    assert required_rate(pd_, lgd, cost, 0.3, fee) > r  # a shorter loan has less time to earn the loss back
