"""The lending service with the loan ledger, over SQLite (and PostgreSQL when AGRISENSE_TEST_POSTGRES_URL is set).

Scoring is replaced by the credit engine's ``quote`` on the plot's area (the tile batcher is swapped out), so these
tests exercise the service rules, not the imagery: land financed once, the per-farmer cap across plots,
applications and concurrent accepts, the ledger's postings and the bounded override."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import func, select

from agrisense.agronomy.calendar import load_crop_table
from agrisense.config import Settings
from agrisense.credit.engine import quote
from agrisense.credit.money import to_money
from agrisense.credit.policy import load_policy
from agrisense.errors import Conflict, Forbidden, InvalidInput, NotFound
from agrisense.geo import Plot, make_plot
from agrisense.lending import (
    accept_offer,
    active_loans,
    create_plot,
    decide_application,
    portfolio,
    register_user,
    submit_application,
)
from agrisense.lending import scoring as lending_scoring
from agrisense.lending.actors import Actor
from agrisense.lending.applications import cap_to_farmer, get_application
from agrisense.loans.service import (
    apply_monitoring,
    get_loan,
    list_loans,
    post_disbursement,
    post_repayment,
    set_loan_state,
)
from agrisense.store import Application, ApplicationPlot, AuditEntry, Database, Loan, LoanPosting

PASSWORD = "correct-horse-7"
CAP = Decimal("20000.00")


class QuoteBatcher:
    """Stands in for the tile batcher: the engine's quote for each plot (area, declared crop, the exposure given)."""

    def __init__(self) -> None:
        settings = Settings()
        self.crops = load_crop_table(settings.reference_dir / "crops.csv")
        self.policy = load_policy(settings.policy_file)
        self.exposures: list[Decimal] = []

    def score(
        self,
        tile_id: str,
        plots: list[Plot],
        *,
        settings: Settings,
        overlaps: dict[str, float],
        exposure: dict[str, Decimal],
    ) -> dict[str, dict[str, Any]]:
        out = {}
        for p in plots:
            seen = exposure.get(str(p.farmer_id), Decimal(0))
            self.exposures.append(seen)
            out[p.plot_id] = quote(
                p.declared_crop or "maize",
                p.area_ha,
                season=2027,
                crops=self.crops,
                policy=self.policy,
                existing_exposure=seen,
                plot_id=p.plot_id,
                farmer_id=str(p.farmer_id),
                input_supplier="Seed Co",
            ).to_dict()
        return out


@pytest.fixture()
def batcher(monkeypatch: pytest.MonkeyPatch) -> QuoteBatcher:
    fake = QuoteBatcher()
    monkeypatch.setattr(lending_scoring, "_batcher", fake)
    return fake


@dataclass
class Bank:
    db: Database
    settings: Settings
    lon: float
    lat: float
    analyst: Actor
    admin: Actor

    def farmer(self, n: int) -> Actor:
        return register_user(self.db, phone=f"1380000{n:04d}", password=PASSWORD, name=f"Farmer {n}")

    def field(self, who: Actor, ha: float, dx: float = 0.0, dy: float = 0.0) -> int:
        """A square plot of ``ha`` hectares, ``dx``/``dy`` degrees from the region's corner."""
        side = math.sqrt(ha * 10_000)
        dlat = side / 110_574
        dlon = side / (111_320 * math.cos(math.radians(self.lat)))
        lon, lat = self.lon + dx, self.lat + dy
        geometry = json.loads(shapely.to_geojson(shapely.box(lon, lat, lon + dlon, lat + dlat)))
        return int(create_plot(self.db, who, geometry=geometry, settings=self.settings, declared_crop="maize")["id"])

    def apply(self, who: Actor, *plots: int) -> dict[str, Any]:
        return submit_application(self.db, who, plot_ids=list(plots), consent=True, settings=self.settings)


def _bank(db: Database, small_region: Path, tmp_path: Path) -> Bank:
    region = json.loads((small_region / "region.json").read_text())
    settings = Settings(region_dir=small_region, state_dir=tmp_path)
    analyst = register_user(db, phone="13900000001", password=PASSWORD, name="Analyst", role="analyst")
    admin = register_user(db, phone="13900000002", password=PASSWORD, name="Core system", role="admin")
    lon, lat = region["bbox_lonlat"][0] + 0.001, region["bbox_lonlat"][1] + 0.001
    return Bank(db, settings, lon, lat, analyst, admin)


@pytest.fixture(params=["sqlite_db", "postgis_db"])
def bank(request: pytest.FixtureRequest, small_region: Path, tmp_path: Path, batcher: QuoteBatcher) -> Iterator[Bank]:
    """The same rules on SQLite and on PostgreSQL (skipped without AGRISENSE_TEST_POSTGRES_URL)."""
    yield _bank(request.getfixturevalue(request.param), small_region, tmp_path)


def _count(db: Database, model: Any) -> int:
    with db.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# --- 1. land financed once per season -------------------------------------------------------------------------------


def test_same_field_drawn_twice_by_one_farmer_is_refused(bank: Bank) -> None:
    farmer = bank.farmer(1)
    first = bank.field(farmer, 8.54)
    app = bank.apply(farmer, first)
    assert app["status"] in ("offered", "in_review") and app["plots"][0]["area_ha"] == pytest.approx(8.54, abs=0.02)
    again = bank.field(farmer, 8.54)  # the same 8.54 ha drawn a second time
    apps_before = _count(bank.db, Application)
    with pytest.raises(Conflict, match="financed once per season") as err:
        bank.apply(farmer, again)
    assert f"plot {first}" in str(err.value) and f"application {app['id']}" in str(err.value)
    assert _count(bank.db, Application) == apps_before
    other = bank.farmer(2)  # another farmer's outline over it: refused too
    with pytest.raises(Conflict, match="another farmer's plot"):
        bank.apply(other, bank.field(other, 8.54))
    with pytest.raises(Conflict, match="overlap"):  # both drawings in one application
        bank.apply(other, bank.field(other, 1.0, dx=0.01), bank.field(other, 1.0, dx=0.01))
    # once the first application is declined, the land is free again
    decide_application(bank.db, bank.analyst, app["id"], decision="decline", reason="duplicate", settings=bank.settings)
    assert bank.apply(farmer, again)["status"] in ("offered", "in_review")


def test_land_of_a_repaid_loan_can_be_financed_next_season(bank: Bank) -> None:
    farmer = bank.farmer(1)
    plot = bank.field(farmer, 2.0)
    app = _offered(bank, farmer, plot)
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    loan = list_loans(bank.db, farmer)[0]
    with pytest.raises(Conflict):
        bank.apply(farmer, bank.field(farmer, 2.0))
    assert [r["loan_id"] for r in portfolio(bank.db, farmer)] == [app["id"]]
    _repay_all(bank, loan)
    assert get_loan(bank.db, farmer, loan["id"])["state"] == "repaid"
    assert portfolio(bank.db, farmer) == [] and active_loans(bank.db) == []  # no longer on the book
    assert bank.apply(farmer, bank.field(farmer, 2.0))["status"] in ("offered", "in_review")


# --- 2. the per-farmer cap -----------------------------------------------------------------------------------------


def test_each_plot_sees_the_exposure_of_the_earlier_plots(batcher: QuoteBatcher) -> None:
    plots = [
        make_plot(
            {
                "geometry": json.loads(shapely.to_geojson(shapely.box(33 + k * 0.02, 1, 33.0105 + k * 0.02, 1.0105))),
                "properties": {"plot_id": f"p{k}", "farmer_id": "7", "declared_crop": "maize"},
            }
        )
        for k in range(3)
    ]
    assert all(p.area_ha > 130 for p in plots)  # three ~133 ha plots in one application
    scored = lending_scoring.score_application(plots, settings=Settings(), overlaps={}, existing_exposure={})
    assert sum(Decimal(str(o["credit_limit"])) for o in scored) > 2 * CAP  # what the engine alone offers per plot
    offers = cap_to_farmer(scored, Decimal("1500"), batcher.policy, batcher.crops)
    limits = [Decimal(str(o["credit_limit"])) for o in offers]
    assert limits[0] == Decimal(str(scored[0]["credit_limit"])) and limits[1] == CAP - Decimal("1500") - limits[0]
    assert sum(limits) + Decimal("1500") <= CAP and limits[2] == 0
    assert offers[-1]["decision"] == "decline" and offers[-1]["reasons"][0]["code"] == "LIMIT_BELOW_MINIMUM"
    for o in offers:
        assert sum(Decimal(str(d["amount"])) for d in o["disbursements"]) == Decimal(str(o["credit_limit"]))


def _offered(bank: Bank, farmer: Actor, *plots: int) -> dict[str, Any]:
    app = bank.apply(farmer, *plots)
    if app["status"] != "offered":
        app = decide_application(
            bank.db, bank.analyst, app["id"], decision="approve", reason="checked", settings=bank.settings
        )
    assert app["status"] == "offered" and app["credit_limit"] > 0
    return app


def test_offers_above_the_cap_cannot_all_be_accepted_in_parallel(bank: Bank) -> None:
    _parallel_accepts(bank)


def _parallel_accepts(bank: Bank) -> None:
    farmer = bank.farmer(1)
    ids = [
        _offered(bank, farmer, bank.field(farmer, 2.0, dx=0.003 * (k % 3), dy=0.003 * (k // 3)))["id"] for k in range(6)
    ]
    with bank.db.session() as s:  # six offers of 5,000 (30,000 in all), as older submissions left them
        for app_id in ids:
            row = s.get(Application, app_id)
            assert row is not None
            row.offers = [_scaled(o, Decimal("5000")) for o in row.offers]
            row.credit_limit = row.proposed_limit = Decimal("5000.00")
    results: list[str] = []
    barrier = threading.Barrier(len(ids))

    def accept(app_id: int) -> None:
        barrier.wait()
        try:
            accept_offer(bank.db, farmer, app_id, settings=bank.settings)
            results.append("accepted")
        except Conflict as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=accept, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results.count("accepted") == 4, results
    assert all("above the 20,000.00" in r for r in results if r != "accepted")
    loans = list_loans(bank.db, farmer)
    assert len(loans) == 4 and sum(Decimal(str(x["credit_limit"])) for x in loans) == CAP


def _scaled(offer: dict[str, Any], limit: Decimal) -> dict[str, Any]:
    from agrisense.loans.terms import reprice_offer

    policy = load_policy(Settings().policy_file)
    crops = load_crop_table(Settings().reference_dir / "crops.csv")
    return reprice_offer(offer, limit, policy, crops)


def test_open_offers_count_towards_the_cap_of_the_next_application(bank: Bank) -> None:
    farmer = bank.farmer(1)
    first = bank.apply(farmer, bank.field(farmer, 15.0))
    open_limit = Decimal(str(first["proposed_limit"]))
    assert open_limit > CAP / 2
    second = bank.apply(farmer, bank.field(farmer, 15.0, dx=0.006))
    assert open_limit + Decimal(str(second["proposed_limit"])) <= CAP
    assert "EXISTING_EXPOSURE" in [r["code"] for r in second["offer"]["offers"][0]["reasons"]]


# --- 3. the ledger -------------------------------------------------------------------------------------------------


def _confirm_emergence(bank: Bank, loan: dict[str, Any]) -> dict[str, Any]:
    """In-season monitoring confirms emergence (before any tranche date): conditional tranches may be paid out."""
    seen = min(date.fromisoformat(t["date"]) for t in loan["tranches"])
    plots = [{"plot_id": "p", "emerged": seen, "frozen_dates": []}]
    return apply_monitoring(bank.db, loan["id"], run_id="confirmed", as_of=seen, plots=plots)


def _draw_all(bank: Bank, loan: dict[str, Any]) -> dict[str, Any]:
    """Emergence confirmed and every tranche not yet paid out paid out on its date."""
    loan = _confirm_emergence(bank, loan)
    for t in loan["tranches"]:
        if not t["disbursed"]:
            loan = post_disbursement(
                bank.db,
                bank.admin,
                loan["id"],
                client_key=f"d{t['index']}",
                tranche=t["index"],
                on=date.fromisoformat(t["date"]),
            )
    return loan


def _repay_all(bank: Bank, loan: dict[str, Any]) -> dict[str, Any]:
    loan = _draw_all(bank, loan)
    due = loan["schedule"][-1]["date"]
    owed = get_loan(bank.db, bank.admin, loan["id"])
    from agrisense.loans.service import loan_view  # the balance on the due date

    with bank.db.session(readonly=True) as s:
        row = s.get(Loan, loan["id"])
        assert row is not None
        _ = row.postings
        balance = loan_view(row, date.fromisoformat(due))["balance"]
    assert owed["state"] == "disbursed"
    return post_repayment(
        bank.db, bank.admin, loan["id"], client_key="final", amount=str(to_money(balance)), on=date.fromisoformat(due)
    )


def test_loan_lifecycle_postings_idempotent_and_offer_view_ledger_agree(bank: Bank) -> None:
    farmer = bank.farmer(1)
    app = _offered(bank, farmer, bank.field(farmer, 2.0))
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    (loan,) = list_loans(bank.db, farmer)
    (offer,) = get_application(bank.db, farmer, app["id"])["offer"]["offers"]
    assert loan["state"] == "accepted" and loan["credit_limit"] == app["credit_limit"] == offer["credit_limit"]
    assert loan["annual_rate"] == offer["annual_rate"]
    assert [(t["date"], t["amount"], t["payee"]) for t in loan["tranches"]] == [
        (d["date"], d["amount"], d["payee"]) for d in offer["disbursements"]
    ]
    assert loan["tranches"][0]["payee"] == "Seed Co"
    assert loan["next_due_date"] == offer["schedule"][0]["date"]
    assert loan["next_due_amount"] == offer["schedule"][0]["total"]

    first = loan["tranches"][0]
    d1 = post_disbursement(
        bank.db, bank.admin, loan["id"], client_key="core-1", tranche=0, on=date.fromisoformat(first["date"])
    )
    again = post_disbursement(
        bank.db, bank.admin, loan["id"], client_key="core-1", tranche=0, on=date.fromisoformat(first["date"])
    )
    assert d1["state"] == "disbursed" and len(again["postings"]) == 1 and again["drawn"] == first["amount"]
    with pytest.raises(Conflict, match="already paid out"):
        post_disbursement(bank.db, bank.admin, loan["id"], client_key="core-2", tranche=0)
    second = loan["tranches"][1]
    assert second["condition"] == "emergence_confirmed" and second["status"] == "awaiting_emergence"
    with pytest.raises(Conflict, match="awaiting_emergence"):  # not before monitoring confirms emergence
        post_disbursement(bank.db, bank.admin, loan["id"], client_key="core-2", tranche=1)
    assert _confirm_emergence(bank, loan)["tranches"][1]["status"] == "available"
    post_disbursement(
        bank.db, bank.admin, loan["id"], client_key="core-2", tranche=1, on=date.fromisoformat(second["date"])
    )
    due = offer["schedule"][0]
    part = post_repayment(
        bank.db, bank.admin, loan["id"], client_key="r1", amount="100.00", on=date.fromisoformat(due["date"])
    )
    same = post_repayment(
        bank.db, bank.admin, loan["id"], client_key="r1", amount="100.00", on=date.fromisoformat(due["date"])
    )
    assert same["repaid"] == part["repaid"] == 100.0 and len(same["postings"]) == 3
    assert Decimal(str(part["balance"])) + Decimal("100") == Decimal(str(due["total"]))  # ledger == offer, to the cent
    with pytest.raises(Conflict, match="another posting"):
        post_repayment(
            bank.db, bank.admin, loan["id"], client_key="r1", amount="200.00", on=date.fromisoformat(due["date"])
        )
    with pytest.raises(InvalidInput, match="more than"):
        post_repayment(
            bank.db,
            bank.admin,
            loan["id"],
            client_key="r2",
            amount=str(Decimal(str(part["balance"])) + 1),
            on=date.fromisoformat(due["date"]),
        )
    done = post_repayment(
        bank.db,
        bank.admin,
        loan["id"],
        client_key="r3",
        amount=str(part["balance"]),
        on=date.fromisoformat(due["date"]),
    )
    assert done["state"] == "repaid" and done["balance"] == 0 and done["next_due_date"] is None
    assert Decimal(str(done["repaid"])) == Decimal(str(due["total"]))
    with bank.db.session(readonly=True) as s:
        assert not s.scalars(select(ApplicationPlot.active).where(ApplicationPlot.application_id == app["id"])).all()[0]
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.application_id == app["id"])).all()
    assert actions.count("loan_disbursement") == 2 and actions.count("loan_repayment") == 2
    assert "loan_disbursed" in actions and "loan_repaid" in actions


def test_bad_postings_are_refused_and_write_nothing(bank: Bank) -> None:
    farmer, other = bank.farmer(1), bank.farmer(2)
    app = _offered(bank, farmer, bank.field(farmer, 2.0))
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    (loan,) = list_loans(bank.db, farmer)
    postings, audits = _count(bank.db, LoanPosting), _count(bank.db, AuditEntry)
    with pytest.raises(Forbidden):
        post_disbursement(bank.db, farmer, loan["id"], client_key="k", tranche=0)
    with pytest.raises(NotFound):
        post_repayment(bank.db, bank.admin, 999, client_key="k", amount="1")
    with pytest.raises(NotFound):
        get_loan(bank.db, other, loan["id"])
    assert list_loans(bank.db, other) == []
    with pytest.raises(InvalidInput):
        post_repayment(bank.db, bank.admin, loan["id"], client_key="k", amount="-5")
    with pytest.raises(InvalidInput):
        post_disbursement(bank.db, bank.admin, loan["id"], client_key="k", tranche=7)
    with pytest.raises(Conflict, match="nothing was paid out"):
        post_repayment(bank.db, bank.admin, loan["id"], client_key="k", amount="1")
    with pytest.raises(InvalidInput, match="reason"):
        set_loan_state(bank.db, bank.admin, loan["id"], state="overdue", reason=" ")
    with pytest.raises(Conflict, match="cannot become"):
        set_loan_state(bank.db, bank.admin, loan["id"], state="written_off", reason="gone")
    assert (_count(bank.db, LoanPosting), _count(bank.db, AuditEntry)) == (postings, audits)


def test_overdue_default_and_write_off_are_audited(bank: Bank) -> None:
    farmer = bank.farmer(1)
    app = _offered(bank, farmer, bank.field(farmer, 2.0))
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    (loan,) = list_loans(bank.db, farmer)
    post_disbursement(bank.db, bank.admin, loan["id"], client_key="d0", tranche=0)
    for state in ("overdue", "defaulted", "written_off"):
        assert (
            set_loan_state(bank.db, bank.analyst, loan["id"], state=state, reason=f"{state} per policy")["state"]
            == state
        )
    with bank.db.session(readonly=True) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action.like("loan_%")).order_by(AuditEntry.id)).all()
    assert [(r.action, r.actor_role) for r in rows][-3:] == [
        ("loan_overdue", "analyst"),
        ("loan_defaulted", "analyst"),
        ("loan_written_off", "analyst"),
    ]
    assert rows[-1].reason == "written_off per policy" and rows[-1].details["before"] == "defaulted"


# --- 4. bounded overrides ------------------------------------------------------------------------------------------


def test_override_is_bounded_and_reprices_the_offer(bank: Bank) -> None:
    farmer = bank.farmer(1)
    app = bank.apply(farmer, bank.field(farmer, 2.0))
    area = Decimal(str(app["plots"][0]["area_ha"]))
    cap = to_money(Decimal(6000) * area)
    audits = _count(bank.db, AuditEntry)
    with pytest.raises(InvalidInput, match="above what the policy allows"):
        decide_application(
            bank.db,
            bank.analyst,
            app["id"],
            decision="change_limit",
            reason="visit",
            new_limit=float(cap + 1),
            settings=bank.settings,
        )
    assert _count(bank.db, AuditEntry) == audits
    new = decide_application(
        bank.db,
        bank.analyst,
        app["id"],
        decision="change_limit",
        reason="visit",
        new_limit=1234.56,
        settings=bank.settings,
    )
    (offer,) = new["offer"]["offers"]
    assert new["credit_limit"] == offer["credit_limit"] == 1234.56
    assert sum(Decimal(str(d["amount"])) for d in offer["disbursements"]) == Decimal("1234.56")
    accept_offer(bank.db, farmer, app["id"], settings=bank.settings)
    (loan,) = list_loans(bank.db, farmer)
    assert loan["credit_limit"] == 1234.56 and loan["next_due_amount"] == offer["schedule"][0]["total"]
    assert [t["amount"] for t in loan["tranches"]] == [d["amount"] for d in offer["disbursements"]]


def test_override_is_bounded_by_the_farmers_other_credit(bank: Bank) -> None:
    farmer = bank.farmer(1)
    big = _offered(bank, farmer, bank.field(farmer, 3.0))
    accept_offer(bank.db, farmer, big["id"], settings=bank.settings)
    other = Decimal(str(big["credit_limit"]))
    app = bank.apply(farmer, bank.field(farmer, 3.0, dx=0.01))
    with pytest.raises(InvalidInput, match="per farmer less"):
        decide_application(
            bank.db,
            bank.analyst,
            app["id"],
            decision="change_limit",
            reason="visit",
            new_limit=float(CAP - other + 1),
            settings=bank.settings,
        )


def test_seeded_accepted_offers_are_booked_loans(sqlite_db: Database, small_region: Path, tmp_path: Path) -> None:
    from agrisense.lending import seed_sample_county

    fake = QuoteBatcher()
    features = json.loads((small_region / "plots.geojson").read_text())["features"][:4]
    offers = []
    for f in features:
        plot = make_plot(f)
        offer = quote(
            "maize",
            plot.area_ha,
            season=2027,
            crops=fake.crops,
            policy=fake.policy,
            plot_id=str(f["properties"]["plot_id"]),
            farmer_id=str(f["properties"]["farmer_id"]),
        )
        offers.append({**offer.to_dict(), "geometry": f["geometry"]})
    summary = seed_sample_county(sqlite_db, Settings(region_dir=small_region, state_dir=tmp_path), offers)
    assert summary["accepted"] >= 1
    assert _count(sqlite_db, Loan) == summary["accepted"]


def test_the_same_field_submitted_twice_at_once_is_financed_once(bank: Bank) -> None:
    farmer = bank.farmer(1)
    plots = [bank.field(farmer, 3.0), bank.field(farmer, 3.0)]  # one field drawn twice
    results: list[str] = []
    barrier = threading.Barrier(2)

    def submit(plot_id: int) -> None:
        barrier.wait()
        try:
            results.append(bank.apply(farmer, plot_id)["status"])
        except Conflict as exc:
            results.append(f"conflict: {exc}")

    threads = [threading.Thread(target=submit, args=(p,)) for p in plots]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(r.split(":")[0] for r in results) in (["conflict", "offered"], ["conflict", "in_review"]), results
