"""The loan routes over the real app: a farmer's own loans, staff postings (idempotent), bad input refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from agrisense.loans.service import apply_monitoring
from agrisense.store import AuditEntry, LoanPosting
from tests.api.conftest import PASSWORD, World

V1 = "/api/v1"


def _count(world: World, model: Any) -> int:
    with world.db.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _loan(world: World) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """A new farmer with an accepted offer: (their headers, the application, the loan)."""
    c = world.client
    r = c.post(f"{V1}/auth/register", json={"phone": "13700000077", "password": PASSWORD, "name": "Farmer L"})
    assert r.status_code == 201, r.text
    h = world.login("13700000077")
    assert c.get(f"{V1}/loans", headers=h).json() == []
    for feature in world.features[5:]:
        crop = feature["properties"]["declared_crop"]
        plot = c.post(f"{V1}/plots", json={"geometry": feature["geometry"], "declared_crop": crop}, headers=h).json()
        r = c.post(f"{V1}/applications", json={"plot_ids": [plot["id"]], "consent": True}, headers=h)
        if r.status_code == 201 and r.json()["status"] != "declined":
            break
    app = r.json()
    decide = f"{V1}/review/applications/{app['id']}/decision"
    too_much = c.post(
        decide,
        json={"decision": "change_limit", "reason": "visit", "new_limit": 999_999},
        headers=world.headers["analyst"],
    )
    assert too_much.status_code == 422 and "above what the policy allows" in too_much.json()["detail"]
    r = c.post(
        decide,
        json={"decision": "change_limit", "reason": "visit", "new_limit": 1500.5},
        headers=world.headers["analyst"],
    )
    assert r.status_code == 200, r.text
    app = r.json()
    assert app["credit_limit"] == 1500.5
    r = c.post(f"{V1}/applications/{app['id']}/accept", headers=h)
    assert r.status_code == 200, r.text
    loans = c.get(f"{V1}/loans", headers=h).json()
    assert len(loans) == 1
    return h, app, loans[0]


def test_loan_routes(world: World) -> None:
    c, admin = world.client, world.headers["admin"]
    h, app, loan = _loan(world)
    (offer,) = app["offer"]["offers"]
    assert loan["state"] == "accepted" and loan["balance"] == 0 and loan["credit_limit"] == 1500.5
    assert loan["next_due_date"] == offer["schedule"][0]["date"]
    assert loan["next_due_amount"] == offer["schedule"][0]["total"]  # offer, farmer view and ledger agree
    assert sum(Decimal(str(t["amount"])) for t in loan["tranches"]) == Decimal("1500.50")
    url = f"{V1}/loans/{loan['id']}"
    assert c.get(url, headers=world.headers["b"]).status_code == 404  # another farmer's loan
    assert c.get(url, headers=admin).status_code == 200

    before = (_count(world, LoanPosting), _count(world, AuditEntry))
    body = {"client_key": "core-d0", "tranche": 0, "date": loan["tranches"][0]["date"]}
    r = c.post(f"{url}/disbursements", json=body, headers=h)
    assert r.status_code == 403 and r.json()["error"] == "Forbidden"
    assert c.post(f"{V1}/loans/999999/disbursements", json=body, headers=admin).status_code == 404
    r = c.post(f"{url}/repayments", json={"client_key": "r", "amount": -5}, headers=admin)
    assert r.status_code == 422 and r.json()["error"] == "InvalidInput"
    r = c.post(f"{url}/repayments", json={"client_key": "r", "amount": 5}, headers=admin)
    assert r.status_code == 409  # nothing paid out yet
    assert c.post(f"{url}/disbursements", json={**body, "tranche": 9}, headers=admin).status_code == 422
    assert (_count(world, LoanPosting), _count(world, AuditEntry)) == before

    r = c.post(f"{url}/disbursements", json=body, headers=admin)
    assert r.status_code == 200, r.text
    again = c.post(f"{url}/disbursements", json=body, headers=admin).json()
    assert again == c.get(url, headers=admin).json() and len(again["postings"]) == 1 and again["state"] == "disbursed"
    for t in again["tranches"][1:]:
        if t["status"] == "awaiting_emergence":  # a conditional tranche: 409 until monitoring confirms emergence
            r = c.post(f"{url}/disbursements", json={"client_key": "early", "tranche": t["index"]}, headers=admin)
            assert r.status_code == 409 and "emergence" in r.json()["detail"]
            seen = date.fromisoformat(again["tranches"][0]["date"])
            plots = [{"plot_id": "p", "emerged": seen, "frozen_dates": []}]
            view = apply_monitoring(world.db, loan["id"], run_id="r", as_of=seen, plots=plots)
            assert view["tranches"][t["index"]]["status"] == "available"
        r = c.post(
            f"{url}/disbursements",
            json={"client_key": f"core-d{t['index']}", "tranche": t["index"], "date": t["date"]},
            headers=admin,
        )
        assert r.status_code == 200, r.text
    due = offer["schedule"][0]
    over = {"client_key": "r1", "amount": due["total"] + 0.01, "date": due["date"]}
    r = c.post(f"{url}/repayments", json=over, headers=admin)
    assert r.status_code == 422 and "more than" in r.json()["detail"]
    r = c.post(f"{url}/repayments", json={**over, "amount": due["total"]}, headers=admin)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "repaid" and done["balance"] == 0 and done["repaid"] == due["total"]
    mine = c.get(f"{V1}/loans/{loan['id']}", headers=h).json()
    assert mine["state"] == "repaid" and mine["next_due_date"] is None
