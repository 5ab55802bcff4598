"""Portfolio: financed plots on the map coloured by risk, exposure (from the ledger: outstanding principal and
committed tranches) and expected loss by crop and village, the stress test over the booked loans as the ledger
sizes them, the ledger by loan state, and the active early warnings."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from agrisense.app.dashboard import data
from agrisense.app.dashboard.session import db, require_analyst
from agrisense.app.dashboard.views import group_exposure
from agrisense.errors import AgrisenseError
from agrisense.lending import active_loans, list_warnings, portfolio
from agrisense.loans.exposure import ledger_book, portfolio_exposure

actor, config = require_analyst("Portfolio")
database = db(config)
started = time.perf_counter()

book = portfolio(database, actor)
loans = active_loans(database)
warnings = list_warnings(database, actor)
ledger = portfolio_exposure(database, actor)
currency = next((str(r["currency"]) for r in book if r.get("currency")), "")

exposure = sum(float(r.get("exposure") or 0) for r in book)
expected_loss = sum(float(r.get("expected_loss") or 0) for r in book)
m = st.columns(5)
m[0].metric("Active loans", len(loans))
m[4].metric("Financed plots", len(book))
m[1].metric("Exposure", f"{exposure:,.0f} {currency}")
m[2].metric("Expected loss", f"{expected_loss:,.0f} {currency}")
m[3].metric("Active warnings", len(warnings))
totals = ledger["totals"]
n = st.columns(4)
n[0].metric("Outstanding principal", f"{totals['outstanding_principal']:,.0f} {currency}")
n[1].metric("Committed, not disbursed", f"{totals['committed_undrawn']:,.0f} {currency}")
n[2].metric("Frozen tranches", f"{totals['frozen_undrawn']:,.0f} {currency}")
n[3].metric("Accepted limits", f"{ledger['accepted_limits']:,.0f} {currency}")
st.caption(
    "Exposure = outstanding principal (disbursed - repaid principal) + tranches committed and not yet disbursed, "
    "from the ledger; frozen tranches and the accepted limits are shown apart."
)
if not book:
    st.info("Nothing is financed yet: loans appear here once a farmer accepts an approved offer.")
    st.stop()

# ---- map -----------------------------------------------------------------------------------------------------
left, right = st.columns([3, 2])
with left:
    colour = st.radio("Colour by", ["risk", "pd", "expected_loss"], horizontal=True, key="portfolio_colour")
    features = [
        {"plot_id": r["plot_id"], "geometry": r["geometry"], colour: r.get(colour)} for r in book if r.get("geometry")
    ]
    if features:
        data.show_plots_map(features, config.settings, colour, f"{len(features)} financed plots by {colour}")
with right:
    for by in ("crop", "village"):
        table = group_exposure(book, by)
        st.markdown(f"**By {by}**")
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={"el_rate": st.column_config.NumberColumn("EL rate", format="percent")},
        )
        st.image(data.bars_png(table, by, currency), width="stretch")

# ---- stress test ---------------------------------------------------------------------------------------------
st.subheader("Stress test")
shocks = st.multiselect(
    "Price shocks",
    [-0.1, -0.2, -0.3, -0.5],
    default=list(config.price_shocks),
    format_func=lambda s: f"{s:+.0%}",
    key="portfolio_shocks",
)
offers = ledger_book(database)  # each plot's offer sized by the ledger: exposure and what is still due
try:
    result = data.stress(offers, tuple(sorted(shocks, reverse=True)), config.settings)
except AgrisenseError as exc:
    st.warning(f"No stress test: {exc}")
else:
    st.caption(
        f"{result['n_loans']} loans, exposure {result['exposure']:,.0f} {currency}; booked expected loss "
        f"{result['booked_expected_loss']:,.0f}. One scenario per historical weather year."
    )
    st.dataframe(result["summary"], hide_index=True, width="stretch")
    st.image(result["chart_png"])

# ---- ledger by state ------------------------------------------------------------------------------------------
st.subheader("Ledger by loan state")
st.dataframe(pd.DataFrame(ledger["by_state"]), hide_index=True, width="stretch")
with st.expander(f"{ledger['loans']} open loans"):
    st.dataframe(pd.DataFrame(ledger["rows"]), hide_index=True, width="stretch")

# ---- warnings ------------------------------------------------------------------------------------------------
st.subheader("Active warnings")
if warnings:
    st.dataframe(pd.DataFrame(warnings), hide_index=True, width="stretch")
else:
    st.info("No active warnings.")
st.caption(f"Rendered in {1000 * (time.perf_counter() - started):.0f} ms")
