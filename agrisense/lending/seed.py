"""Fill the database with the sample county's farmers, plots, consents and applications from computed offers.

DEMO ONLY: every sample farmer's password is ``DEMO_FARMER_PASSWORD`` and the analyst's ``DEMO_ANALYST_PASSWORD``
(documented in docs/service.md). Never seed a production database.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import select

from agrisense.config import Settings
from agrisense.credit.money import json_number, total
from agrisense.errors import InvalidInput
from agrisense.lending.actors import hash_password
from agrisense.lending.applications import CONSENT_PURPOSE, CONSENT_STATEMENT, STATUS_OF, engine_decision, write_audit
from agrisense.lending.plots import _json_coords
from agrisense.loans.booking import book_loan
from agrisense.loans.terms import priced
from agrisense.store import Application, ApplicationPlot, Consent, Database, FarmPlot, User

DEMO_FARMER_PASSWORD = "demo-farmer-2026"
DEMO_ANALYST_PASSWORD = "demo-analyst-2026"
DEMO_ANALYST_PHONE = "13900000001"
DEMO_ADMIN_PHONE = "13900000002"


def demo_phone(farmer_id: str, index: int) -> str:
    """A deterministic demo phone number for a sample farmer (138 + 8 digits from its number)."""
    digits = re.sub(r"\D", "", farmer_id)
    return f"138{int(digits or index):08d}"


def demo_phones(offers: list[dict[str, Any]]) -> set[str]:
    """Every phone number ``seed_sample_county`` would create for these offers (staff and farmers)."""
    farmers = sorted({str(o.get("farmer_id") or "unknown") for o in offers if isinstance(o, dict)})
    return {DEMO_ANALYST_PHONE, DEMO_ADMIN_PHONE, *(demo_phone(f, i) for i, f in enumerate(farmers, start=1))}


def is_local_database(settings: Settings) -> bool:
    """True for the embedded SQLite file: no database URL, or a ``sqlite:///`` file inside ``state_dir``."""
    url = settings.database_url
    if url is None:
        return True
    if not url.startswith("sqlite:///"):
        return False
    path = Path(url.removeprefix("sqlite:///")).expanduser().resolve()
    return path.is_relative_to(Path(settings.state_dir).expanduser().resolve())


def demo_seed_refusal(
    db: Database, settings: Settings, offers: list[dict[str, Any]], *, allow_demo_accounts: bool = False
) -> str | None:
    """Why seeding the demo accounts (with their published passwords) is refused here, or None if it may go ahead.

    Allowed only into an empty database (no accounts, or only the demo accounts of an earlier seed) that is local
    (the SQLite file in ``state_dir``); ``allow_demo_accounts`` allows another database, never a non-empty one."""
    with db.session(readonly=True) as session:
        phones = set(session.scalars(select(User.phone)))
    others = phones - demo_phones(offers)
    if others:
        return (
            f"Refusing to add demo accounts with the published demo passwords: the database already has "
            f"{len(others)} other account(s). Seed only an empty, local database (e.g. a fresh --state-dir)."
        )
    if not allow_demo_accounts and not is_local_database(settings):
        return (
            "Refusing to add demo accounts with the published demo passwords to a database that is not the local "
            "SQLite file in the state dir. If this really is a throwaway database, add --allow-demo-accounts."
        )
    return None


IN_SEASON_NOTE = "DEMO: financing the imagery season (offer dates moved back to the evidence season)"
"""The audit reason's label of a seeded loan that finances the evidence season instead of the next one."""


def in_season_offer(offer: dict[str, Any]) -> dict[str, Any]:
    """DEMO ONLY: the offer as if it financed its evidence (imagery) season: ``finance_season`` set to
    ``evidence_season`` and every tranche and due date moved back by 365 days a year, so every interval, hence every
    interest amount, stays the same to the cent. The sample's offers finance the season after their imagery; a loan
    financing the imagery season is what an in-season re-score (``rescore --database --as-of``) can monitor."""
    evidence, finance = offer.get("evidence_season"), offer.get("finance_season")
    if evidence is None or finance is None or int(evidence) == int(finance):
        return offer
    shift = timedelta(days=365 * (int(finance) - int(evidence)))

    def moved(items: Any) -> list[dict[str, Any]]:
        return [{**i, "date": (date.fromisoformat(str(i["date"])) - shift).isoformat()} for i in items or []]

    return {
        **offer,
        "finance_season": int(evidence),
        "disbursements": moved(offer.get("disbursements")),
        "schedule": moved(offer.get("schedule")),
    }


def seed_sample_county(db: Database, settings: Settings, offers: list[dict[str, Any]]) -> dict[str, Any]:
    """Register sample farmers, their plots, consents and one application each from already computed offers.

    Idempotent: farmers whose phone already exists are skipped. Every second offered application (by farmer
    number) is accepted, so the portfolio has loans; every second of those (farmer number divisible by 4) is a loan
    financing the imagery season itself (:func:`in_season_offer`, labelled ``IN_SEASON_NOTE`` in its audit entry
    and counted as ``in_season``), so an in-season re-score monitors booked loans. Application ages are spread over
    the last 96 hours so the review queue has realistic ages. Returns counts and the demo logins.
    """
    usable = [o for o in offers if isinstance(o, dict) and o.get("geometry") and o.get("area_ha")]
    if not usable:
        raise InvalidInput("No scored offers with geometry to seed from. Run `make demo` first (out/demo/offers.json).")
    by_farmer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in usable:
        by_farmer[str(o.get("farmer_id") or "unknown")].append(o)
    farmer_hash = hash_password(DEMO_FARMER_PASSWORD)
    counts = {"farmers": 0, "plots": 0, "applications": 0, "accepted": 0, "in_season": 0, "skipped_farmers": 0}
    now = datetime.now(UTC)
    with db.session() as session:
        for phone, name, role in (
            (DEMO_ANALYST_PHONE, "Demo analyst", "analyst"),
            (DEMO_ADMIN_PHONE, "Demo admin", "admin"),
        ):
            if session.scalar(select(User.id).where(User.phone == phone)) is None:
                session.add(User(phone=phone, name=name, role=role, password_hash=hash_password(DEMO_ANALYST_PASSWORD)))
        for index, (farmer_ref, farmer_offers) in enumerate(sorted(by_farmer.items()), start=1):
            phone = demo_phone(farmer_ref, index)
            if session.scalar(select(User.id).where(User.phone == phone)) is not None:
                counts["skipped_farmers"] += 1
                continue
            user = User(phone=phone, name=f"Farmer {farmer_ref}", role="farmer", password_hash=farmer_hash)
            session.add(user)
            session.flush()
            created = now - timedelta(hours=(index * 7) % 96 + 1)
            plots = []
            for o in farmer_offers:
                geom = shapely.normalize(shape(o["geometry"]))
                minx, miny, maxx, maxy = geom.bounds
                plot = FarmPlot(
                    ref=str(o["plot_id"]),
                    farmer_id=user.id,
                    declared_crop=o.get("declared_crop"),
                    declared_area_ha=(o.get("evidence") or {}).get("declared_area_ha"),
                    area_ha=float(o["area_ha"]),
                    geometry_json=_json_coords(geom),
                    geom=geom,
                    minx=minx,
                    miny=miny,
                    maxx=maxx,
                    maxy=maxy,
                    created_at=created,
                    updated_at=created,
                )
                session.add(plot)
                plots.append(plot)
            session.flush()
            consent = Consent(
                farmer_id=user.id,
                purpose=CONSENT_PURPOSE,
                statement=CONSENT_STATEMENT,
                plot_refs=[p.ref for p in plots],
                terms_version=settings.terms_version,
                granted_at=created,
            )
            session.add(consent)
            session.flush()
            decision = engine_decision(farmer_offers)
            status = STATUS_OF[decision]
            limit = total(o.get("credit_limit") for o in farmer_offers if o["decision"] == "approve")
            proposed = total(o.get("credit_limit") for o in farmer_offers if o["decision"] != "decline")
            accepted = status == "offered" and limit > 0 and index % 2 == 0
            in_season = accepted and index % 4 == 0
            if in_season:
                farmer_offers = [in_season_offer(o) for o in farmer_offers]
                in_season = farmer_offers[0].get("finance_season") == farmer_offers[0].get("evidence_season")
            app = Application(
                farmer_id=user.id,
                consent_id=consent.id,
                status="accepted" if accepted else status,
                engine_decision=decision,
                credit_limit=limit if decision == "approve" else Decimal(0),
                proposed_limit=proposed,
                currency=str(farmer_offers[0].get("currency") or "CNY"),
                crop=farmer_offers[0].get("assessed_crop") or farmer_offers[0].get("crop"),
                area_ha=float(sum(float(o["area_ha"]) for o in farmer_offers)),
                finance_season=farmer_offers[0].get("finance_season"),
                offers=farmer_offers,
                created_at=created,
                updated_at=created,
                accepted_at=created + timedelta(hours=1) if accepted else None,
            )
            session.add(app)
            session.flush()
            if accepted and any(priced(o) for o in farmer_offers):  # a booked loan, as accept_offer books it
                book_loan(session, app)
            for p in plots:
                session.add(ApplicationPlot(application_id=app.id, plot_id=p.id, active=status != "declined"))
            write_audit(
                session,
                None,
                "engine_decision",
                application_id=app.id,
                subject_user_id=user.id,
                reason="seeded from sample county offers" + (f"; {IN_SEASON_NOTE}" if in_season else ""),
                details={"decision": decision, "credit_limit": json_number(limit)},
            )
            counts["farmers"] += 1
            counts["plots"] += len(plots)
            counts["applications"] += 1
            counts["accepted"] += int(accepted)
            counts["in_season"] += int(in_season)
    return {
        **counts,
        "demo_farmer_password": DEMO_FARMER_PASSWORD,
        "demo_analyst": {"phone": DEMO_ANALYST_PHONE, "password": DEMO_ANALYST_PASSWORD},
        "demo_admin": {"phone": DEMO_ADMIN_PHONE, "password": DEMO_ANALYST_PASSWORD},
    }
