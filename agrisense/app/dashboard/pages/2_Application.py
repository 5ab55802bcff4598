"""One application: plots over the imagery, crop model, NDVI against expectation, yield, weather, reasons and
schedule; the analyst's decision (approve, decline, change limit) with a mandatory reason, audited."""

from __future__ import annotations

import time

import streamlit as st

from agrisense.app.dashboard import data
from agrisense.app.dashboard.rescore import plot_history
from agrisense.app.dashboard.session import db, require_analyst
from agrisense.app.dashboard.views import (
    DECISION_LABELS,
    DECISIONS,
    audit_frame,
    chart_inputs,
    crop_confidence,
    crop_header,
    offer_version,
    offers_frame,
    reasons_frame,
    schedule_frame,
    typed_offers,
    validate_decision,
)
from agrisense.errors import AgrisenseError
from agrisense.lending import audit_log, decide_application, get_application, list_review_queue
from agrisense.lending.outline_checks import missing_outline_checks

actor, config = require_analyst("Application")
database = db(config)
started = time.perf_counter()

flash = st.session_state.pop("decision_flash", None)
if flash:
    st.success(flash)

queue = list_review_queue(database, actor)
ids = [int(r["id"]) for r in queue]
# the picker's own choice, else the one opened from the queue, else a link's ?app=ID, else the oldest
wanted = st.session_state.get("application_pick") or st.session_state.get("app_id") or st.query_params.get("app")
try:
    current = int(wanted) if wanted is not None else (ids[0] if ids else None)
except ValueError:
    current = None
if current is None:
    st.info("No application to show. Pick one in the review queue.")
    st.stop()
if current not in ids:
    ids = [current, *ids]
app_id = st.selectbox(
    "Application", ids, index=ids.index(current), key="application_pick", format_func=lambda i: f"#{i}"
)
st.session_state["app_id"] = int(app_id)
st.query_params["app"] = str(app_id)  # the address bar links to this application

try:
    application = get_application(database, actor, int(app_id))
except AgrisenseError as exc:
    st.error(str(exc))
    st.stop()

offers = typed_offers(application)
currency = application.get("currency") or (offers[0].currency if offers else "")
limit = float(application.get("credit_limit") or 0.0)
proposed = float(application.get("proposed_limit") or 0.0)
head = st.columns(5)
head[0].metric("Status", str(application.get("status")))
head[1].metric("Engine decision", str(application.get("engine_decision")))
head[2].metric("Limit", f"{limit:,.0f} {currency}")
head[3].metric("Proposed limit", f"{proposed:,.0f} {currency}")
head[4].metric("Area", f"{float(application.get('area_ha') or 0):.2f} ha")
crops = st.columns(3)
for column, (label, value) in zip(crops, crop_header(application.get("crop"), offers).items(), strict=True):
    column.metric(label, value)
st.caption(
    f"{application.get('farmer_name') or application.get('farmer_id')} · "
    f"finance season {application.get('finance_season')} · submitted {application.get('created_at')}"
)

features = [{"plot_id": p.get("ref"), "geometry": p.get("geometry")} for p in application.get("plots") or []]
features = [f for f in features if f["geometry"]]
# each drawn outline against the field the model's boundary head finds at its centre (fraud and drawing errors):
# computed when the farmer submitted (the API's outline queue); here only when not stored yet or an outline changed
missing = missing_outline_checks(database, actor, int(app_id))
if missing:
    with st.status(
        f"Comparing {len(missing)} outline(s) with the fields the model finds (not stored yet: a few seconds a plot)…",
        expanded=True,
    ) as progress_box:
        bar = st.progress(0.0, text=f"0 of {len(missing)} plot(s) checked")
        checks = data.outline_checks(
            database,
            actor,
            int(app_id),
            config.settings,
            progress=lambda done, total: bar.progress(done / total, text=f"{done} of {total} plot(s) checked"),
        )
        progress_box.update(label=f"Outlines compared: {len(missing)} plot(s)", state="complete", expanded=False)
else:
    checks = data.outline_checks(database, actor, int(app_id), config.settings)
data.prefetch_outline_checks(database, actor, ids[ids.index(int(app_id)) + 1 :], config.settings)  # the next ones
found = [{"plot_id": f"field {pid}", "geometry": c["geometry"]} for pid, c in checks.items() if c["geometry"]]
left, right = st.columns([3, 2])
with left:
    if features:
        layer = st.radio("Imagery", ["truecolor", "ndvi"], horizontal=True, key="application_layer")
        st.image(
            data.map_png(
                features + found,
                config.settings,
                layer=layer,
                max_tiles=9,
                title=f"Application #{app_id}: {len(features)} plot(s), {layer}\n"
                "yellow: drawn by the farmer · cyan: field found by the model",
                highlight=[f["plot_id"] for f in found],
            ),
            width="stretch",
        )
    else:
        st.info("This application has no plot outline to draw.")
with right:
    st.markdown("**Offer per plot**")
    st.dataframe(offers_frame(offers), hide_index=True, width="stretch")
    st.markdown("**Decision**")
    pending = application.get("pending_override")
    if pending:
        st.warning(
            f"Override request #{pending['id']} to {pending['new_limit']:,.2f} {currency} (above "
            f"{pending['threshold']:,.0f}) waits for a second analyst: approve or reject it in the review queue."
        )
    start_limit = limit or proposed
    if start_limit <= 0:
        # nothing to start the limit box from: say why the engine proposes no credit instead of a useless 0
        why = ", ".join(r.code for o in offers for r in o.reasons if r.kind in ("decline", "refer")) or "none given"
        st.info(f"The engine proposes no limit for this application (reasons: {why}). To offer credit, choose "
                "'Change limit' and type the amount.")  # fmt: skip
    # the form's widgets are keyed by application: each application starts from its own proposed limit
    with st.form(f"decide_{app_id}", clear_on_submit=True):
        decision = st.radio(
            "Decision",
            DECISIONS,
            format_func=DECISION_LABELS.__getitem__,
            horizontal=True,
            key=f"decide_decision_{app_id}",
        )
        new_limit = st.number_input(
            f"New limit ({currency}), for 'Change limit'",
            min_value=0.0,
            step=50.0,
            value=start_limit if start_limit > 0 else None,
            placeholder="no proposed limit: type one",
            key=f"decide_limit_{app_id}",
        )
        reason = st.text_area("Reason (required; kept in the audit log)", key=f"decide_reason_{app_id}")
        submitted = st.form_submit_button("Record decision", type="primary")
    if submitted:
        try:
            chosen = float(new_limit) if decision == "change_limit" and new_limit is not None else None
            text = validate_decision(decision, reason, chosen)
            view = decide_application(
                database,
                actor,
                int(app_id),
                decision=decision,  # type: ignore[arg-type]
                reason=text,
                new_limit=chosen,
            )
        except AgrisenseError as exc:
            st.error(f"Nothing was recorded. {exc}")
        else:
            asked = view.get("pending_override")
            st.session_state["decision_flash"] = (
                f"Recorded: override request #{asked['id']} on application #{app_id}; above "
                f"{asked['threshold']:,.0f} a second analyst must approve it (review queue)."
                if asked and decision == "change_limit"
                else f"Recorded: {DECISION_LABELS[decision]} on application #{app_id}."
            )
            st.rerun()

runs = data.rescore_runs(config.rescore_dir)
if offers:
    # only the chosen plot's charts are drawn; the others on demand (keyed by application: no leak between pages)
    by_plot = {o.plot_id: o for o in offers}
    plot_id = st.selectbox("Plot", list(by_plot), key=f"application_plot_{app_id}")
    offer = by_plot[plot_id]
    crop = offer.assessed_crop or offer.crop or ""
    earlier = {s: c for s, c in plot_history(runs, offer.plot_id).items() if s != offer.evidence_season}
    model_version = (offer.model_versions or {}).get("landcover")
    curves = data.expected_curves(str(config.settings.region_dir), str(config.settings.reference_dir), model_version)
    inputs = chart_inputs(offer, curves.get(crop), earlier)
    pngs = data.offer_charts_png(int(app_id), offer.plot_id, offer_version(inputs), inputs)
    imagery = offer.imagery
    a, b = st.columns(2)
    if "crop_probability" in pngs:
        a.image(pngs["crop_probability"], width="stretch")
        a.caption(
            f"Declared {offer.declared_crop or '(none)'} · verified {offer.crop or 'not verified'} · crop "
            f"confidence {crop_confidence(offer)} (the offer's; the bars are area shares)"
        )
    else:
        a.info(f"No crop-model output for this plot ({(imagery and imagery.reason) or 'no imagery'}).")
    b.image(pngs["ndvi"], width="stretch")
    c, d = st.columns(2)
    if "yield" in pngs:
        c.image(pngs["yield"], width="stretch")
    else:
        c.info("No yield distribution (the plot was not scored).")
    if "weather" in pngs:
        d.image(pngs["weather"], width="stretch")
    else:
        d.info("No weather history for this plot: a conservative allowance was applied.")
    check = checks.get(offer.plot_id)
    if check:
        st.markdown("**Outline against the field the model finds**")
        (st.success if check["verdict"] == "matches" else st.warning)(check["message"])
    st.markdown("**Reasons**")
    st.dataframe(reasons_frame(offer.reasons), hide_index=True, width="stretch")
    st.markdown("**Disbursements and repayment schedule**")
    st.dataframe(schedule_frame(offer), hide_index=True, width="stretch")

st.markdown("**Decisions and audit trail**")
st.dataframe(audit_frame(audit_log(database, actor, app_id=int(app_id))), hide_index=True, width="stretch")
st.caption(f"Rendered in {1000 * (time.perf_counter() - started):.0f} ms")
