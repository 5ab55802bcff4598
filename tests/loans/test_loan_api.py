"""The loan review routes over the real app on the bank's SQLite database (the service tests cover PostgreSQL):
four-eyes overrides; thin routes with response models over the service functions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agrisense.lending import register_user
from agrisense.lending import scoring as lending_scoring
from agrisense.store import Database
from tests.loans.test_service import PASSWORD, Bank, QuoteBatcher, _bank, _offered

V1 = "/api/v1"


@dataclass
class Api:
    client: TestClient
    bank: Bank

    def login(self, phone: str) -> dict[str, str]:
        r = self.client.post(f"{V1}/auth/token", data={"username": phone, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture()
def api(sqlite_db: Database, small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The app over the bank's SQLite file (``sqlite_db`` is tmp_path/test.db); scoring is the engine's quote."""
    from agrisense.app.api.main import create_app

    bank = _bank(sqlite_db, small_region, tmp_path)
    settings = bank.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'test.db'}"})
    with TestClient(create_app(settings)) as client, monkeypatch.context() as patch:
        patch.setattr(lending_scoring, "_batcher", QuoteBatcher())  # after the app set up its own, until it stops
        yield Api(client, bank)


def test_override_routes_four_eyes(api: Api) -> None:
    bank, c = api.bank, api.client
    farmer = bank.farmer(1)
    app = bank.apply(farmer, bank.field(farmer, 4.0))
    register_user(bank.db, phone="13900000003", password=PASSWORD, name="Second analyst", role="analyst")
    first, second = api.login("13900000001"), api.login("13900000003")
    farmer_h = api.login("13800000001")
    body = {"decision": "change_limit", "reason": "field visit", "new_limit": 15000}
    r = c.post(f"{V1}/review/applications/{app['id']}/decision", json=body, headers=first)
    assert r.status_code == 200, r.text
    assert r.json()["pending_override"]["new_limit"] == 15000 and r.json()["credit_limit"] == app["credit_limit"]
    assert c.get(f"{V1}/review/overrides", headers=farmer_h).status_code == 403
    (queued,) = c.get(f"{V1}/review/overrides", headers=first).json()
    assert queued["status"] == "pending" and queued["requested_by_name"] == "Analyst"
    url = f"{V1}/review/overrides/{queued['id']}"
    r = c.post(f"{url}/approve", json={"reason": "mine"}, headers=first)
    assert r.status_code == 403 and "four-eyes" in r.json()["detail"]
    assert c.post(f"{url}/approve", json={"reason": ""}, headers=second).status_code == 422
    assert c.post(f"{V1}/review/overrides/999/approve", json={"reason": "x"}, headers=second).status_code == 404
    r = c.post(f"{url}/approve", json={"reason": "checked the visit"}, headers=second)
    assert r.status_code == 200, r.text
    assert r.json()["credit_limit"] == 15000 and r.json()["pending_override"] is None
    assert c.post(f"{url}/reject", json={"reason": "late"}, headers=second).status_code == 409
    assert c.get(f"{V1}/review/overrides", headers=first).json() == []
    (done,) = c.get(f"{V1}/review/overrides", params={"status": "approved"}, headers=first).json()
    assert done["decided_by_name"] == "Second analyst" and done["decision_reason"] == "checked the visit"


def test_exposure_route_reads_the_ledger(api: Api) -> None:
    from datetime import date

    from agrisense.lending import accept_offer
    from agrisense.loans.service import list_loans, post_disbursement

    bank, c = api.bank, api.client
    farmer = bank.farmer(1)
    app = _offered(bank, farmer, bank.field(farmer, 3.0))
    accept_offer(bank.db, farmer, app["id"])
    (loan,) = list_loans(bank.db, farmer)
    day = loan["tranches"][0]["date"]
    post_disbursement(bank.db, bank.admin, loan["id"], client_key="d0", tranche=0, on=date.fromisoformat(day))
    analyst = api.login("13900000001")
    r = c.get(f"{V1}/loans/exposure", params={"as_of": day}, headers=analyst)
    assert r.status_code == 200, r.text
    book = r.json()
    (row,) = book["rows"]
    assert row["outstanding_principal"] == loan["tranches"][0]["amount"] == book["totals"]["drawn"]
    assert row["committed_undrawn"] == loan["tranches"][1]["amount"]
    assert book["accepted_limits"] == loan["credit_limit"] == book["totals"]["exposure"]
    mine = c.get(f"{V1}/loans/exposure", headers=api.login("13800000001")).json()
    assert [r["loan_id"] for r in mine["rows"]] == [loan["id"]]
    assert c.get(f"{V1}/loans/exposure", params={"as_of": "soon"}, headers=analyst).status_code == 422


def test_state_and_delinquency_routes(api: Api) -> None:
    from datetime import date, timedelta

    from agrisense.lending import accept_offer
    from agrisense.loans.service import list_loans
    from tests.loans.test_servicing import _disbursed

    bank, c = api.bank, api.client
    _, loan = _disbursed(bank, 1)
    farmer2 = bank.farmer(2)
    other = _offered(bank, farmer2, bank.field(farmer2, 2.0, dx=0.008))
    accept_offer(bank.db, farmer2, other["id"])
    (booked,) = list_loans(bank.db, farmer2)
    analyst, farmer_h = api.login("13900000001"), api.login("13800000001")
    due = date.fromisoformat(loan["schedule"][0]["date"])
    r = c.post(f"{V1}/loans/delinquency", json={"as_of": (due + timedelta(days=2)).isoformat()}, headers=farmer_h)
    assert r.status_code == 403
    r = c.post(f"{V1}/loans/delinquency", json={"as_of": (due + timedelta(days=2)).isoformat()}, headers=analyst)
    assert r.status_code == 200, r.text
    assert r.json()["overdue"] == [loan["id"]] and r.json()["checked"] == 1
    mine = c.get(f"{V1}/loans", headers=farmer_h).json()
    assert mine[0]["state"] == "overdue"  # the farmer's my loans shows it

    url = f"{V1}/loans/{booked['id']}/state"
    assert c.post(url, json={"state": "defaulted", "reason": "x"}, headers=farmer_h).status_code in (403, 404)
    r = c.post(url, json={"state": "written_off", "reason": "gone"}, headers=analyst)
    assert r.status_code == 409  # nothing paid out: not a state it can take
    assert c.post(url, json={"state": "repaid", "reason": "x"}, headers=analyst).status_code == 422
    r = c.post(f"{V1}/loans/{loan['id']}/state", json={"state": "defaulted", "reason": "farmer left"}, headers=analyst)
    assert r.status_code == 200 and r.json()["state"] == "defaulted"
