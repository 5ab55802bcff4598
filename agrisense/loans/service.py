"""The loan ledger over the database: views, postings (idempotent by client key) and audited state transitions.

Every posting and transition runs under the farmer's lock (``lending.applications.lock_farmer``) in one
transaction with its audit entry. Balances are never stored: they follow from the postings (``loans.ledger``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from agrisense.credit.money import from_cents, json_number
from agrisense.credit.schedule import to_cents
from agrisense.errors import Conflict, InvalidInput, NotFound
from agrisense.lending.actors import STAFF, Actor, require_role
from agrisense.lending.applications import lock_farmer, write_audit
from agrisense.loans.booking import ledger_postings
from agrisense.loans.ledger import (
    Delinquency,
    Posting,
    Terms,
    delinquency,
    drawn_tranches,
    position,
    remaining_schedule,
)
from agrisense.loans.terms import terms_from_json
from agrisense.store import ApplicationPlot, Database, Loan, LoanPosting

LOAN_STATES = ("accepted", "disbursed", "repaid", "overdue", "defaulted", "written_off")
TRANSITIONS: dict[str, frozenset[str]] = {
    "accepted": frozenset({"disbursed"}),
    "disbursed": frozenset({"repaid", "overdue"}),
    "overdue": frozenset({"disbursed", "repaid", "defaulted"}),
    "defaulted": frozenset({"repaid", "written_off"}),
    "repaid": frozenset(),
    "written_off": frozenset(),
}
"""Allowed state changes. ``disbursed`` and ``repaid`` follow from postings; staff set ``overdue`` (and back to
``disbursed`` when cured), ``defaulted`` and ``written_off`` with a reason."""
MAX_AMOUNT = Decimal("1000000")
MAX_KEY = 64


def _today() -> date:
    return datetime.now(UTC).date()


def _money(cents: int) -> float:
    return json_number(from_cents(cents))


def posting_view(p: LoanPosting) -> dict[str, Any]:
    return {
        "id": p.id,
        "client_key": p.client_key,
        "kind": p.kind,
        "tranche": p.tranche,
        "date": p.on_date.isoformat(),
        "amount": json_number(p.amount),
        "payee": p.payee,
        "created_at": (p.created_at if p.created_at.tzinfo else p.created_at.replace(tzinfo=UTC)).isoformat(),
    }


def loan_view(loan: Loan, on: date | None = None) -> dict[str, Any]:
    """The one JSON view of a loan on ``on`` (default: today, or the last posting's date if that is later): balance,
    next due date and amount, remaining schedule, postings."""
    on = on or max([_today(), *(p.on_date for p in loan.postings)])
    terms = terms_from_json(loan.terms)
    postings = ledger_postings(loan)
    pos = position(terms, postings, on)
    rest = remaining_schedule(terms, postings, on) if loan.state not in ("repaid", "written_off") else ()
    drawn = drawn_tranches(postings)
    return {
        "id": loan.id,
        "application_id": loan.application_id,
        "farmer_id": loan.farmer_id,
        "state": loan.state,
        "finance_season": loan.terms.get("finance_season"),
        "currency": loan.currency,
        "credit_limit": json_number(loan.credit_limit),
        "annual_rate": json_number(loan.annual_rate),
        "arrangement_fee": json_number(loan.arrangement_fee),
        "as_of": on.isoformat(),
        "drawn": _money(pos.drawn_cents),
        "undrawn": _money(pos.undrawn_cents),
        "principal_outstanding": _money(pos.principal_cents),
        "interest_accrued": _money(pos.interest_cents),
        "fees_due": _money(pos.fee_cents),
        "balance": _money(pos.balance_cents),
        "repaid": _money(pos.paid_cents),
        **delinquency_view(delinquency(terms, postings, on)),
        "next_due_date": rest[0].date.isoformat() if rest else None,
        "next_due_amount": _money(rest[0].total_cents) if rest else None,
        "tranches": [
            {
                "index": k,
                "date": t.date.isoformat(),
                "amount": _money(t.amount_cents),
                "payee": t.payee,
                "condition": t.condition,
                "disbursed": k in drawn,
                **tranche_status(loan, k, t.condition, disbursed=k in drawn),
            }
            for k, t in enumerate(terms.tranches)
        ],
        "schedule": [
            {
                "date": d.date.isoformat(),
                "principal": _money(d.principal_cents),
                "interest": _money(d.interest_cents),
                "fees": _money(d.fee_cents),
                "total": _money(d.total_cents),
            }
            for d in rest
        ],
        "postings": [posting_view(p) for p in loan.postings],
    }


def delinquency_view(d: Delinquency) -> dict[str, Any]:
    return {
        "past_due_since": None if d.past_due_since is None else d.past_due_since.isoformat(),
        "days_past_due": d.days_past_due,
        "amount_past_due": json_number(from_cents(d.amount_past_due_cents)),
    }


EMERGENCE = "emergence_confirmed"
TRANCHE_STATUSES = ("disbursed", "frozen", "awaiting_emergence", "available")
"""A tranche's status in the loan view: paid out; frozen by monitoring (the warnings policy's
``freeze_undisbursed``); conditional on emergence that monitoring has not confirmed yet; or free to pay out."""


def tranche_status(loan: Loan, index: int, condition: str | None, *, disbursed: bool) -> dict[str, Any]:
    """``status`` and ``status_reason`` of tranche ``index`` (monitoring's latest word, kept in ``terms``)."""
    mark = (loan.terms.get("tranche_status") or {}).get(str(index)) or {}
    if disbursed:
        return {"status": "disbursed", "status_reason": mark.get("reason")}
    if mark.get("status") == "frozen":
        return {"status": "frozen", "status_reason": mark.get("reason")}
    if condition == EMERGENCE and mark.get("status") != "confirmed":
        return {"status": "awaiting_emergence", "status_reason": "paid out once monitoring confirms emergence"}
    return {"status": "available", "status_reason": mark.get("reason")}


def _load(session: Session, actor: Actor, loan_id: int) -> Loan:
    loan = session.get(Loan, loan_id, options=[selectinload(Loan.postings)])
    if loan is None or (actor.role not in STAFF and loan.farmer_id != actor.user_id):
        raise NotFound(
            f"Loan {loan_id} was not found among your loans.", code="LOAN_NOT_FOUND", params={"loan_id": loan_id}
        )
    return loan


def list_loans(db: Database, actor: Actor, *, on: date | None = None) -> list[dict[str, Any]]:
    """A farmer's own loans (staff: every loan), newest first, as of ``on`` (default: see ``loan_view``)."""
    with db.session(readonly=True) as session:
        query = select(Loan).options(selectinload(Loan.postings)).order_by(Loan.id.desc())
        if actor.role not in STAFF:
            query = query.where(Loan.farmer_id == actor.user_id)
        return [loan_view(loan, on) for loan in session.scalars(query)]


def get_loan(db: Database, actor: Actor, loan_id: int, *, on: date | None = None) -> dict[str, Any]:
    """One loan (its farmer or staff) as of ``on`` (default: see ``loan_view``)."""
    with db.session(readonly=True) as session:
        return loan_view(_load(session, actor, loan_id), on)


def _key(client_key: str) -> str:
    key = str(client_key or "").strip()
    if not 1 <= len(key) <= MAX_KEY:
        raise InvalidInput(f"client_key must be 1 to {MAX_KEY} characters (your system's unique id of the payment).")
    return key


def _amount(value: Decimal | float | str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput("amount must be a number.") from exc
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput("amount must be positive, at most 1,000,000, to the cent.")
    return amount


def _for_update(session: Session, actor: Actor, loan_id: int) -> Loan:
    require_role(actor, STAFF, "post to loans")
    farmer_id = session.scalar(select(Loan.farmer_id).where(Loan.id == loan_id))
    if farmer_id is None:
        raise NotFound(f"Loan {loan_id} does not exist.")
    lock_farmer(session, farmer_id)
    return _load(session, actor, loan_id)


def _existing(loan: Loan, key: str, **expected: Any) -> LoanPosting | None:
    """The posting already made with this key; ``Conflict`` if the key was used for a different posting."""
    found = next((p for p in loan.postings if p.client_key == key), None)
    if found is None:
        return None
    actual = {"kind": found.kind, "tranche": found.tranche, "amount": found.amount, "on_date": found.on_date}
    if any(v is not None and actual[k] != v for k, v in expected.items()):
        raise Conflict(
            f"client_key {key!r} was already used for another posting on loan {loan.id}; use a new key.",
            code="CLIENT_KEY_REUSED",
            params={"loan_id": loan.id, "client_key": key},
        )
    return found


def _check_date(loan: Loan, on: date) -> None:
    last = max((p.on_date for p in loan.postings), default=None)
    if last is not None and on < last:
        raise InvalidInput(f"Postings are booked in date order: {on} is before the last posting ({last}).")


def post_disbursement(
    db: Database, actor: Actor, loan_id: int, *, client_key: str, tranche: int, on: date | None = None
) -> dict[str, Any]:
    """Pay out one planned tranche (its full amount, to its payee: the farmer or the named input supplier).

    The same ``client_key`` again returns the loan unchanged (no second payment)."""
    key = _key(client_key)
    on = on or _today()
    try:
        with db.session() as session:
            loan = _for_update(session, actor, loan_id)
            if _existing(loan, key, kind="disbursement", tranche=tranche) is not None:
                return loan_view(loan)
            terms = terms_from_json(loan.terms)
            if not 0 <= tranche < len(terms.tranches):
                raise InvalidInput(f"Loan {loan_id} has tranches 0 to {len(terms.tranches) - 1}; got {tranche}.")
            if loan.state not in ("accepted", "disbursed"):
                raise Conflict(
                    f"Loan {loan_id} is {loan.state}; no more money is paid out.",
                    code="LOAN_NOT_DISBURSING",
                    params={"loan_id": loan_id, "state": loan.state},
                )
            if tranche in drawn_tranches(ledger_postings(loan)):
                raise Conflict(
                    f"Tranche {tranche} of loan {loan_id} was already paid out.",
                    code="TRANCHE_ALREADY_PAID",
                    params={"loan_id": loan_id, "tranche": tranche},
                )
            status = tranche_status(loan, tranche, terms.tranches[tranche].condition, disbursed=False)
            if status["status"] in ("frozen", "awaiting_emergence"):
                raise Conflict(
                    f"Tranche {tranche} of loan {loan_id} is {status['status']}: {status['status_reason']}.",
                    code="TRANCHE_ON_HOLD",
                    params={"loan_id": loan_id, "tranche": tranche, "status": status["status"]},
                )
            _check_date(loan, on)
            return _disburse(session, actor, loan, terms, key=key, tranche=tranche, on=on)
    except IntegrityError as exc:  # the same key posted at the same moment by another request
        raise Conflict(
            f"client_key {key!r} is being posted by another request; retry to read its result.",
            code="POSTING_IN_PROGRESS",
            params={"client_key": key},
        ) from exc


def _disburse(
    session: Session, actor: Actor | None, loan: Loan, terms: Terms, *, key: str, tranche: int, on: date
) -> dict[str, Any]:
    """Post tranche ``tranche`` (its checks done) with its audit entry; the first one makes the loan ``disbursed``."""
    planned = terms.tranches[tranche]
    row = LoanPosting(
        loan_id=loan.id,
        client_key=key,
        kind="disbursement",
        tranche=tranche,
        on_date=on,
        amount=from_cents(planned.amount_cents),
        payee=planned.payee,
        actor_id=None if actor is None else actor.user_id,
    )
    loan.postings.append(row)
    session.flush()
    write_audit(
        session,
        actor,
        "loan_disbursement",
        application_id=loan.application_id,
        subject_user_id=loan.farmer_id,
        details={
            "loan_id": loan.id,
            "posting_id": row.id,
            "tranche": tranche,
            "amount": json_number(row.amount),
            "payee": planned.payee,
            "condition": planned.condition,
            "date": on.isoformat(),
        },
    )
    if loan.state == "accepted":
        transition(session, actor, loan, "disbursed", reason="first tranche paid out")
    session.flush()
    return loan_view(loan)


def post_repayment(
    db: Database,
    actor: Actor,
    loan_id: int,
    *,
    client_key: str,
    amount: Decimal | float | str,
    on: date | None = None,
) -> dict[str, Any]:
    """Book a repayment (fee, then interest, then principal); never more than the balance on that date. A loan
    whose balance reaches zero becomes ``repaid``, and its plots are released for the next season."""
    key = _key(client_key)
    value = _amount(amount)
    on = on or _today()
    try:
        with db.session() as session:
            loan = _for_update(session, actor, loan_id)
            if _existing(loan, key, kind="repayment", amount=value) is not None:
                return loan_view(loan)
            if loan.state in ("accepted", "repaid", "written_off"):
                hint = "nothing was paid out yet" if loan.state == "accepted" else f"it is {loan.state}"
                raise Conflict(
                    f"Loan {loan_id} takes no repayment: {hint}.",
                    code="LOAN_TAKES_NO_REPAYMENT",
                    params={"loan_id": loan_id, "state": loan.state},
                )
            _check_date(loan, on)
            terms: Terms = terms_from_json(loan.terms)
            postings = ledger_postings(loan)
            before = position(terms, postings, on)
            if to_cents(value) > before.balance_cents:
                raise InvalidInput(
                    f"The repayment of {json_number(value):,.2f} is more than the {_money(before.balance_cents):,.2f} "
                    f"owed on loan {loan_id} on {on}; post at most the balance."
                )
            row = LoanPosting(
                loan_id=loan.id, client_key=key, kind="repayment", on_date=on, amount=value, actor_id=actor.user_id
            )
            loan.postings.append(row)
            session.flush()
            after = position(terms, [*postings, Posting("repayment", on, to_cents(value))], on)
            write_audit(
                session,
                actor,
                "loan_repayment",
                application_id=loan.application_id,
                subject_user_id=loan.farmer_id,
                details={
                    "loan_id": loan.id,
                    "posting_id": row.id,
                    "amount": json_number(value),
                    "date": on.isoformat(),
                    "fee": _money(after.paid_fee_cents - before.paid_fee_cents),
                    "interest": _money(after.paid_interest_cents - before.paid_interest_cents),
                    "principal": _money(after.paid_principal_cents - before.paid_principal_cents),
                    "balance_after": _money(after.balance_cents),
                },
            )
            if after.balance_cents == 0:
                transition(session, actor, loan, "repaid", reason="balance repaid in full")
            session.flush()
            return loan_view(loan)
    except IntegrityError as exc:
        raise Conflict(
            f"client_key {key!r} is being posted by another request; retry to read its result.",
            code="POSTING_IN_PROGRESS",
            params={"client_key": key},
        ) from exc


def set_loan_state(db: Database, actor: Actor, loan_id: int, *, state: str, reason: str) -> dict[str, Any]:
    """A staff transition (``overdue``, cured back to ``disbursed``, ``defaulted``, ``written_off``), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for the loan's change of state; it is kept in the audit log.")
    if state not in ("overdue", "disbursed", "defaulted", "written_off"):
        raise InvalidInput("state must be overdue, disbursed, defaulted or written_off (repaid follows repayments).")
    with db.session() as session:
        loan = _for_update(session, actor, loan_id)
        transition(session, actor, loan, state, reason=reason)
        session.flush()
        return loan_view(loan)


def transition(session: Session, actor: Actor | None, loan: Loan, state: str, *, reason: str) -> None:
    """Move the loan to ``state`` (``Conflict`` if not allowed), audited ``loan_<state>`` with the reason; a repaid
    loan releases its plots. The caller holds the farmer's lock and commits."""
    if state not in TRANSITIONS[loan.state]:
        raise Conflict(
            f"Loan {loan.id} is {loan.state}; it cannot become {state}.",
            code="LOAN_STATE_CHANGE_REFUSED",
            params={"loan_id": loan.id, "state": loan.state, "new_state": state},
        )
    before = loan.state
    loan.state = state
    if state == "repaid":  # the land is free for next season's financing
        links = session.scalars(select(ApplicationPlot).where(ApplicationPlot.application_id == loan.application_id))
        for link in links:
            link.active = False
    write_audit(
        session,
        actor,
        f"loan_{state}",
        application_id=loan.application_id,
        subject_user_id=loan.farmer_id,
        reason=reason,
        details={"loan_id": loan.id, "before": before, "after": state},
    )


def apply_monitoring(
    db: Database,
    loan_id: int,
    *,
    run_id: str,
    as_of: date,
    plots: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Tranches after an in-season re-score of the loan's plots (``plots``: one mapping per monitored plot with
    ``plot_id``, ``emerged``: the date emergence was seen or None, ``frozen_dates``: the dates of the tranches the
    warnings policy's ``freeze_undisbursed`` action froze, ``reason``: the warning codes).

    * A pending tranche whose date a plot's ``freeze_undisbursed`` names is **frozen** (no posting may pay it out).
    * Otherwise an ``emergence_confirmed`` tranche is **confirmed** once emergence is seen on every monitored plot
      of the loan, and **released**: posted through the ledger on ``as_of`` (client key ``emergence:<run>:<k>``,
      so a re-run posts nothing twice) when its planned date has come, else left ``available`` for its date.
    * The status follows the latest run: a tranche frozen earlier is confirmed again when a later run finds no
      freeze and emergence. Every change is audited (``loan_tranche_frozen``, ``loan_tranche_confirmed``;
      releases as ``loan_disbursement``), by the system (no actor).

    Returns the loan view. A closed loan (not ``accepted``/``disbursed``) is left unchanged."""
    with db.session() as session:
        farmer_id = session.scalar(select(Loan.farmer_id).where(Loan.id == loan_id))
        if farmer_id is None:
            raise NotFound(f"Loan {loan_id} does not exist.")
        lock_farmer(session, farmer_id)
        loan = session.get(Loan, loan_id, options=[selectinload(Loan.postings)])
        assert loan is not None
        if loan.state not in ("accepted", "disbursed") or not plots:
            return loan_view(loan)
        terms = terms_from_json(loan.terms)
        drawn = drawn_tranches(ledger_postings(loan))
        frozen_dates = {str(d) for p in plots for d in p.get("frozen_dates") or ()}
        reasons = sorted({str(p["reason"]) for p in plots if p.get("reason")})
        emerged = all(p.get("emerged") is not None for p in plots)
        marks = dict(loan.terms.get("tranche_status") or {})
        releases: list[int] = []
        for k, t in enumerate(terms.tranches):
            if k in drawn:
                continue
            before = (marks.get(str(k)) or {}).get("status")
            if t.date.isoformat() in frozen_dates:
                status, why = "frozen", f"frozen by monitoring run {run_id}: {', '.join(reasons) or 'warning'}"
            elif t.condition == EMERGENCE and emerged:
                seen = max(str(p["emerged"]) for p in plots)
                status, why = "confirmed", f"emergence confirmed on {seen} (run {run_id})"
                if t.date <= as_of:
                    releases.append(k)
            else:
                continue
            if before != status:
                marks[str(k)] = {"status": status, "reason": why, "run_id": run_id, "as_of": as_of.isoformat()}
                write_audit(
                    session,
                    None,
                    f"loan_tranche_{status}",
                    application_id=loan.application_id,
                    subject_user_id=loan.farmer_id,
                    reason=why,
                    details={
                        "loan_id": loan.id,
                        "tranche": k,
                        "run_id": run_id,
                        "plots": [p["plot_id"] for p in plots],
                    },
                )
        loan.terms = {**loan.terms, "tranche_status": marks}
        session.flush()
        last = max((p.on_date for p in loan.postings), default=as_of)
        for k in releases:
            key = f"emergence:{run_id}:{k}"[:MAX_KEY]
            if any(p.client_key == key for p in loan.postings):
                continue
            _disburse(session, None, loan, terms, key=key, tranche=k, on=max(as_of, last))
        return loan_view(loan)
