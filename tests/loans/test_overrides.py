"""Four-eyes overrides (#13): a ``change_limit`` above the policy's ``loans.second_approval_above`` waits for a
second analyst; the one who asked cannot approve it; every step is audited and nothing changes before approval.
SQLite and PostgreSQL (the ``bank`` fixture of conftest.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from agrisense.errors import Conflict, Forbidden, InvalidInput, NotFound
from agrisense.lending import accept_offer, decide_application, get_application, register_user
from agrisense.lending.overrides import approve_override, list_overrides, reject_override
from agrisense.loans.service import list_loans
from agrisense.store import AuditEntry, OverrideRequest
from tests.loans.test_service import PASSWORD, Bank

THRESHOLD = 10000.0  # the default policy's loans.second_approval_above


def _second_analyst(bank: Bank) -> object:
    return register_user(bank.db, phone="13900000003", password=PASSWORD, name="Second analyst", role="analyst")


def _actions(bank: Bank, app_id: int) -> list[str]:
    with bank.db.session(readonly=True) as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.application_id == app_id)))


def _change(bank: Bank, app_id: int, limit: float, who: object | None = None) -> dict[str, object]:
    return decide_application(
        bank.db,
        who or bank.analyst,  # type: ignore[arg-type]
        app_id,
        decision="change_limit",
        reason="field visit: irrigated",
        new_limit=limit,
        settings=bank.settings,
    )


def test_override_above_the_threshold_waits_for_a_second_analyst(bank: Bank) -> None:
    farmer = bank.farmer(1)
    app = bank.apply(farmer, bank.field(farmer, 4.0))
    view = _change(bank, app["id"], 15000.0)
    pending = view["pending_override"]
    assert isinstance(pending, dict) and pending["new_limit"] == 15000.0 and pending["threshold"] == THRESHOLD
    assert view["status"] == app["status"] and view["credit_limit"] == app["credit_limit"]  # nothing changed yet
    assert view["offer"] == app["offer"]
    with pytest.raises(Conflict, match="waiting for a second analyst"):  # one pending request per application
        _change(bank, app["id"], 14000.0)
    (queued,) = list_overrides(bank.db, bank.analyst)
    assert queued["application_id"] == app["id"] and queued["requested_by_name"] == "Analyst"
    with pytest.raises(Forbidden, match="four-eyes"):
        approve_override(bank.db, bank.analyst, queued["id"], reason="looks fine", settings=bank.settings)
    with pytest.raises(Forbidden):
        approve_override(bank.db, farmer, queued["id"], reason="me", settings=bank.settings)
    second = _second_analyst(bank)
    with pytest.raises(InvalidInput, match="reason"):
        approve_override(bank.db, second, queued["id"], reason=" ", settings=bank.settings)  # type: ignore[arg-type]
    assert get_application(bank.db, farmer, app["id"])["credit_limit"] == app["credit_limit"]
    done = approve_override(bank.db, second, queued["id"], reason="checked the visit", settings=bank.settings)  # type: ignore[arg-type]
    (offer,) = done["offer"]["offers"]
    assert done["status"] == "offered" and done["credit_limit"] == offer["credit_limit"] == 15000.0
    assert done["pending_override"] is None
    assert sum(Decimal(str(d["amount"])) for d in offer["disbursements"]) == Decimal("15000")
    with pytest.raises(Conflict, match="already approved"):
        reject_override(bank.db, second, queued["id"], reason="changed my mind")  # type: ignore[arg-type]
    assert list_overrides(bank.db, bank.analyst) == []
    assert [r["status"] for r in list_overrides(bank.db, bank.analyst, status=None)] == ["approved"]
    actions = _actions(bank, app["id"])
    assert actions[-3:] == ["change_limit_requested", "change_limit_approved", "change_limit"]
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    (loan,) = list_loans(bank.db, farmer)
    assert loan["credit_limit"] == 15000.0  # the booked loan is the approved override, to the cent


def test_rejected_override_changes_nothing_and_small_ones_need_no_second_analyst(bank: Bank) -> None:
    farmer = bank.farmer(1)
    app = bank.apply(farmer, bank.field(farmer, 4.0))
    request = _change(bank, app["id"], 12000.0)["pending_override"]
    assert isinstance(request, dict)
    second = _second_analyst(bank)
    rejected = reject_override(bank.db, second, request["id"], reason="no evidence of irrigation")  # type: ignore[arg-type]
    assert rejected["status"] == "rejected" and rejected["decided_by_name"] == "Second analyst"
    after = get_application(bank.db, farmer, app["id"])
    assert after["credit_limit"] == app["credit_limit"] and after["offer"] == app["offer"]
    assert _actions(bank, app["id"])[-2:] == ["change_limit_requested", "change_limit_rejected"]
    small = _change(bank, app["id"], THRESHOLD)  # at the threshold: one analyst is enough
    assert small["pending_override"] is None and small["credit_limit"] == THRESHOLD
    with pytest.raises(NotFound):
        reject_override(bank.db, second, 999, reason="x")  # type: ignore[arg-type]


def test_approval_rechecks_the_policy_bound_and_writes_nothing_when_refused(bank: Bank) -> None:
    farmer = bank.farmer(1)
    app = bank.apply(farmer, bank.field(farmer, 4.0))
    request = _change(bank, app["id"], 15000.0)["pending_override"]
    assert isinstance(request, dict)
    other = bank.apply(farmer, bank.field(farmer, 12.0, dx=0.01))  # the farmer's other credit grows meanwhile
    assert other["proposed_limit"] > 5000
    second = _second_analyst(bank)
    with bank.db.session(readonly=True) as s:
        audits = s.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(InvalidInput, match="above what the policy allows"):
        approve_override(bank.db, second, request["id"], reason="ok", settings=bank.settings)  # type: ignore[arg-type]
    with bank.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audits
        assert s.scalar(select(OverrideRequest.status).where(OverrideRequest.id == request["id"])) == "pending"


def test_approving_an_override_on_a_declined_application_checks_the_land_again(bank: Bank) -> None:
    farmer, other = bank.farmer(1), bank.farmer(2)
    app = bank.apply(farmer, bank.field(farmer, 4.0))
    decide_application(bank.db, bank.analyst, app["id"], decision="decline", reason="no", settings=bank.settings)
    request = _change(bank, app["id"], 15000.0)["pending_override"]
    assert isinstance(request, dict)
    rival = bank.apply(other, bank.field(other, 4.0))  # the released land is applied for by another farmer
    assert rival["status"] in ("offered", "in_review")
    second = _second_analyst(bank)
    with pytest.raises(Conflict, match="financed once per season"):
        approve_override(bank.db, second, request["id"], reason="ok", settings=bank.settings)  # type: ignore[arg-type]
    assert get_application(bank.db, farmer, app["id"])["status"] == "declined"


@pytest.mark.parametrize("decision", ["approve", "change_limit"])
def test_reopening_a_declined_application_whose_land_another_farmer_holds_is_refused(bank: Bank, decision: str) -> None:
    farmer, other = bank.farmer(1), bank.farmer(2)
    app = bank.apply(farmer, bank.field(farmer, 4.0))
    decide_application(bank.db, bank.analyst, app["id"], decision="decline", reason="no", settings=bank.settings)
    rival = bank.apply(other, bank.field(other, 4.0))  # the released land is applied for by another farmer
    assert rival["status"] in ("offered", "in_review")
    with pytest.raises(Conflict, match="financed once per season"):
        decide_application(
            bank.db,
            bank.analyst,
            app["id"],
            decision=decision,  # type: ignore[arg-type]
            reason="second look",
            new_limit=500.0 if decision == "change_limit" else None,
            settings=bank.settings,
        )
    assert get_application(bank.db, farmer, app["id"])["status"] == "declined"
    assert _actions(bank, app["id"]).count("decline") == 1  # nothing else written
