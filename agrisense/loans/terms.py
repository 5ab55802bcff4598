"""From stored offers to a loan's terms, and an offer re-priced for another limit (an analyst's bounded override).

Both use the credit engine's own schedule functions (``credit.schedule``, ``credit.pricing``), so the stored offer,
the farmer's view and the ledger agree to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from agrisense.agronomy.calendar import CropReference, crop_calendar
from agrisense.credit.money import from_cents, json_number
from agrisense.credit.offer import Offer
from agrisense.credit.policy import Policy
from agrisense.credit.pricing import arrangement_fee_cents, price_loan
from agrisense.credit.schedule import (
    RATE_STEP,
    Disbursement,
    LoanPlan,
    RepaymentSchedule,
    build_schedule,
    fee_within_cap,
    max_annual_rate,
    seasonal_plan,
    split_cents,
    to_cents,
)
from agrisense.errors import InvalidInput
from agrisense.loans.ledger import Due, Terms, Tranche


def priced(offer: Mapping[str, Any]) -> bool:
    """True when the offer carries a loan: a limit with its tranches and schedule."""
    return bool(offer.get("disbursements")) and bool(offer.get("schedule")) and to_cents(offer["credit_limit"]) > 0


def terms_of(offers: Sequence[Mapping[str, Any]]) -> Terms:
    """The loan terms of an application's priced offers: their tranches and dues merged by date.

    The rate is the offers' limit-weighted rate rounded down to the basis point, i.e. exactly the offer's rate for a
    one-plot application or equal rates (the farmer never pays more than offered)."""
    loans = [o for o in offers if priced(o)]
    if not loans:
        raise InvalidInput("The application has no priced offer to book as a loan.")
    limit = sum(to_cents(o["credit_limit"]) for o in loans)
    weighted = sum((Decimal(str(o["annual_rate"])) * to_cents(o["credit_limit"]) for o in loans), Decimal(0))
    rate = (weighted / Decimal(limit)).quantize(RATE_STEP, rounding=ROUND_DOWN)
    fee = sum(to_cents(f["amount"]) for o in loans for f in o.get("fees") or [])
    tranches: dict[tuple[date, str, str | None], int] = {}
    for o in loans:
        for d in o["disbursements"]:
            key = (date.fromisoformat(str(d["date"])), str(d["payee"]), d.get("condition"))
            tranches[key] = tranches.get(key, 0) + to_cents(d["amount"])
    dues: dict[date, list[int]] = {}
    for o in loans:
        for i in o["schedule"]:
            parts = dues.setdefault(date.fromisoformat(str(i["date"])), [0, 0, 0])
            parts[0] += to_cents(i["principal"])
            parts[1] += to_cents(i["interest"])
            parts[2] += to_cents(i["fees"])
    return Terms(
        limit_cents=limit,
        annual_rate=rate,
        fee_cents=fee,
        tranches=tuple(Tranche(k[0], v, k[1], k[2]) for k, v in sorted(tranches.items(), key=lambda kv: kv[0][0])),
        dues=tuple(Due(d, *parts) for d, parts in sorted(dues.items())),
    )


def terms_json(terms: Terms) -> dict[str, Any]:
    return {
        "limit_cents": terms.limit_cents,
        "annual_rate": str(terms.annual_rate),
        "fee_cents": terms.fee_cents,
        "tranches": [
            {"date": t.date.isoformat(), "amount_cents": t.amount_cents, "payee": t.payee, "condition": t.condition}
            for t in terms.tranches
        ],
        "dues": [
            {
                "date": d.date.isoformat(),
                "principal_cents": d.principal_cents,
                "interest_cents": d.interest_cents,
                "fee_cents": d.fee_cents,
            }
            for d in terms.dues
        ],
    }


def terms_from_json(data: Mapping[str, Any]) -> Terms:
    return Terms(
        limit_cents=int(data["limit_cents"]),
        annual_rate=Decimal(str(data["annual_rate"])),
        fee_cents=int(data["fee_cents"]),
        tranches=tuple(
            Tranche(date.fromisoformat(t["date"]), int(t["amount_cents"]), str(t["payee"]), t.get("condition"))
            for t in data["tranches"]
        ),
        dues=tuple(
            Due(date.fromisoformat(d["date"]), int(d["principal_cents"]), int(d["interest_cents"]), int(d["fee_cents"]))
            for d in data["dues"]
        ),
    )


def priceable(offer: Mapping[str, Any], policy: Policy, crops: Mapping[str, CropReference]) -> bool:
    """True when a limit can be priced for the plot: it has a loan already, or a PD, a financed crop and a season."""
    if priced(offer):
        return True
    crop = offer.get("assessed_crop")
    return (
        offer.get("pd") is not None
        and crop in policy.financed_crops
        and crop in crops
        and offer.get("finance_season") is not None
    )


def _engine_plan(offer: Mapping[str, Any], cents: int, policy: Policy, crops: Mapping[str, CropReference]) -> LoanPlan:
    """The engine's own plan for a plot that had no loan (a referral below the minimum, say)."""
    calendar = crop_calendar(crops[str(offer["assessed_crop"])], int(offer["finance_season"]))
    today = offer.get("offer_date")
    return seasonal_plan(
        cents, [calendar], policy.schedule, not_before=None if today is None else date.fromisoformat(str(today))
    )


def reprice_offer(
    offer: Mapping[str, Any], limit: Decimal, policy: Policy, crops: Mapping[str, CropReference]
) -> dict[str, Any]:
    """The offer (JSON form) for another limit: tranches split by the policy's shares on the same dates and payees,
    principal split over the same due dates, the fee and rate re-checked against the APR cap, the expected loss
    restated (a plot without a loan gets the engine's plan and price for its PD). Validated as an ``Offer``."""
    cents = to_cents(limit)
    if cents <= 0:
        raise InvalidInput("The new limit must be positive.")
    if not priceable(offer, policy, crops):
        raise InvalidInput(f"Plot {offer.get('plot_id')} cannot be priced (no PD or crop not financed).")
    if not priced(offer):
        _, schedule = price_loan(float(offer["pd"]), _engine_plan(offer, cents, policy, crops), policy.pricing)
        return _with_schedule(offer, schedule, policy)
    old = offer["disbursements"]
    shares = (
        [t.share for t in policy.schedule.tranches]
        if len(policy.schedule.tranches) == len(old)
        else [to_cents(d["amount"]) / sum(to_cents(x["amount"]) for x in old) for d in old]
    )
    draws = tuple(
        Disbursement(date.fromisoformat(str(d["date"])), part, str(d["payee"]), d.get("condition"))
        for d, part in zip(old, split_cents(cents, shares), strict=True)
    )
    dues = tuple(date.fromisoformat(str(i["date"])) for i in offer["schedule"])
    plan = LoanPlan(draws, dues, tuple(split_cents(cents, [1.0 / len(dues)] * len(dues))))
    cap = policy.pricing.apr_cap
    fee = fee_within_cap(plan, arrangement_fee_cents(cents, policy.pricing), cap)
    rate = min(Decimal(str(offer["annual_rate"])), max_annual_rate(plan, fee, cap))
    return _with_schedule(offer, build_schedule(plan, rate, fee), policy)


def _with_schedule(offer: Mapping[str, Any], schedule: RepaymentSchedule, policy: Policy) -> dict[str, Any]:
    cents = sum(d.amount_cents for d in schedule.disbursements)
    fee = schedule.arrangement_fee_cents
    rate = schedule.annual_rate
    pd = Decimal(str(offer.get("pd") or 0))
    lgd = Decimal(str(offer.get("lgd") or policy.pricing.lgd))
    amount = from_cents(cents)
    changed = {
        **offer,
        "credit_limit": json_number(amount),
        "annual_rate": json_number(rate),
        "apr": round(schedule.apr, 4),
        "fees": [
            {"name": "arrangement", "rate": policy.pricing.arrangement_fee, "amount": json_number(from_cents(fee))}
        ],
        "disbursements": [
            {
                "date": d.date.isoformat(),
                "amount": json_number(from_cents(d.amount_cents)),
                "payee": d.payee,
                "condition": d.condition,
            }
            for d in schedule.disbursements
        ],
        "schedule": [
            {
                "date": i.date.isoformat(),
                "principal": json_number(from_cents(i.principal_cents)),
                "interest": json_number(from_cents(i.interest_cents)),
                "fees": json_number(from_cents(i.fee_cents)),
                "total": json_number(from_cents(i.total_cents)),
            }
            for i in schedule.instalments
        ],
        "expected_loss": json_number((amount * pd * lgd).quantize(Decimal("0.01"))),
    }
    return Offer.model_validate(changed).to_dict()


def frozen_tranches(terms: Mapping[str, Any]) -> set[int]:
    """Indexes of the tranches in-season monitoring froze (its latest word, ``tranche_status`` in the stored terms);
    a tranche paid out before the freeze is paid out, whatever the mark says (``drawn_tranches``)."""
    marks = terms.get("tranche_status") or {}
    return {int(k) for k, mark in marks.items() if (mark or {}).get("status") == "frozen"}
