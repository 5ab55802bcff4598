"""Model monitoring: how the current re-score run differs from an earlier one (PSI of the crop probability, PD
and limit distributions; crop and decision mix)."""

from __future__ import annotations

import time

import streamlit as st

from agrisense.app.dashboard import data
from agrisense.app.dashboard.drift import MIN_RELIABLE_N, PSI_MODERATE, PSI_SIGNIFICANT, class_mix, drift_table
from agrisense.app.dashboard.session import require_analyst

actor, config = require_analyst("Model monitoring")
started = time.perf_counter()

runs = data.rescore_runs(config.rescore_dir)
if len(runs) < 2:
    st.info(
        f"Model monitoring compares two re-score runs; {len(runs)} found under {config.rescore_dir}. Run "
        f"`agrisense rescore --region DIR --season YYYY --out {config.rescore_dir}/<run>` for two seasons (or set "
        "AGRISENSE_DASHBOARD_RESCORE_DIR)."
    )
    st.stop()

labels = [r.label for r in runs]
c1, c2 = st.columns(2)
base_i = c1.selectbox(
    "Baseline run", range(len(runs)), index=len(runs) - 2, format_func=labels.__getitem__, key="monitor_baseline"
)
cur_i = c2.selectbox(
    "Current run", range(len(runs)), index=len(runs) - 1, format_func=labels.__getitem__, key="monitor_current"
)
baseline, current = runs[base_i], runs[cur_i]
if base_i == cur_i:
    st.warning("Pick two different runs to compare.")
    st.stop()

table = drift_table(baseline.plots, current.plots)
worst = table["psi"].max() if not table.empty else 0.0
m = st.columns(4)
m[0].metric("Plots (baseline → current)", f"{len(baseline.plots)} → {len(current.plots)}")
m[1].metric("Largest PSI", f"{worst:.3f}")
m[2].metric("Variables shifted", int((table["psi"] >= PSI_MODERATE).sum()) if not table.empty else 0)
m[3].metric("Warnings in current run", len(current.warnings))
st.caption(
    f"PSI < {PSI_MODERATE} stable · {PSI_MODERATE}-{PSI_SIGNIFICANT} moderate · > {PSI_SIGNIFICANT} "
    "significant (re-check the model and the policy)."
)
if min(len(baseline.plots), len(current.plots)) < MIN_RELIABLE_N:
    st.warning(f"Fewer than {MIN_RELIABLE_N} plots in a run: PSI is noisy at this size; read it as a hint only.")
st.dataframe(
    table, hide_index=True, width="stretch", column_config={"psi": st.column_config.NumberColumn("PSI", format="%.3f")}
)

names = (baseline.label, current.label)
numeric = [v for v in table.loc[table["kind"] == "distribution", "variable"]]
for col, name in zip(st.columns(max(len(numeric), 1)), numeric, strict=False):
    col.image(data.distribution_png(baseline.plots[name], current.plots[name], name, names), width="stretch")
categorical = [v for v in table.loc[table["kind"] == "class mix", "variable"]]
for col, name in zip(st.columns(max(len(categorical), 1)), categorical, strict=False):
    mix = class_mix(baseline.plots[name], current.plots[name])
    col.image(data.mix_png(mix, name, names), width="stretch")
    col.dataframe(mix, hide_index=True, width="stretch")
st.caption(f"Rendered in {1000 * (time.perf_counter() - started):.0f} ms")
