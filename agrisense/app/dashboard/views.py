"""Tables the pages show, built from the lending service's views and the typed offer (pure: no Streamlit, no
database)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from agrisense.credit.offer import Offer, Reason
from agrisense.errors import InvalidInput

DECISIONS = ("approve", "decline", "change_limit")
DECISION_LABELS = {"approve": "Approve", "decline": "Decline", "change_limit": "Change limit"}


def reason_codes(reasons: Iterable[Any]) -> str:
    """Codes of the decisive reasons (decline, refer) first, comma-separated."""
    codes = []
    for r in reasons or ():
        if isinstance(r, Mapping):
            if r.get("kind") in ("decline", "refer") or "kind" not in r:
                codes.append(str(r.get("code", "")))
        else:
            codes.append(str(r))
    return ", ".join(c for c in codes if c)


def queue_frame(
    rows: Sequence[Mapping[str, Any]], plots: Mapping[str, Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """The review queue as a table, oldest first (decisive reason codes last: they are the longest); ``plots``
    (plot ref -> plot view, from ``list_plots``) gives each application the village(s) of its plots."""
    columns = ["id", "farmer", "status", "age_h", "crop", "area_ha", "plots", "village", "engine_decision", "pd",
               "limit", "proposed", "reasons"]  # fmt: skip
    plots = plots or {}

    def villages(refs: Iterable[Any]) -> str | None:
        found = sorted({str(plots[str(r)]["village"]) for r in refs if plots.get(str(r), {}).get("village")})
        return ", ".join(found) or None

    records = [
        {
            "id": int(r["id"]),
            "farmer": r.get("farmer_name"),
            "status": r.get("status"),
            "age_h": round(float(r.get("age_hours") or 0.0), 1),
            "crop": r.get("crop"),
            "area_ha": r.get("area_ha"),
            "plots": ", ".join(str(p) for p in r.get("plots") or ()),
            "village": villages(r.get("plots") or ()),
            "engine_decision": r.get("engine_decision"),
            "pd": r.get("pd"),
            "limit": r.get("credit_limit"),
            "proposed": r.get("proposed_limit"),
            "reasons": reason_codes(r.get("reasons") or ()),
        }
        for r in rows
    ]
    frame = pd.DataFrame(records, columns=columns)
    return frame.sort_values("age_h", ascending=False, kind="stable").reset_index(drop=True)


def queue_map_features(
    table: pd.DataFrame, plots: Mapping[str, Mapping[str, Any]], by: str = "engine_decision"
) -> list[dict[str, Any]]:
    """One map feature per plot of the queue table's applications that has an outline, carrying the ``by`` value
    of its application (for ``data.map_png(..., colour_by=by)``)."""
    features = []
    for _, row in table.iterrows():
        for ref in [r.strip() for r in str(row["plots"] or "").split(",") if r.strip()]:
            geometry = plots.get(ref, {}).get("geometry")
            if geometry:
                features.append(
                    {"plot_id": ref, "geometry": geometry, by: str(row[by]) if pd.notna(row[by]) else "(none)"}
                )
    return features


QUEUE_SORTS = {
    "oldest first": ("age_h", False),
    "newest first": ("age_h", True),
    "largest proposed limit": ("proposed", False),
    "largest area": ("area_ha", False),
    "highest PD": ("pd", False),
    "id": ("id", True),
}


def queue_reason_codes(frame: pd.DataFrame) -> list[str]:
    """Every decisive reason code that occurs in a queue table, sorted."""
    return _listed(frame, "reasons")


def queue_villages(frame: pd.DataFrame) -> list[str]:
    """Every village that occurs in a queue table, sorted."""
    return _listed(frame, "village")


def _listed(frame: pd.DataFrame, column: str) -> list[str]:
    values = frame.get(column, ())
    return sorted({c.strip() for text in values if pd.notna(text) for c in str(text).split(",") if c.strip()})


def filter_queue(
    frame: pd.DataFrame,
    *,
    reason: str | None = None,
    village: str | None = None,
    limit_range: tuple[float, float] | None = None,
    min_age_h: float = 0.0,
    max_age_h: float | None = None,
    sort: str = "oldest first",
) -> pd.DataFrame:
    """The rows of a :func:`queue_frame` with decisive reason ``reason``, a plot in ``village``, a proposed limit
    within ``limit_range`` (both ends included; no proposed limit counts as 0) and an age between the bounds, sorted
    by ``sort``."""
    keep = pd.Series(True, index=frame.index)
    if reason:
        keep &= frame["reasons"].map(lambda text: reason in [c.strip() for c in str(text or "").split(",")])
    if village:
        keep &= frame["village"].map(lambda text: village in [v.strip() for v in str(text or "").split(",")])
    if limit_range is not None:
        proposed = pd.to_numeric(frame["proposed"], errors="coerce").fillna(0.0)
        keep &= proposed.between(limit_range[0], limit_range[1])
    if min_age_h > 0:
        keep &= frame["age_h"] >= min_age_h
    if max_age_h is not None:
        keep &= frame["age_h"] <= max_age_h
    column, ascending = QUEUE_SORTS[sort]
    kept = frame[keep]
    return kept.sort_values(column, ascending=ascending, kind="stable", na_position="last").reset_index(drop=True)


def pd_bounds(percent_range: tuple[float, float]) -> tuple[float | None, float | None]:
    """The queue's PD slider (percent, 0-100) as the service's ``pd_min`` / ``pd_max`` (``None`` at an open end, so
    the full range keeps applications without a PD)."""
    low, high = percent_range
    return (None if low <= 0 else low / 100, None if high >= 100 else high / 100)


def typed_offers(application: Mapping[str, Any]) -> list[Offer]:
    """The offers of an application view as the product's typed :class:`~agrisense.credit.offer.Offer`."""
    return [Offer.model_validate(o) for o in (application.get("offer") or {}).get("offers") or ()]


def chart_inputs(
    offer: Offer, curve: Any | None = None, earlier: Mapping[int, Mapping[int, float]] | None = None
) -> dict[str, dict[str, Any]]:
    """The arguments of each offer chart the offer has data for (``crop_probability``, ``ndvi``, ``yield``,
    ``weather``; ``data.offer_charts_png`` draws them): ``curve`` is the crop's expected NDVI curve (``mean`` and
    ``std`` by month) and ``earlier`` the plot's NDVI in earlier seasons (season -> month -> NDVI)."""
    imagery = offer.imagery
    inputs: dict[str, dict[str, Any]] = {}
    if imagery is not None and imagery.class_probabilities:
        inputs["crop_probability"] = {"class_probabilities": dict(imagery.class_probabilities), "highlight": offer.crop}
    inputs["ndvi"] = {
        "observed": {int(m): v for m, v in imagery.ndvi_by_month.items()} if imagery else {},
        "season": offer.evidence_season,
        "crop": offer.assessed_crop or offer.crop or "",
        "expected_mean": dict(curve.mean) if curve else None,
        "expected_std": dict(curve.std) if curve else None,
        "earlier": {int(s): dict(c) for s, c in (earlier or {}).items()},
    }
    if offer.yield_ is not None:
        inputs["yield"] = {"yield_": offer.yield_.model_dump()}
    if offer.weather_risk is not None:
        inputs["weather"] = {"risk": offer.weather_risk.model_dump()}
    return inputs


def offer_version(inputs: Mapping[str, Any]) -> str:
    """A short fingerprint of what a plot's charts show (``chart_inputs``): an override, a re-score or a new earlier
    season gives a new version, so its charts are drawn again."""
    import hashlib
    import json

    text = json.dumps(inputs, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def crop_confidence(offer: Offer) -> str:
    """The one crop confidence the dashboard shows: the offer's ``crop_probability`` as a whole percent."""
    return "n/a" if offer.crop_probability is None else f"{100 * offer.crop_probability:.0f}%"


def crop_header(declared: str | None, offers: Sequence[Offer]) -> dict[str, str]:
    """Declared crop, verified crop and crop confidence of an application (per plot where the plots differ)."""

    def joined(values: Sequence[str]) -> str:
        return values[0] if len(set(values)) == 1 else " / ".join(values)

    declared_crops = [o.declared_crop or declared or "(none)" for o in offers] or [declared or "(none)"]
    verified = [o.crop or "not verified" for o in offers] or ["not verified"]
    confidence = [crop_confidence(o) for o in offers] or ["n/a"]
    return {
        "Declared crop": joined(declared_crops),
        "Verified crop": joined(verified),
        "Crop confidence": joined(confidence),
    }


def offers_frame(offers: Sequence[Offer]) -> pd.DataFrame:
    """One line per plot offer: declared and verified crop, crop confidence (the offer's ``crop_probability``,
    the same number the header shows), decision, limit, PD, expected loss, APR."""
    columns = ["plot", "declared_crop", "verified_crop", "crop_confidence", "decision", "limit", "pd",
               "expected_loss", "apr"]  # fmt: skip
    rows = [
        [
            o.plot_id,
            o.declared_crop,
            o.crop,
            crop_confidence(o),
            o.decision,
            o.credit_limit,
            o.pd,
            o.expected_loss,
            o.apr,
        ]
        for o in offers
    ]
    return pd.DataFrame(rows, columns=columns)


def reasons_frame(reasons: Sequence[Reason]) -> pd.DataFrame:
    """An offer's reasons with the effect of each on the decision, the limit and the score."""
    rows = [
        {
            "kind": r.kind,
            "code": r.code,
            "reason": r.detail_en or r.message_en,  # the analyst reads the numbers (farmers read message_*)
            "原因": r.detail_zh or r.message_zh,
            "limit_haircut": r.effect.limit_haircut,
            "score_points": r.effect.pd_points,
        }
        for r in reasons
    ]
    return pd.DataFrame(rows, columns=["kind", "code", "reason", "原因", "limit_haircut", "score_points"])


def schedule_frame(offer: Offer) -> pd.DataFrame:
    """Money out (disbursements, negative) and in (repayments) of one offer, in date order."""
    rows: list[dict[str, Any]] = [
        {
            "date": d.date,
            "flow": "disbursement",
            "amount": -d.amount,
            "principal": None,
            "interest": None,
            "fees": None,
            "note": d.condition or d.payee,
        }
        for d in offer.disbursements
    ]
    rows += [
        {
            "date": i.date,
            "flow": "repayment",
            "amount": i.total,
            "principal": i.principal,
            "interest": i.interest,
            "fees": i.fees,
            "note": None,
        }
        for i in offer.schedule
    ]
    frame = pd.DataFrame(rows, columns=["date", "flow", "amount", "principal", "interest", "fees", "note"])
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def validate_decision(decision: str, reason: str, new_limit: float | None) -> str:
    """The trimmed reason, or InvalidInput saying what is missing (checked before anything is written)."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("A reason is required for every decision: write why you approve, decline or change it.")
    if decision == "change_limit" and (new_limit is None or not new_limit > 0):
        raise InvalidInput("Changing the limit needs the new limit, a positive amount (to refuse credit, decline).")
    return text


def audit_frame(entries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Audit entries, oldest first, with their details as compact JSON text."""
    import json

    columns = ["at", "actor_role", "actor_id", "action", "reason", "details"]
    rows = [
        {**{c: e.get(c) for c in columns}, "details": json.dumps(e.get("details") or {}, sort_keys=True)}
        for e in entries
    ]
    return pd.DataFrame(rows, columns=columns)


def group_exposure(rows: Sequence[Mapping[str, Any]], by: str) -> pd.DataFrame:
    """Loans, exposure, expected loss and EL rate per value of ``by`` (e.g. crop, village), largest first."""
    frame = pd.DataFrame(
        {
            by: [r.get(by) or "(unknown)" for r in rows],
            "exposure": [float(r.get("exposure") or 0.0) for r in rows],
            "expected_loss": [float(r.get("expected_loss") or 0.0) for r in rows],
        }
    )
    if frame.empty:
        return pd.DataFrame(columns=[by, "loans", "exposure", "expected_loss", "el_rate"])
    table = frame.groupby(by, as_index=False).agg(
        loans=("exposure", "size"), exposure=("exposure", "sum"), expected_loss=("expected_loss", "sum")
    )
    table["el_rate"] = table["expected_loss"] / table["exposure"].where(table["exposure"] > 0)
    return table.sort_values("exposure", ascending=False, kind="stable").reset_index(drop=True)


def geo_frame(rows: Sequence[Mapping[str, Any]], geometry_key: str = "geometry") -> Any:
    """A GeoDataFrame (EPSG:4326) of the rows that carry a GeoJSON geometry."""
    import geopandas as gpd
    from shapely.geometry import shape

    kept = [dict(r) for r in rows if r.get(geometry_key)]
    geoms = [shape(r.pop(geometry_key)) for r in kept]
    return gpd.GeoDataFrame(kept, geometry=geoms, crs="EPSG:4326")


OVERRIDE_COLUMNS = {
    "id": "request",
    "application_id": "application",
    "farmer_name": "farmer",
    "crop": "crop",
    "current_limit": "limit now",
    "new_limit": "new limit",
    "threshold": "threshold",
    "requested_by_name": "asked by",
    "reason": "reason",
    "created_at": "asked at",
}


def override_frame(requests: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The four-eyes queue as a table: one row per override request, the columns an approver needs."""
    return pd.DataFrame([{label: r.get(key) for key, label in OVERRIDE_COLUMNS.items()} for r in requests])
