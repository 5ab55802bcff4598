"""Credit applications: consent, submission (scored offer), acceptance, analyst review and the audit log."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from agrisense.agronomy.calendar import CropReference, load_crop_table
from agrisense.config import Settings, get_settings
from agrisense.credit.money import json_number, to_money, total
from agrisense.credit.policy import Policy, load_policy
from agrisense.credit.reasons import make_reason
from agrisense.errors import Conflict, InvalidGeometry, InvalidInput, NotFound
from agrisense.lending.actors import STAFF, Actor, require_role
from agrisense.lending.plots import as_plot, financed_overlap, overlap_with_others, overlapping_pair
from agrisense.lending.scoring import score_application
from agrisense.loans.booking import book_loan
from agrisense.loans.terms import priceable, reprice_offer
from agrisense.store import (
    Application,
    ApplicationPlot,
    AuditEntry,
    Consent,
    Database,
    FarmPlot,
    Loan,
    OverrideRequest,
    User,
)

MAX_PLOTS_PER_APPLICATION = 20
CONSENT_PURPOSE = "credit_assessment_imagery"
CONSENT_STATEMENTS: dict[str, str] = {
    # the text of the farmer app's consent screen (agrisense/app/web/public/static/i18n.js), one per language, both
    # under the same ``settings.terms_version``: the statement stored is the one in the language the farmer read
    "zh-CN": (
        "请您同意我们查看这块地。我们用什么：您画的地块边界、您选的作物、您的手机号和姓名，以及这块地的卫星图像。"
        "用来做什么：只用来计算给您多少贷款额度、利息多少，并在贷款期间查看庄稼长势。"
        "什么时候：查看本季的卫星图像，用于下一季的贷款，直到贷款还清。"
        "您的权利：您可以随时要求导出或删除您的资料，也可以撤回本同意；不同意也不会有任何费用。"
        "我已读懂，同意以上内容。"
    ),
    "en": (
        "May we look at this field? What we use: the outline you drew, the crop you chose, your phone number and "
        "name, and satellite images of this field. What for: only to work out how much you can borrow and at what "
        "price, and to watch the crop while the loan runs. When: satellite images of this season, for a loan in the "
        "next season, until the loan is repaid. Your rights: you can ask for a copy of your data or its deletion at "
        "any time, and withdraw this consent; saying no costs nothing. I understand and agree."
    ),
}
CONSENT_LANGUAGES = tuple(CONSENT_STATEMENTS)
DEFAULT_CONSENT_LANGUAGE = "zh-CN"
CONSENT_STATEMENT = CONSENT_STATEMENTS["en"]
"""The English statement (the demo seed's consents, and every consent recorded before migration 0005)."""
WITHDRAWABLE_STATUSES = frozenset({"offered", "in_review"})
OPEN_STATUSES = frozenset({"offered", "in_review", "accepted"})
Decision = Literal["approve", "decline", "change_limit"]


def lock_farmer(session: Session, farmer_id: int) -> None:
    """Serialise every money decision of one farmer (submit, accept, override, postings) until the transaction ends.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the farmer's user row. SQLite: a write session opens with ``BEGIN
    IMMEDIATE`` (``store.database``), so its first statement (this one) already holds the database's write lock."""
    session.execute(select(User.id).where(User.id == farmer_id).with_for_update())


LAND_LOCK = 0x6C616E64  # "land": the PostgreSQL advisory lock of the financed-land check


def lock_land(session: Session) -> None:
    """Serialise the financed-land check and the write that pledges land, across farmers, until the transaction
    ends (the farmers' own locks do not: two farmers could each pledge the same field at once).

    PostgreSQL: a transaction advisory lock. SQLite: the write session already holds the database write lock
    (``BEGIN IMMEDIATE``). Take it after ``lock_farmer``, never before (one lock order, no deadlock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LAND_LOCK})


def farmer_exposure(
    session: Session, farmer_id: int, *, exclude_app_id: int | None = None, accepted_only: bool = False
) -> Decimal:
    """The farmer's credit counted against ``max_per_farmer``: accepted limits whose loan is not repaid, plus (unless
    ``accepted_only``) open offers (``offered``: the limit; ``in_review``: the proposed limit)."""
    rows = session.execute(
        select(Application.id, Application.status, Application.credit_limit, Application.proposed_limit, Loan.state)
        .outerjoin(Loan, Loan.application_id == Application.id)
        .where(Application.farmer_id == farmer_id, Application.status.in_(("accepted", "offered", "in_review")))
    ).all()
    amounts: list[Decimal] = []
    for app_id, status, limit, proposed, loan_state in rows:
        if app_id == exclude_app_id or loan_state == "repaid":
            continue
        if status == "accepted":
            amounts.append(limit)
        elif not accepted_only:
            amounts.append(limit if status == "offered" else proposed)
    return total(amounts)


def _policy(settings: Settings | None) -> Policy:
    return load_policy((settings or get_settings()).policy_file)


def _aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else (ts if ts.tzinfo else ts.replace(tzinfo=UTC))


def _iso(ts: datetime | None) -> str | None:
    aware = _aware(ts)
    return None if aware is None else aware.isoformat()


def write_audit(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    application_id: int | None = None,
    subject_user_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log (there is no update or delete path)."""
    session.add(
        AuditEntry(
            actor_id=None if actor is None else actor.user_id,
            actor_role="system" if actor is None else actor.role,
            action=action,
            application_id=application_id,
            subject_user_id=subject_user_id,
            reason=reason,
            details=details or {},
        )
    )


def audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "application_id": entry.application_id,
        "subject_user_id": entry.subject_user_id,
        "reason": entry.reason,
        "details": entry.details,
    }


def engine_decision(offers: Sequence[dict[str, Any]]) -> str:
    """The application's decision from its plots' offers: approve if all approve, decline if all decline, else refer."""
    decisions = {o.get("decision") for o in offers}
    if decisions == {"approve"}:
        return "approve"
    if decisions == {"decline"}:
        return "decline"
    return "refer"


STATUS_OF = {"approve": "offered", "refer": "in_review", "decline": "declined"}


def _main_crop(offers: Sequence[dict[str, Any]]) -> str | None:
    area: dict[str, float] = {}
    for o in offers:
        crop = o.get("assessed_crop") or o.get("crop") or o.get("declared_crop")
        if crop:
            area[crop] = area.get(crop, 0.0) + float(o.get("area_ha") or 0.0)
    return max(area, key=lambda c: area[c]) if area else None


NOT_ACCEPTABLE = {
    "accepted": "APPLICATION_ACCEPTED",
    "in_review": "APPLICATION_IN_REVIEW",
    "declined": "APPLICATION_DECLINED",
    "withdrawn": "APPLICATION_WITHDRAWN",
}
"""The message code of an application that cannot be accepted, by its status (others: APPLICATION_NOT_OFFERED)."""


def _load(session: Session, actor: Actor, app_id: int) -> Application:
    app = session.get(Application, app_id, options=[selectinload(Application.links).selectinload(ApplicationPlot.plot)])
    if app is None or (actor.role not in STAFF and app.farmer_id != actor.user_id):
        raise NotFound(
            f"Application {app_id} was not found among your applications.",
            code="APPLICATION_NOT_FOUND",
            params={"application_id": app_id},
        )
    return app


def application_view(session: Session, app: Application) -> dict[str, Any]:
    """The one JSON view of an application (API, dashboard and CLI show the same object)."""
    decisions = session.scalars(
        select(AuditEntry).where(AuditEntry.application_id == app.id).order_by(AuditEntry.id)
    ).all()
    consent = session.get(Consent, app.consent_id) if app.consent_id is not None else None
    farmer = session.get(User, app.farmer_id)
    plots = [
        {
            "id": link.plot.id,
            "ref": link.plot.ref,
            "declared_crop": link.plot.declared_crop,
            "area_ha": round(link.plot.area_ha, 4),
            "geometry": link.plot.geometry_json,
        }
        for link in sorted(app.links, key=lambda lk: lk.plot_id)
    ]
    return {
        "id": app.id,
        "farmer_id": app.farmer_id,
        "farmer_name": None if farmer is None else farmer.name,
        "status": app.status,
        "engine_decision": app.engine_decision,
        "credit_limit": json_number(app.credit_limit),
        "proposed_limit": json_number(app.proposed_limit),
        "currency": app.currency,
        "crop": app.crop,
        "area_ha": round(app.area_ha, 4),
        "finance_season": app.finance_season,
        "plots": plots,
        "offer": {
            "decision": app.engine_decision,
            "credit_limit": json_number(app.credit_limit),
            "currency": app.currency,
            "offers": app.offers,
        },
        "consent": None
        if consent is None
        else {
            "id": consent.id,
            "terms_version": consent.terms_version,
            "language": consent.language,
            "granted_at": _iso(consent.granted_at),
            "withdrawn_at": _iso(consent.withdrawn_at),
        },
        "decisions": [audit_view(d) for d in decisions],
        "pending_override": pending_override(session, app.id),
        "created_at": _iso(app.created_at),
        "updated_at": _iso(app.updated_at),
        "accepted_at": _iso(app.accepted_at),
    }


def pending_override(session: Session, app_id: int) -> dict[str, Any] | None:
    """The override of the application waiting for a second analyst (four-eyes), or None."""
    row = session.scalar(
        select(OverrideRequest).where(OverrideRequest.application_id == app_id, OverrideRequest.status == "pending")
    )
    if row is None:
        return None
    return {
        "id": row.id,
        "new_limit": json_number(row.new_limit),
        "threshold": json_number(row.threshold),
        "requested_by": row.requested_by,
        "reason": row.reason,
        "created_at": _iso(row.created_at),
    }


def _plot_ids(plot_ids: Sequence[int]) -> list[int]:
    if not isinstance(plot_ids, list | tuple) or not plot_ids:
        raise InvalidInput("Choose at least one of your plots for the application.", code="APPLICATION_NO_PLOTS")
    if len(plot_ids) > MAX_PLOTS_PER_APPLICATION:
        raise InvalidInput(
            f"An application can hold at most {MAX_PLOTS_PER_APPLICATION} plots.",
            code="APPLICATION_TOO_MANY_PLOTS",
            params={"max": MAX_PLOTS_PER_APPLICATION},
        )
    ids = [int(i) for i in plot_ids]
    if len(set(ids)) != len(ids):
        raise InvalidInput("A plot is listed twice. List each plot once.", code="PLOT_LISTED_TWICE")
    return ids


def _refuse_non_cropland(offers: Sequence[dict[str, Any]], refs: Sequence[str]) -> None:
    """A plot the satellite sees as not cropland is a drawing mistake the farmer can fix: 422, nothing stored.

    Only the consent (given before any imagery was processed) stays on record; no application is written."""
    for offer, ref in zip(offers, refs, strict=True):
        if any(r.get("code") == "NOT_CROPLAND" for r in offer.get("reasons") or []):
            share = float((offer.get("evidence") or {}).get("cropland_fraction") or 0.0)
            raise InvalidGeometry(
                f"Plot {ref}: the satellite sees almost no farmland inside this outline (only {share:.0%} cropland). "
                "Check that you drew your own field, not a road, houses, water or forest, then redraw it and "
                "submit again."
            )


def submit_application(
    db: Database,
    actor: Actor,
    *,
    plot_ids: Sequence[int],
    consent: bool,
    settings: Settings,
    consent_language: str = DEFAULT_CONSENT_LANGUAGE,
) -> dict[str, Any]:
    """Record consent, score the farmer's plots and store the application with its offer, all or nothing.

    The consent stored is the statement in ``consent_language`` (the language the farmer app showed), with that
    language and ``settings.terms_version``.

    Consent is stored first (imagery is processed only after it). The application is written in one transaction
    after scoring; a plot can be in one open application only (a database constraint), so a duplicate or concurrent
    second submission gets ``Conflict``.
    """
    require_role(actor, ["farmer"], "apply for credit")
    if consent is not True:
        raise InvalidInput(
            "We need your explicit consent to process satellite imagery of your plots before we can assess them. "
            "Tick the consent box and submit again.",
            code="CONSENT_REQUIRED",
        )
    if consent_language not in CONSENT_STATEMENTS:
        raise InvalidInput(
            f"consent_language must be one of {', '.join(CONSENT_LANGUAGES)}.",
            code="CONSENT_LANGUAGE_INVALID",
            params={"languages": ", ".join(CONSENT_LANGUAGES)},
        )
    ids = _plot_ids(plot_ids)
    with db.session(readonly=True) as session:
        rows = session.scalars(select(FarmPlot).where(FarmPlot.id.in_(ids))).all()
        mine = {r.id: r for r in rows if r.farmer_id == actor.user_id}
        missing = [i for i in ids if i not in mine]
        if missing:
            raise NotFound(
                f"Plot {missing[0]} was not found among your plots. Choose plots you have drawn.",
                code="PLOT_NOT_FOUND",
                params={"plot_id": missing[0]},
            )
        _check_not_pledged(session, ids)
        policy = _policy(settings)
        refuse_financed_land(session, [mine[i] for i in ids], policy)
        plots = [as_plot(mine[i]) for i in ids]
        overlaps = overlap_with_others(session, plots, actor.user_id, postgis=db.is_postgis)
        borrowed = farmer_exposure(session, actor.user_id, accepted_only=True)
        exposure = farmer_exposure(session, actor.user_id)
        refs = [mine[i].ref for i in ids]
    with db.session() as session:
        consent_row = Consent(
            farmer_id=actor.user_id,
            purpose=CONSENT_PURPOSE,
            statement=CONSENT_STATEMENTS[consent_language],
            plot_refs=refs,
            terms_version=settings.terms_version,
            language=consent_language,
        )
        session.add(consent_row)
        session.flush()
        consent_id = consent_row.id
        write_audit(
            session,
            actor,
            "consent",
            subject_user_id=actor.user_id,
            details={
                "consent_id": consent_id,
                "plots": refs,
                "terms_version": settings.terms_version,
                "language": consent_language,
            },
        )
    offers = score_application(
        plots, settings=settings, overlaps=overlaps, existing_exposure={str(actor.user_id): borrowed}
    )
    _refuse_non_cropland(offers, refs)
    offers = cap_to_farmer(offers, exposure, policy, load_crop_table(settings.reference_dir / "crops.csv"))
    decision = engine_decision(offers)
    limit = total(o.get("credit_limit") for o in offers if o.get("decision") == "approve")
    proposed = total(o.get("credit_limit") for o in offers if o.get("decision") != "decline")
    status = STATUS_OF[decision]
    try:
        with db.session() as session:
            lock_farmer(session, actor.user_id)
            lock_land(session)  # another farmer may be pledging the same land at this moment
            rows = session.scalars(select(FarmPlot).where(FarmPlot.id.in_(ids)).order_by(FarmPlot.id)).all()
            refuse_financed_land(session, rows, policy)  # again, under the lock: a concurrent submission may have won
            now_exposure = farmer_exposure(session, actor.user_id)
            cap = to_money(policy.limits.max_per_farmer)
            if proposed > 0 and now_exposure + proposed > cap:
                raise Conflict(
                    f"Another application of yours was decided while this one was scored: together they would be "
                    f"{json_number(now_exposure + proposed):,.2f}, above the {json_number(cap):,.2f} a farmer can "
                    "borrow. Open your applications, then submit again.",
                    code="FARMER_CAP_REACHED_MEANWHILE",
                    params={"total": json_number(now_exposure + proposed), "cap": json_number(cap)},
                )
            app = Application(
                farmer_id=actor.user_id,
                consent_id=consent_id,
                status=status,
                engine_decision=decision,
                credit_limit=limit if decision == "approve" else Decimal(0),
                proposed_limit=proposed,
                currency=str(offers[0].get("currency") or "CNY"),
                crop=_main_crop(offers),
                area_ha=float(sum(p.area_ha for p in plots)),
                finance_season=offers[0].get("finance_season"),
                offers=offers,
            )
            session.add(app)
            session.flush()
            for i in ids:
                session.add(ApplicationPlot(application_id=app.id, plot_id=i, active=status != "declined"))
            session.flush()
            write_audit(
                session,
                None,
                "engine_decision",
                application_id=app.id,
                subject_user_id=actor.user_id,
                reason="; ".join(_decisive_codes(offers)) or None,
                details={
                    "decision": decision,
                    "credit_limit": json_number(app.credit_limit),
                    "proposed_limit": json_number(proposed),
                    "policy_version": offers[0].get("policy_version"),
                },
            )
            session.flush()
            return application_view(session, _load(session, actor, app.id))
    except IntegrityError as exc:
        raise Conflict(
            "One of these plots was submitted in another application at the same moment. Open your applications "
            "to see it.",
            code="PLOT_SUBMITTED_CONCURRENTLY",
        ) from exc


def cap_to_farmer(
    offers: Sequence[dict[str, Any]], exposure: Decimal, policy: Policy, crops: Mapping[str, CropReference]
) -> list[dict[str, Any]]:
    """The per-farmer cap across plots and applications: each plot, in order, gets at most ``max_per_farmer`` less
    the farmer's exposure (accepted loans, open offers) and the limits of the earlier plots of this application,
    rounded down to the policy's step. A plot cut below the minimum loan gets none (decline, LIMIT_BELOW_MINIMUM);
    a cut one is re-priced (``loans.terms.reprice_offer``) with an EXISTING_EXPOSURE reason."""
    lim = policy.limits
    step, minimum = Decimal(str(lim.rounding_step)), Decimal(str(lim.min_limit))
    running = exposure
    out = []
    for offer in offers:
        limit = Decimal(str(offer.get("credit_limit") or 0))
        if offer.get("decision") == "decline" or limit <= 0:
            out.append(dict(offer))
            continue
        room = max(Decimal(0), to_money(lim.max_per_farmer) - running)
        room = (room / step).to_integral_value(rounding=ROUND_DOWN) * step
        if limit > room:
            note = make_reason(
                "EXISTING_EXPOSURE",
                "info",
                exposure=float(running),
                currency=policy.currency,
                limit_haircut=limit - room,
            ).model_dump(mode="json")
            if room >= minimum:
                offer = {**reprice_offer(offer, room, policy, crops)}
                offer["reasons"] = [*offer["reasons"], note]
            else:
                below = make_reason(
                    "LIMIT_BELOW_MINIMUM",
                    "decline",
                    limit=float(room),
                    minimum=float(minimum),
                    currency=policy.currency,
                ).model_dump(mode="json")
                offer = {
                    **offer,
                    "decision": "decline",
                    "credit_limit": 0.0,
                    "disbursements": [],
                    "schedule": [],
                    "fees": [],
                    "apr": None,
                    "annual_rate": None,
                    "expected_loss": 0.0,
                    "reasons": [below, *offer["reasons"], note],
                }
                if offer.get("explanation"):  # the farmer's main reason is now the cut, and no change is computed
                    main = {"main_zh": below["message_zh"], "main_en": below["message_en"], "change": None}
                    offer["explanation"] = {**offer["explanation"], **main}
        out.append(offer)
        running += Decimal(str(offer.get("credit_limit") or 0))
    return out


def refuse_financed_land(session: Session, rows: Sequence[FarmPlot], policy: Policy) -> None:
    """Land is financed once per season: a plot overlapping (beyond ``thresholds.max_overlap``) a plot of any farmer,
    the same one included, that is under an active loan or an open offer is refused with ``Conflict``; so are two
    plots of the same application that overlap each other."""
    pair = overlapping_pair(rows, min_share=policy.thresholds.max_overlap)
    if pair is not None:
        raise Conflict(
            f"Plots {pair[0]} and {pair[1]} overlap ({pair[2]:.0%}): the same land cannot be financed twice. "
            "Leave one of them out of the application, or redraw them so that they do not overlap.",
            code="PLOTS_OVERLAP",
            params={"first": pair[0], "second": pair[1], "share_percent": round(100 * pair[2])},
        )
    for row in rows:
        hit = financed_overlap(session, row, min_share=policy.thresholds.max_overlap)
        if hit is None:
            continue
        other_id, app_id, status, share = hit
        where = "an active loan" if status == "accepted" else "an open offer"
        yours = "your" if app_id in _own_apps(session, row.farmer_id) else "another farmer's"
        raise Conflict(
            f"Plot {row.id}: {share:.0%} of it is land already under {where} ({yours} plot {other_id}, application "
            f"{app_id}). Land can be financed once per season. If you drew the same field twice, apply with the "
            "plot already in that application; otherwise redraw the outline to your own field only.",
            code="LAND_UNDER_ACTIVE_LOAN" if status == "accepted" else "LAND_UNDER_OPEN_OFFER",
            params={"plot_id": row.id, "share_percent": round(100 * share)},
        )


def _own_apps(session: Session, farmer_id: int) -> set[int]:
    return set(session.scalars(select(Application.id).where(Application.farmer_id == farmer_id)))


def _check_not_pledged(session: Session, ids: Sequence[int]) -> None:
    row = session.execute(
        select(ApplicationPlot.plot_id, ApplicationPlot.application_id, Application.status)
        .join(Application, Application.id == ApplicationPlot.application_id)
        .where(ApplicationPlot.plot_id.in_(ids), ApplicationPlot.active)
    ).first()
    if row is not None:
        raise Conflict(
            f"Plot {row.plot_id} is already in application {row.application_id} ({row.status}). "
            "Wait for that application's decision instead of submitting it again.",
            code="PLOT_ALREADY_APPLIED",
            params={"plot_id": row.plot_id, "application_id": row.application_id, "status": row.status},
        )


def _decisive_codes(offers: Sequence[dict[str, Any]]) -> list[str]:
    codes: list[str] = []
    for o in offers:
        for r in o.get("reasons") or []:
            if r.get("kind") in ("decline", "refer") and r.get("code") not in codes:
                codes.append(r["code"])
    return codes


def application_pd(offers: Sequence[dict[str, Any]]) -> float | None:
    """The highest PD among an application's stored offers, or ``None`` when none carries one."""
    values = [float(o["pd"]) for o in offers if isinstance(o, dict) and o.get("pd") is not None]
    return round(max(values), 6) if values else None


def _check_pd_range(pd_min: float | None, pd_max: float | None) -> None:
    for name, value in (("pd_min", pd_min), ("pd_max", pd_max)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise InvalidInput(
                f"{name} must be a probability between 0 and 1 (e.g. 0.05 for 5%); got {value}.",
                code="PD_RANGE_INVALID",
            )
    if pd_min is not None and pd_max is not None and pd_min > pd_max:
        raise InvalidInput(
            f"pd_min ({pd_min}) is above pd_max ({pd_max}): swap them or widen the range.", code="PD_RANGE_INVALID"
        )


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def get_application(db: Database, actor: Actor, app_id: int) -> dict[str, Any]:
    """One application (its farmer or staff only)."""
    with db.session(readonly=True) as session:
        return application_view(session, _load(session, actor, app_id))


def list_applications(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """The acting farmer's applications, newest first (staff: use ``list_review_queue``)."""
    with db.session(readonly=True) as session:
        apps = session.scalars(
            select(Application)
            .where(Application.farmer_id == actor.user_id)
            .options(selectinload(Application.links).selectinload(ApplicationPlot.plot))
            .order_by(Application.id.desc())
        ).all()
        return [application_view(session, a) for a in apps]


def accept_offer(db: Database, actor: Actor, app_id: int, *, settings: Settings | None = None) -> dict[str, Any]:
    """The farmer accepts an offered limit: the application becomes an active loan (booked in ``agrisense.loans``).

    Under the farmer's lock, the farmer's accepted loans plus this one must stay within ``max_per_farmer``."""
    with db.session() as session:
        app = _load(session, actor, app_id)
        require_role(actor, ["farmer"], "accept an offer")
        lock_farmer(session, app.farmer_id)
        session.refresh(app)  # read again under the lock: a concurrent accept may have changed it
        if app.status != "offered":
            hint = {
                "accepted": "It is already accepted.",
                "in_review": "It is still being reviewed by an analyst; you will be told the decision.",
                "declined": "It was declined, so there is nothing to accept.",
                "withdrawn": "You withdrew its consent, so it was cancelled. Apply again to get a new offer.",
            }.get(app.status, "")
            raise Conflict(
                f"Application {app_id} cannot be accepted now. {hint}".strip(),
                code=NOT_ACCEPTABLE.get(app.status, "APPLICATION_NOT_OFFERED"),
                params={"application_id": app_id, "status": app.status},
            )
        if app.credit_limit <= 0:
            raise Conflict(
                f"Application {app_id} has no credit limit to accept.",
                code="NO_LIMIT_TO_ACCEPT",
                params={"application_id": app_id},
            )
        cap = to_money(_policy(settings).limits.max_per_farmer)
        borrowed = farmer_exposure(session, app.farmer_id, exclude_app_id=app.id, accepted_only=True)
        if borrowed + app.credit_limit > cap:
            raise Conflict(
                f"Accepting application {app_id} ({json_number(app.credit_limit):,.2f}) would bring your loans to "
                f"{json_number(borrowed + app.credit_limit):,.2f}, above the {json_number(cap):,.2f} a farmer can "
                "borrow. Repay a loan first, or ask for a lower limit.",
                code="ACCEPT_ABOVE_FARMER_CAP",
                params={
                    "application_id": app_id,
                    "limit": json_number(app.credit_limit),
                    "total": json_number(borrowed + app.credit_limit),
                    "cap": json_number(cap),
                },
            )
        app.status = "accepted"
        app.accepted_at = datetime.now(UTC)
        loan = book_loan(session, app)
        write_audit(
            session,
            actor,
            "accept",
            application_id=app.id,
            subject_user_id=actor.user_id,
            details={"credit_limit": json_number(app.credit_limit), "loan_id": loan.id},
        )
        session.flush()
        return application_view(session, app)


def list_review_queue(
    db: Database,
    actor: Actor,
    *,
    status: str | None = None,
    decision: str | None = None,
    crop: str | None = None,
    older_than_hours: float | None = None,
    pd_min: float | None = None,
    pd_max: float | None = None,
) -> list[dict[str, Any]]:
    """Applications for analysts, oldest first, with the engine's decision, limit, PD and decisive reasons.

    ``pd`` is the highest probability of default among the application's offers (the riskiest plot decides;
    ``None`` when no offer has one, e.g. an unusable outline). ``pd_min`` / ``pd_max`` keep the applications whose
    PD lies within the bounds (both included); an application without a PD is left out once either is given."""
    require_role(actor, STAFF, "see the review queue")
    _check_pd_range(pd_min, pd_max)
    now = datetime.now(UTC)
    with db.session(readonly=True) as session:
        query = (
            select(Application, User.name)
            .join(User, User.id == Application.farmer_id)
            .options(selectinload(Application.links).selectinload(ApplicationPlot.plot))
            .order_by(Application.created_at, Application.id)
        )
        if status:
            query = query.where(Application.status == status)
        if decision:
            query = query.where(Application.engine_decision == decision)
        if crop:
            query = query.where(Application.crop == crop.strip().lower())
        rows = []
        for app, farmer_name in session.execute(query):
            created = _aware(app.created_at) or now
            age = (now - created).total_seconds() / 3600
            if older_than_hours is not None and age < older_than_hours:
                continue
            pd_value = application_pd(app.offers)
            if not _within(pd_value, pd_min, pd_max):
                continue
            rows.append(
                {
                    "id": app.id,
                    "farmer_id": app.farmer_id,
                    "farmer_name": farmer_name,
                    "plots": [link.plot.ref for link in app.links],
                    "crop": app.crop,
                    "area_ha": round(app.area_ha, 4),
                    "engine_decision": app.engine_decision,
                    "credit_limit": json_number(app.credit_limit),
                    "proposed_limit": json_number(app.proposed_limit),
                    "currency": app.currency,
                    "reasons": _decisive_codes(app.offers),
                    "pd": pd_value,
                    "age_hours": round(age, 2),
                    "status": app.status,
                    "created_at": _iso(app.created_at),
                }
            )
        return rows


def decide_application(
    db: Database,
    actor: Actor,
    app_id: int,
    *,
    decision: Decision,
    reason: str,
    new_limit: float | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """An analyst's decision or override, with a mandatory reason, written to the audit log in the same transaction.

    ``change_limit`` is bounded by the policy (``InvalidInput`` above it, see ``override_offers``) and re-prices the
    stored offers for the new limit, so that the offer, the farmer's view and the booked loan agree to the cent."""
    require_role(actor, STAFF, "decide applications")
    if decision not in ("approve", "decline", "change_limit"):
        raise InvalidInput("decision must be approve, decline or change_limit.", code="DECISION_INVALID")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for the decision; it is kept in the audit log.", code="REASON_REQUIRED")
    if decision == "change_limit" and (
        new_limit is None or not math.isfinite(new_limit) or new_limit <= 0 or new_limit > 1_000_000
    ):
        raise InvalidInput(
            "change_limit needs new_limit, a positive amount (at most 1,000,000).",
            code="NEW_LIMIT_INVALID",
            params={"max": 1_000_000},
        )
    try:
        with db.session() as session:
            app = _load(session, actor, app_id)
            if app.status == "accepted":
                raise Conflict(
                    f"Application {app_id} was already accepted by the farmer; it is an active loan now.",
                    code="APPLICATION_ACCEPTED",
                    params={"application_id": app_id},
                )
            if app.status == "withdrawn":
                raise Conflict(
                    f"Application {app_id} was cancelled: the farmer withdrew the consent it relied on.",
                    code="APPLICATION_WITHDRAWN",
                    params={"application_id": app_id},
                )
            before = {"status": app.status, "credit_limit": json_number(app.credit_limit)}
            reopening = app.status == "declined" and decision != "decline"
            if reopening or decision == "change_limit":
                lock_farmer(session, app.farmer_id)
            if reopening:  # its plots were released when it was declined: another farmer's offer may hold them now
                lock_land(session)
                refuse_financed_land(session, [link.plot for link in app.links], _policy(settings))
            if decision == "change_limit":
                offers = override_offers(session, app, to_money(new_limit or 0), settings)  # bounded, or 422
                policy = _policy(settings)
                if to_money(new_limit or 0) > to_money(policy.loans.second_approval_above):
                    return _request_second_approval(session, actor, app, to_money(new_limit or 0), reason, policy)
                app.offers = offers
                app.proposed_limit = total(o.get("credit_limit") for o in app.offers)
            if decision == "decline":
                app.status, app.credit_limit = "declined", Decimal(0)
            else:
                limit = (
                    to_money(new_limit or 0) if decision == "change_limit" else (app.credit_limit or app.proposed_limit)
                )
                if limit <= 0:
                    raise Conflict(
                        f"Application {app_id} has no proposed limit to approve. Use change_limit with new_limit.",
                        code="NO_PROPOSED_LIMIT",
                        params={"application_id": app_id},
                    )
                app.status, app.credit_limit = "offered", to_money(limit)
            for link in app.links:
                link.active = app.status != "declined"
            session.flush()
            write_audit(
                session,
                actor,
                decision,
                application_id=app.id,
                subject_user_id=app.farmer_id,
                reason=reason,
                details={
                    "before": before,
                    "after": {"status": app.status, "credit_limit": json_number(app.credit_limit)},
                },
            )
            session.flush()
            return application_view(session, app)
    except IntegrityError as exc:
        raise Conflict(
            f"A plot of application {app_id} is now in another open application; decide that one first.",
            code="PLOT_IN_ANOTHER_OPEN_APPLICATION",
            params={"application_id": app_id},
        ) from exc


def _request_second_approval(
    session: Session, actor: Actor, app: Application, limit: Decimal, reason: str, policy: Policy
) -> dict[str, Any]:
    """Four-eyes: an override above ``loans.second_approval_above`` is recorded as pending (audited
    ``change_limit_requested``) and changes nothing until another analyst approves it (``lending.overrides``)."""
    pending = session.scalar(
        select(OverrideRequest.id).where(OverrideRequest.application_id == app.id, OverrideRequest.status == "pending")
    )
    if pending is not None:
        raise Conflict(
            f"Application {app.id} already has override request {pending} waiting for a second analyst; approve or "
            "reject it first.",
            code="OVERRIDE_PENDING",
            params={"application_id": app.id, "override_id": pending},
        )
    threshold = to_money(policy.loans.second_approval_above)
    row = OverrideRequest(
        application_id=app.id,
        requested_by=actor.user_id,
        new_limit=limit,
        reason=reason,
        policy_version=policy.version,
        threshold=threshold,
        status="pending",
    )
    session.add(row)
    session.flush()
    write_audit(
        session,
        actor,
        "change_limit_requested",
        application_id=app.id,
        subject_user_id=app.farmer_id,
        reason=reason,
        details={
            "override_id": row.id,
            "new_limit": json_number(limit),
            "threshold": json_number(threshold),
            "policy_version": policy.version,
            "before": {"status": app.status, "credit_limit": json_number(app.credit_limit)},
        },
    )
    session.flush()
    return application_view(session, app)


def plot_cap(offer: dict[str, Any], policy: Policy) -> Decimal:
    """The most the policy lends on one plot: ``max_per_ha`` x its area, capped by ``max_per_farmer``; 0 for a crop
    the policy does not finance."""
    if offer.get("assessed_crop") not in policy.financed_crops or not offer.get("area_ha"):
        return Decimal(0)
    lim = policy.limits
    return to_money(
        min(Decimal(str(lim.max_per_farmer)), Decimal(str(lim.max_per_ha)) * Decimal(str(offer["area_ha"])))
    )


def override_offers(
    session: Session, app: Application, limit: Decimal, settings: Settings | None
) -> list[dict[str, Any]]:
    """The application's offers re-priced for an override ``limit`` (``InvalidInput`` above the policy's bound).

    Bound: the sum of the plot caps (``plot_cap``) of the plots that can be priced, and ``max_per_farmer`` less the
    farmer's other exposure (accepted loans and open offers). The limit is split over those plots in proportion to
    their caps (rounded down to the cent, the remaining cents to the first plots with room), so no plot goes above
    its own cap; the other plots get no loan."""
    settings = settings or get_settings()
    policy = _policy(settings)
    crops = load_crop_table(settings.reference_dir / "crops.csv")
    offers = [dict(o) for o in app.offers]
    caps = [plot_cap(o, policy) if priceable(o, policy, crops) else Decimal(0) for o in offers]
    other = farmer_exposure(session, app.farmer_id, exclude_app_id=app.id)
    room = max(Decimal(0), to_money(policy.limits.max_per_farmer) - other)
    bound = min(total(caps), room)
    if bound <= 0:
        raise InvalidInput(
            f"No limit can be set on application {app.id}: the policy allows nothing more for this farmer "
            f"(other credit {json_number(other):,.2f}) on these plots."
        )
    if limit > bound:
        raise InvalidInput(
            f"new_limit {json_number(limit):,.2f} is above what the policy allows for application {app.id}: at most "
            f"{json_number(bound):,.2f} ({policy.limits.max_per_ha:,.0f} per ha on financed plots, "
            f"{policy.limits.max_per_farmer:,.0f} per farmer less {json_number(other):,.2f} of other credit)."
        )
    cap_total = total(caps)
    cent = Decimal("0.01")
    parts = [to_money(limit * c / cap_total) for c in caps]
    left = limit - total(parts)
    for k, c in enumerate(caps):
        while left > 0 and parts[k] < c:
            step = min(left, c - parts[k])
            parts[k] += step
            left -= step
    assert left == 0 and all(p <= c for p, c in zip(parts, caps, strict=True)), (left, parts, caps)
    out = []
    for offer, part in zip(offers, parts, strict=True):
        if part >= cent:
            out.append(reprice_offer(offer, part, policy, crops))
        else:
            out.append(
                {
                    **offer,
                    "credit_limit": 0.0,
                    "disbursements": [],
                    "schedule": [],
                    "fees": [],
                    "apr": None,
                    "annual_rate": None,
                    "expected_loss": 0.0,
                }
            )
    return out


def audit_log(db: Database, actor: Actor, *, app_id: int | None = None) -> list[dict[str, Any]]:
    """Audit entries, oldest first: staff see all; a farmer sees the entries about them and their applications."""
    with db.session(readonly=True) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if app_id is not None:
            _load(session, actor, app_id)
            query = query.where(AuditEntry.application_id == app_id)
        elif actor.role not in STAFF:
            query = query.where(AuditEntry.subject_user_id == actor.user_id)
        return [audit_view(e) for e in session.scalars(query)]
