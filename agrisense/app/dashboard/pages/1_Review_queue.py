"""Review queue: applications waiting for an analyst, filtered by status, engine decision, crop, age, decisive
reason, village, PD range and proposed limit, sorted, and on a map coloured by decision."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from agrisense.app.dashboard import data
from agrisense.app.dashboard.session import db, require_analyst
from agrisense.app.dashboard.views import (
    QUEUE_SORTS,
    filter_queue,
    override_frame,
    pd_bounds,
    queue_frame,
    queue_map_features,
    queue_reason_codes,
    queue_villages,
)
from agrisense.errors import AgrisenseError
from agrisense.lending import list_plots, list_review_queue
from agrisense.lending.overrides import approve_override, list_overrides, reject_override

ANY = "(any)"

actor, config = require_analyst("Review queue")
database = db(config)
started = time.perf_counter()

everything = list_review_queue(database, actor)
statuses = sorted({str(r["status"]) for r in everything if r.get("status")})
decisions = sorted({str(r["engine_decision"]) for r in everything if r.get("engine_decision")})
crops = sorted({str(r["crop"]) for r in everything if r.get("crop")})

f1, f2, f3, f4, f5 = st.columns([2, 2, 2, 2, 3])
status = f1.selectbox("Status", [ANY, *statuses], key="queue_status")
decision = f2.selectbox("Engine decision", [ANY, *decisions], key="queue_decision")
crop = f3.selectbox("Crop", [ANY, *crops], key="queue_crop")
older = f4.number_input("Older than (hours)", min_value=0.0, value=0.0, step=12.0, key="queue_older")
pd_min, pd_max = pd_bounds(f5.slider("PD (%)", 0.0, 100.0, (0.0, 100.0), step=0.5, key="queue_pd"))

filtered = status != ANY or decision != ANY or crop != ANY or older > 0 or (pd_min, pd_max) != (None, None)
rows = (
    list_review_queue(
        database,
        actor,
        status=None if status == ANY else status,
        decision=None if decision == ANY else decision,
        crop=None if crop == ANY else crop,
        older_than_hours=older or None,
        pd_min=pd_min,
        pd_max=pd_max,
    )
    if filtered
    else everything
)
plots = {str(p["ref"]): p for p in list_plots(database, actor)}  # staff: every plot (village, outline)
table = queue_frame(rows, plots)
g1, g0, g2, g3 = st.columns([2, 2, 3, 2])
codes = queue_reason_codes(table)
code = g1.selectbox("Decisive reason", [ANY, *codes], key="queue_reason")
village = g0.selectbox("Village", [ANY, *queue_villages(table)], key="queue_village")
top = float(pd.to_numeric(table["proposed"], errors="coerce").fillna(0.0).max()) if len(table) else 0.0
top = max(top, 1.0)
low, high = g2.slider("Proposed limit", 0.0, top, (0.0, top), key="queue_limit")
sort = g3.selectbox("Sort", list(QUEUE_SORTS), key="queue_sort")
table = filter_queue(
    table,
    reason=None if code == ANY else code,
    village=None if village == ANY else village,
    limit_range=None if (low, high) == (0.0, top) else (low, high),
    sort=sort,
)
st.caption(f"{len(table)} of {len(everything)} applications · {sort}")
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "area_ha": st.column_config.NumberColumn("area (ha)", format="%.2f"),
        "pd": st.column_config.NumberColumn("PD", format="percent"),
        "limit": st.column_config.NumberColumn("limit", format="%.0f"),
        "proposed": st.column_config.NumberColumn("proposed", format="%.0f"),
        "age_h": st.column_config.NumberColumn("age (h)", format="%.1f"),
    },
)

if not table.empty and st.toggle("Map of these applications, coloured by decision", key="queue_map"):
    colour = st.radio("Colour by", ["engine_decision", "status"], horizontal=True, key="queue_map_colour")
    features = queue_map_features(table, plots, colour)
    if features:
        title = f"{len(table)} applications, {len(features)} plots, by {colour.replace('_', ' ')}"
        data.show_plots_map(features, config.settings, colour, title)
    else:
        st.info("None of these applications has a plot outline to draw.")

if table.empty:
    st.info("No application matches these filters.")
else:
    choice = st.selectbox(
        "Application",
        table["id"].tolist(),
        key="queue_open_id",
        format_func=lambda i: f"#{i} · {table.loc[table['id'] == i, 'farmer'].iloc[0]}",
    )
    if st.button("Open application", key="queue_open", type="primary"):
        st.session_state["app_id"] = int(choice)
        st.switch_page("pages/2_Application.py")
# ---- four-eyes: overrides above the policy's threshold wait for a second analyst ------------------------------
flash = st.session_state.pop("override_flash", None)
if flash:
    st.success(flash)
pending = list_overrides(database, actor)
st.subheader(f"Overrides waiting for a second analyst ({len(pending)})")
if not pending:
    st.caption("None: a change of limit above the policy's threshold appears here until another analyst decides it.")
else:
    st.dataframe(override_frame(pending), hide_index=True, width="stretch")
    chosen = st.selectbox(
        "Override request",
        [int(p["id"]) for p in pending],
        key="override_id",
        format_func=lambda i: next(
            f"#{i} · application #{p['application_id']} · {p['new_limit']:,.0f} by {p['requested_by_name']}"
            for p in pending
            if p["id"] == i
        ),
    )
    why = st.text_input("Reason (required; kept in the audit log)", key="override_reason")
    approve_col, reject_col = st.columns(2)
    verdict = (
        "approve"
        if approve_col.button("Approve override", key="override_approve", type="primary")
        else "reject"
        if reject_col.button("Reject override", key="override_reject")
        else None
    )
    if verdict:
        try:
            if verdict == "approve":
                approve_override(database, actor, chosen, reason=why, settings=config.settings)
            else:
                reject_override(database, actor, chosen, reason=why)
        except AgrisenseError as exc:
            st.error(f"Nothing was recorded. {exc}")
        else:
            st.session_state["override_flash"] = f"Override request #{chosen}: {verdict}d."
            st.rerun()

st.caption(f"Rendered in {1000 * (time.perf_counter() - started):.0f} ms")
