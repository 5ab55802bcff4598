"""A stateful property test of the lending service and the loan ledger (#13): random farmers, plots (overlapping
ones included), applications, bounded overrides, accepts, emergence confirmations, disbursements and repayments,
on SQLite (and PostgreSQL when AGRISENSE_TEST_POSTGRES_URL is set, fewer examples). After every step:

* exposure (accepted limits of loans not repaid + open offers) <= the policy's ``max_per_farmer`` per farmer;
* no land under two active loans (plots of two different live applications never overlap);
* the ledger reconciles: disbursed - repaid principal = principal outstanding >= 0, drawn = the disbursement
  postings, balance >= 0, and a loan is ``repaid`` exactly when something was paid out and nothing is owed;
* every decision is audited: each application has its ``engine_decision`` entry, each accepted one its ``accept``,
  each override its ``change_limit`` and each posting a ``loan_*`` entry naming it;
* four-eyes: an override above ``loans.second_approval_above`` waits (``change_limit_requested``) until a second
  analyst approves or rejects it, and no request is decided by the analyst who asked for it.

Scoring is the credit engine's ``quote`` on the plot's area (test_service's ``QuoteBatcher``), not imagery."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from shapely.geometry import shape
from sqlalchemy import select

from agrisense.credit.policy import load_policy
from agrisense.errors import AgrisenseError
from agrisense.lending import accept_offer, decide_application, register_user
from agrisense.lending import scoring as lending_scoring
from agrisense.lending.overrides import approve_override, list_overrides, reject_override
from agrisense.loans.booking import ledger_postings
from agrisense.loans.ledger import drawn_tranches, position
from agrisense.loans.service import apply_monitoring, post_disbursement, post_repayment
from agrisense.loans.terms import terms_from_json
from agrisense.store import Application, ApplicationPlot, AuditEntry, Database, FarmPlot, Loan, OverrideRequest
from tests.databases import postgres_base_url
from tests.loans.test_service import PASSWORD, QuoteBatcher, _bank

POLICY = load_policy(__import__("agrisense.config", fromlist=["Settings"]).Settings().policy_file)
CAP = Decimal(str(POLICY.limits.max_per_farmer))
SLOTS = 12  # plot positions on a 4 x 3 grid; two plots on one slot overlap (the same land drawn twice)


class Databases:
    """Fresh migrated databases, one per example: SQLite files, or PostgreSQL schemas (dropped at the end)."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.tmp = kind, tmp
        self.made: list[tuple[Database, str]] = []

    def __call__(self) -> Database:
        n = len(self.made)
        schema = ""
        if self.kind == "sqlite":
            db = Database(f"sqlite:///{self.tmp / f'example{n}.db'}")
        else:
            base = postgres_base_url()
            assert base is not None
            schema = f"agrisense_prop_{uuid.uuid4().hex[:12]}"
            engine = sa.create_engine(base)
            with engine.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            engine.dispose()
            db = Database(f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema},public")
        db.upgrade()
        if self.made:  # only the current example's database stays open
            self.made[-1][0].dispose()
        self.made.append((db, schema))
        return db

    def close(self) -> None:
        for db, schema in self.made:
            db.dispose()
            if schema:
                engine = sa.create_engine(str(postgres_base_url()))
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                engine.dispose()


class LendingMachine(RuleBasedStateMachine):
    new_db: Callable[[], Database]  # set by the test before the machine runs
    region: Path
    tmp: Path
    seen: Counter[str] = Counter()  # successful steps over all examples (the test checks the ledger was exercised)

    farmers = Bundle("farmers")
    plots = Bundle("plots")
    apps = Bundle("apps")

    def __init__(self) -> None:
        super().__init__()
        self.bank = _bank(self.new_db(), self.region, self.tmp)  # a fresh database per example (audit is append-only)
        self.n_farmers = 0
        self.owner: dict[int, Any] = {}  # plot id -> farmer actor
        self.app_owner: dict[int, Any] = {}
        self.overrides = 0
        self.requested = 0
        self.second = register_user(
            self.bank.db, phone="13900000003", password=PASSWORD, name="Second analyst", role="analyst"
        )

    @initialize(target=farmers)
    def first_farmer(self) -> Any:
        return self.new_farmer()

    @rule(target=farmers)
    def new_farmer(self) -> Any:
        self.n_farmers += 1
        return self.bank.farmer(self.n_farmers)

    @rule(target=plots, farmer=farmers, slot=st.integers(0, SLOTS - 1), ha=st.sampled_from([1.5, 4.0, 9.0]))
    def draw_plot(self, farmer: Any, slot: int, ha: float) -> int:
        plot = self.bank.field(farmer, ha, dx=0.0045 * (slot % 4), dy=0.004 * (slot // 4))
        self.owner[plot] = farmer
        return plot

    @rule(target=apps, plots=st.lists(plots, min_size=1, max_size=2, unique=True), accept_now=st.booleans())
    def apply(self, plots: list[int], accept_now: bool) -> int:
        farmer = self.owner[plots[0]]
        mine = [p for p in plots if self.owner[p].user_id == farmer.user_id]
        try:
            app = self.bank.apply(farmer, *mine)
        except AgrisenseError:  # land already financed, overlapping plots of one application: 409
            self.seen["refused_application"] += 1
            return -1
        self.app_owner[int(app["id"])] = farmer
        if accept_now:  # accepted and the first tranche paid out at once: more steps reach the ledger
            self.accept(int(app["id"]))
            self.disburse(int(app["id"]), 0)
            self.repay(int(app["id"]), Decimal("0.3"), 30)
        return int(app["id"])

    @rule(app=apps, limit=st.sampled_from([500.0, 2000.0, 6000.0, 15000.0, 25000.0]))
    def change_limit(self, app: int, limit: float) -> None:
        if app < 0:
            return
        try:
            view = decide_application(
                self.bank.db,
                self.bank.analyst,
                app,
                decision="change_limit",
                reason="field visit",
                new_limit=limit,
                settings=self.bank.settings,
            )
        except AgrisenseError:  # above the bounds (422), not open or a request already pending (409)
            return
        if view["pending_override"] is not None:  # above the four-eyes threshold: nothing changed yet
            assert limit > POLICY.loans.second_approval_above
            self.requested += 1
            self.seen["change_limit_requested"] += 1
        else:
            self.overrides += 1
            self.seen["change_limit"] += 1

    @rule(approve=st.booleans())
    def second_analyst_decides(self, approve: bool) -> None:
        for request in list_overrides(self.bank.db, self.bank.analyst):
            try:
                if approve:
                    approve_override(self.bank.db, self.second, request["id"], reason="ok", settings=self.bank.settings)
                    self.overrides += 1
                    self.seen["override_approved"] += 1
                else:
                    reject_override(self.bank.db, self.second, request["id"], reason="no")
            except AgrisenseError:  # the bound moved (422), the application was accepted meanwhile (409)
                pass

    @rule(app=apps)
    def accept(self, app: int) -> None:
        if app < 0:
            return
        with contextlib.suppress(AgrisenseError):  # not offered, over the cap (409)
            accept_offer(self.bank.db, self.app_owner[app], app)
            self.seen["accept"] += 1

    def _loan(self, app: int) -> Loan | None:
        with self.bank.db.session(readonly=True) as s:
            loan = s.scalar(select(Loan).where(Loan.application_id == app))
            if loan is not None:
                s.expunge(loan)
            return loan

    def _last(self, loan_id: int) -> date | None:
        from agrisense.store import LoanPosting

        with self.bank.db.session(readonly=True) as s:
            return s.scalar(
                select(LoanPosting.on_date)
                .where(LoanPosting.loan_id == loan_id)
                .order_by(LoanPosting.on_date.desc())
                .limit(1)
            )

    @rule(app=apps)
    def confirm_emergence(self, app: int) -> None:
        loan = self._loan(app)
        if loan is None:
            return
        first = min(date.fromisoformat(t["date"]) for t in loan.terms["tranches"])
        on = max(first, self._last(loan.id) or first)
        apply_monitoring(self.bank.db, loan.id, run_id="prop", as_of=on, plots=[{"plot_id": "p", "emerged": on}])

    @rule(app=apps, tranche=st.integers(0, 2))
    def disburse(self, app: int, tranche: int) -> None:
        loan = self._loan(app)
        if loan is None or tranche >= len(loan.terms["tranches"]):
            return
        planned = date.fromisoformat(loan.terms["tranches"][tranche]["date"])
        on = max(planned, self._last(loan.id) or planned)
        try:
            post_disbursement(self.bank.db, self.bank.admin, loan.id, client_key=f"d{tranche}", tranche=tranche, on=on)
            self.seen["disburse"] += 1
        except AgrisenseError as exc:  # already paid, awaiting emergence, closed loan
            self.seen[f"disburse refused: {type(exc).__name__}"] += 1

    @rule(app=apps, share=st.sampled_from([Decimal("0.3"), Decimal("1")]), days=st.integers(0, 200))
    def repay(self, app: int, share: Decimal, days: int) -> None:
        loan = self._loan(app)
        if loan is None or loan.state != "disbursed":
            return
        last = self._last(loan.id)
        assert last is not None
        on = last + timedelta(days=days)
        with self.bank.db.session(readonly=True) as s:
            full = s.get(Loan, loan.id)
            assert full is not None
            owed = position(terms_from_json(full.terms), ledger_postings(full), on).balance_cents
        amount = (Decimal(owed) * share / 100).quantize(Decimal("0.01"))
        if amount <= 0:
            return
        view = post_repayment(self.bank.db, self.bank.admin, loan.id, client_key=f"r{on}{amount}", amount=amount, on=on)
        self.seen["repaid" if view["state"] == "repaid" else "repay"] += 1

    # --- invariants ------------------------------------------------------------------------------------------

    @invariant()
    def exposure_within_the_cap(self) -> None:
        with self.bank.db.session(readonly=True) as s:
            exposure: dict[int, Decimal] = {}
            rows = s.execute(select(Application, Loan.state).outerjoin(Loan, Loan.application_id == Application.id))
            for app, state in rows:
                if app.status == "accepted" and state != "repaid" or app.status == "offered":
                    amount = app.credit_limit
                elif app.status == "in_review":
                    amount = app.proposed_limit or Decimal(0)
                else:
                    continue
                exposure[app.farmer_id] = exposure.get(app.farmer_id, Decimal(0)) + amount
        assert all(v <= CAP for v in exposure.values()), exposure

    @invariant()
    def land_is_under_one_active_loan(self) -> None:
        with self.bank.db.session(readonly=True) as s:
            rows = s.execute(
                select(ApplicationPlot.application_id, FarmPlot.geometry_json)
                .join(FarmPlot, FarmPlot.id == ApplicationPlot.plot_id)
                .join(Application, Application.id == ApplicationPlot.application_id)
                .outerjoin(Loan, Loan.application_id == Application.id)
                .where(Application.status == "accepted", ApplicationPlot.active)
            ).all()
        shapes = [(a, shape(g)) for a, g in rows]
        for i, (a, g) in enumerate(shapes):
            for b, h in shapes[i + 1 :]:
                if a != b:
                    share = shapely.intersection(g, h).area / min(g.area, h.area)
                    assert share <= POLICY.thresholds.max_overlap + 1e-6, (a, b, share)

    @invariant()
    def ledger_reconciles(self) -> None:
        with self.bank.db.session(readonly=True) as s:
            for loan in s.scalars(select(Loan)):
                terms, postings = terms_from_json(loan.terms), ledger_postings(loan)
                on = max([p.on for p in postings], default=date(2027, 1, 1))
                pos = position(terms, postings, on)
                paid_out = sum(p.amount_cents for p in postings if p.kind == "disbursement")
                assert (
                    pos.drawn_cents == paid_out == sum(terms.tranches[k].amount_cents for k in drawn_tranches(postings))
                )
                assert pos.drawn_cents - pos.paid_principal_cents == pos.principal_cents >= 0
                assert pos.balance_cents >= 0
                assert (loan.state == "repaid") == (paid_out > 0 and pos.balance_cents == 0)

    @invariant()
    def every_decision_is_audited(self) -> None:
        with self.bank.db.session(readonly=True) as s:
            entries = s.scalars(select(AuditEntry)).all()
            by_app: dict[int | None, set[str]] = {}
            for e in entries:
                by_app.setdefault(e.application_id, set()).add(e.action)
            for app in s.scalars(select(Application)):
                assert "engine_decision" in by_app.get(app.id, set()), app.id
                if app.status == "accepted":
                    assert "accept" in by_app[app.id]
            posted = {(e.details or {}).get("posting_id") for e in entries if e.action.startswith("loan_")}
            for loan in s.scalars(select(Loan)):
                assert {p.id for p in loan.postings} <= posted
            assert sum(1 for e in entries if e.action == "change_limit") == self.overrides
            assert sum(1 for e in entries if e.action == "change_limit_requested") == self.requested
            for request in s.scalars(select(OverrideRequest).where(OverrideRequest.status != "pending")):
                assert request.decided_by is not None and request.decided_by != request.requested_by


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_lending_invariants_hold_after_every_step(
    kind: str, small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "postgresql" and postgres_base_url() is None:
        pytest.skip("PostgreSQL tests need AGRISENSE_TEST_POSTGRES_URL (bash scripts/postgres.sh prints it)")
    monkeypatch.setattr(lending_scoring, "_batcher", QuoteBatcher())
    databases = Databases(kind, tmp_path)
    LendingMachine.new_db, LendingMachine.region, LendingMachine.tmp = databases, small_region, tmp_path
    LendingMachine.seen = Counter()
    examples = int(os.environ.get("AGRISENSE_STATEFUL_EXAMPLES", "20" if kind == "sqlite" else "8"))
    try:
        run_state_machine_as_test(
            LendingMachine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=25,
                deadline=None,
                derandomize=True,  # the same examples every run (the coverage check below is stable)
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        databases.close()
    seen = LendingMachine.seen
    print(dict(seen))
    assert seen["accept"] and seen["disburse"] and seen["repay"] + seen["repaid"], seen
