"""agrisense analysts' dashboard: log-in and the day's overview. Run with `make dashboard`."""

from __future__ import annotations

import time

import streamlit as st

from agrisense.app.dashboard import data
from agrisense.app.dashboard.session import db, require_analyst
from agrisense.lending import list_review_queue, list_warnings, portfolio

actor, config = require_analyst("Credit review")
started = time.perf_counter()
database = db(config)

queue = list_review_queue(database, actor)
# the queue's first applications get their outline checks now, while the analyst reads this page and the queue
data.prefetch_outline_checks(database, actor, [int(r["id"]) for r in queue], config.settings)
book = portfolio(database, actor)
warnings = list_warnings(database, actor)

waiting = [r for r in queue if r.get("status") == "in_review"]
oldest = max((float(r.get("age_hours") or 0) for r in waiting), default=0.0)
exposure = sum(float(r.get("exposure") or 0) for r in book)
expected_loss = sum(float(r.get("expected_loss") or 0) for r in book)

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Awaiting review", len(waiting))
c2.metric("Oldest waiting", f"{oldest:.0f} h")
c3.metric("Financed plots", len(book))
c4.metric("Exposure", f"{exposure:,.0f}")
c5.metric("Active warnings", len(warnings))
if exposure > 0:
    st.caption(f"Expected loss of the book: {expected_loss:,.0f} ({100 * expected_loss / exposure:.1f} % of exposure).")

st.page_link("pages/1_Review_queue.py", label="Review queue: applications the engine referred or that wait for you")
st.page_link("pages/2_Application.py", label="Application: evidence, offer and your decision")
st.page_link("pages/3_Portfolio.py", label="Portfolio: map of financed plots, exposure, stress test, warnings")
st.page_link("pages/4_Model_monitoring.py", label="Model monitoring: drift between re-score runs")
st.caption(
    f"Database: {database!r} · re-score runs: {config.rescore_dir} · rendered in "
    f"{1000 * (time.perf_counter() - started):.0f} ms"
)
