"""The ledger's arithmetic: exact Decimal/cent sums, the accepted offer's schedule to the cent, allocation order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from agrisense.agronomy.calendar import load_crop_table
from agrisense.config import Settings
from agrisense.credit.engine import quote
from agrisense.credit.money import from_cents, to_money
from agrisense.credit.policy import load_policy
from agrisense.errors import InvalidInput
from agrisense.loans.ledger import Due, Posting, Terms, Tranche, position, remaining_schedule
from agrisense.loans.terms import reprice_offer, terms_from_json, terms_json, terms_of

TERMS = Terms(
    limit_cents=1_000_000,
    annual_rate=Decimal("0.1200"),
    fee_cents=5_000,
    tranches=(Tranche(date(2027, 4, 1), 600_000, "Seed Co"), Tranche(date(2027, 5, 1), 400_000, "borrower")),
    dues=(Due(date(2027, 10, 31), 1_000_000, 0, 0),),
)


def _offer() -> dict:
    settings = Settings()
    return quote(
        "maize",
        3.0,
        season=2027,
        crops=load_crop_table(settings.reference_dir / "crops.csv"),
        policy=load_policy(settings.policy_file),
        input_supplier="Seed Co",
    ).to_dict()


def test_interest_is_simple_actual_365_on_drawn_principal() -> None:
    draws = [
        Posting("disbursement", date(2027, 4, 1), 600_000, 0),
        Posting("disbursement", date(2027, 5, 1), 400_000, 1),
    ]
    pos = position(TERMS, draws, date(2027, 6, 1))
    # 6000.00 x 61 days + 4000.00 x 31 days at 12 % / 365, rounded down to the cent
    exact = (Decimal("6000.00") * 61 + Decimal("4000.00") * 31) * Decimal("0.12") / 365
    assert from_cents(pos.interest_cents) == to_money(exact) == Decimal("161.09")
    assert pos.drawn_cents == 1_000_000 and pos.undrawn_cents == 0 and pos.fee_cents == 5_000
    assert from_cents(pos.balance_cents) == Decimal("10000.00") + Decimal("50.00") + Decimal("161.09")
    assert position(TERMS, [], date(2027, 6, 1)).balance_cents == 0  # nothing drawn, nothing owed


def test_repayment_pays_fee_then_interest_then_principal_and_overpaying_is_refused() -> None:
    draws = [Posting("disbursement", date(2027, 4, 1), 1_000_000, 0)]
    on = date(2027, 7, 1)
    before = position(TERMS, draws, on)
    assert before.interest_cents == 29_917  # 10000 x 91 x 0.12 / 365 = 299.178...
    paid = [*draws, Posting("repayment", on, 40_000)]
    after = position(TERMS, paid, on)
    assert (after.paid_fee_cents, after.paid_interest_cents, after.paid_principal_cents) == (5_000, 29_917, 5_083)
    assert after.balance_cents == before.balance_cents - 40_000
    with pytest.raises(InvalidInput, match="more than"):
        position(TERMS, [*draws, Posting("repayment", on, before.balance_cents + 1)], on)
    settled = position(TERMS, [*draws, Posting("repayment", on, before.balance_cents)], on)
    assert settled.balance_cents == 0 and settled.paid_cents == before.balance_cents
    assert remaining_schedule(TERMS, [*draws, Posting("repayment", on, before.balance_cents)], on) == ()


def test_remaining_schedule_before_any_posting_is_the_offer_schedule_to_the_cent() -> None:
    offer = _offer()
    assert offer["decision"] != "decline" and offer["schedule"]
    terms = terms_from_json(terms_json(terms_of([offer])))
    assert terms.annual_rate == Decimal(str(offer["annual_rate"]))
    first_draw = terms.tranches[0].date
    (due,) = remaining_schedule(terms, [], first_draw)
    (inst,) = offer["schedule"]
    assert (from_cents(due.principal_cents), from_cents(due.interest_cents), from_cents(due.fee_cents)) == (
        Decimal(str(inst["principal"])),
        Decimal(str(inst["interest"])),
        Decimal(str(inst["fees"])),
    )
    # paid out as planned and repaid on the due date: the ledger charges exactly the offer's total
    draws = [Posting("disbursement", t.date, t.amount_cents, k) for k, t in enumerate(terms.tranches)]
    owed = position(terms, draws, due.date)
    assert from_cents(owed.balance_cents) == Decimal(str(inst["total"]))


def test_reprice_keeps_dates_and_payees_and_sums_to_the_new_limit() -> None:
    offer = _offer()
    settings = Settings()
    policy, crops = load_policy(settings.policy_file), load_crop_table(settings.reference_dir / "crops.csv")
    new = reprice_offer(offer, Decimal("1234.56"), policy, crops)
    assert Decimal(str(new["credit_limit"])) == Decimal("1234.56")
    assert sum(Decimal(str(d["amount"])) for d in new["disbursements"]) == Decimal("1234.56")
    assert sum(Decimal(str(i["principal"])) for i in new["schedule"]) == Decimal("1234.56")
    assert [(d["date"], d["payee"]) for d in new["disbursements"]] == [
        (d["date"], d["payee"]) for d in offer["disbursements"]
    ]
    assert new["annual_rate"] <= offer["annual_rate"] and new["apr"] <= policy.pricing.apr_cap + 1e-9
    terms = terms_of([new])
    (due,) = remaining_schedule(terms, [], terms.tranches[0].date)
    assert from_cents(due.total_cents) == Decimal(str(new["schedule"][0]["total"]))


def test_unpriced_plot_gets_the_engine_plan(tmp_path: Path) -> None:
    offer = {**_offer(), "credit_limit": 0.0, "disbursements": [], "schedule": [], "fees": [], "annual_rate": None}
    settings = Settings()
    policy, crops = load_policy(settings.policy_file), load_crop_table(settings.reference_dir / "crops.csv")
    new = reprice_offer(offer, Decimal("800"), policy, crops)
    assert sum(Decimal(str(d["amount"])) for d in new["disbursements"]) == Decimal("800.00")
    assert new["schedule"] and new["annual_rate"] is not None
