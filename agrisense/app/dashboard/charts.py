"""Matplotlib figures of the dashboard (drawn on ``Figure`` objects, no pyplot state, so reruns are safe)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from agrisense.app.dashboard.maps import Mosaic

RISK_COLOURS = {"low": "#1a9850", "medium": "#fdae61", "high": "#d73027"}
KIND_COLOURS = {"decline": "#d73027", "refer": "#fdae61", "info": "#9e9e9e", "positive": "#1a9850"}
MONTHS = ("J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D")
Z90 = 1.2815515655446004  # standard normal 90 % quantile


def _figure(width: float = 7.0, height: float = 3.2) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def plot_map(
    frame: Any,
    *,
    colour_by: str | None = None,
    background: Mosaic | None = None,
    title: str = "",
    highlight: Sequence[str] = (),
) -> Figure:
    """Plot outlines (a GeoDataFrame in EPSG:4326) over the tile mosaic, filled by ``colour_by``: a numeric
    column gets a red-yellow-green scale (high = red), a low/medium/high column the risk colours."""
    fig = _figure(7.0, 6.0)
    ax = fig.add_subplot()
    shapes = frame.to_crs(3857)
    if background is not None:
        ax.imshow(background.image, extent=background.extent, interpolation="nearest", zorder=0)
    if colour_by is None or colour_by not in shapes or shapes[colour_by].isna().all():
        shapes.boundary.plot(ax=ax, color="#ffeb3b", linewidth=1.6, zorder=2)
    elif pd.api.types.is_numeric_dtype(shapes[colour_by]):
        shapes.plot(
            ax=ax,
            column=colour_by,
            cmap="RdYlGn_r",
            alpha=0.75,
            edgecolor="black",
            linewidth=0.4,
            legend=True,
            legend_kwds={"label": colour_by, "shrink": 0.6},
            zorder=2,
        )
    else:
        values = shapes[colour_by].astype(str).str.lower()
        palette = RISK_COLOURS if set(values) <= set(RISK_COLOURS) else None
        categories = [c for c in RISK_COLOURS if c in set(values)] if palette else sorted(set(values))
        if palette is None:
            cmap = _tab10(len(categories))
            palette = dict(zip(categories, cmap, strict=True))
        shapes.plot(ax=ax, color=[palette[v] for v in values], alpha=0.75, edgecolor="black", linewidth=0.4, zorder=2)
        ax.legend(
            handles=[Patch(color=palette[c], label=c) for c in categories],
            loc="lower right",
            fontsize=8,
            title=colour_by,
        )
    if highlight and "plot_id" in shapes:
        chosen = shapes[shapes["plot_id"].astype(str).isin([str(h) for h in highlight])]
        if not chosen.empty:
            chosen.boundary.plot(ax=ax, color="#00e5ff", linewidth=2.2, zorder=3)
    x0, y0, x1, y1 = shapes.total_bounds
    pad = max(x1 - x0, y1 - y0) * 0.15 + 60
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_facecolor("#e6e6e6")
    note = "" if background is not None else " (no imagery tiles: warm the composites cache)"
    ax.set_title(title + note, fontsize=10)
    return fig


def _tab10(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def crop_probability_chart(class_probabilities: Mapping[str, float], highlight: str | None = None) -> Figure:
    """Horizontal bars: the model's area share of each class over the plot."""
    fig = _figure(5.0, 2.6)
    ax = fig.add_subplot()
    items = sorted(class_probabilities.items(), key=lambda kv: kv[1])
    names = [k for k, _ in items]
    colours = ["#2e7d32" if k == highlight else "#90a4ae" for k in names]
    ax.barh(names, [100 * float(v) for _, v in items], color=colours)
    for i, (_, v) in enumerate(items):
        ax.text(100 * float(v) + 1, i, f"{100 * float(v):.0f}%", va="center", fontsize=8)
    ax.set_xlim(0, 110)
    ax.set_xlabel("share of the plot, %")
    ax.set_title("Crop type model: share of the plot per class (not the confidence)", fontsize=10)
    return fig


def ndvi_chart(
    observed: Mapping[int, float],
    *,
    season: int | None,
    crop: str,
    expected_mean: Mapping[int, float] | None = None,
    expected_std: Mapping[int, float] | None = None,
    earlier: Mapping[int, Mapping[int, float]] | None = None,
) -> Figure:
    """NDVI by calendar month: this season's plot against the crop's expected curve (mean ± 1 sd) and the plot's
    earlier seasons."""
    fig = _figure(7.0, 3.2)
    ax = fig.add_subplot()
    months = np.arange(1, 13)
    handles = []
    if expected_mean:
        mean = np.array([expected_mean.get(int(m), np.nan) for m in months])
        std = np.array([(expected_std or {}).get(int(m), 0.0) for m in months])
        ax.fill_between(months, mean - std, mean + std, color="#a5d6a7", alpha=0.5, lw=0)
        ax.plot(months, mean, color="#2e7d32", lw=1.5, ls="--")
        handles.append(Line2D([], [], color="#2e7d32", ls="--", label=f"expected {crop} (± 1 sd)"))
    for k, (year, curve) in enumerate(sorted((earlier or {}).items())):
        xs = sorted(curve)
        ax.plot(xs, [curve[m] for m in xs], color="#9e9e9e", lw=1, marker=".", alpha=0.5 + 0.1 * k)
        handles.append(Line2D([], [], color="#9e9e9e", marker=".", label=f"season {year}"))
    if observed:
        xs = sorted(observed)
        ax.plot(xs, [observed[m] for m in xs], color="#1565c0", lw=2, marker="o")
        handles.append(Line2D([], [], color="#1565c0", marker="o", label=f"this plot {season or ''}".strip()))
    ax.set_xticks(months, MONTHS)
    ax.set_ylim(-0.1, 1.0)
    ax.set_ylabel("NDVI")
    ax.grid(alpha=0.3)
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="upper left")
    ax.set_title("Vegetation (NDVI) by month", fontsize=10)
    return fig


def yield_chart(yield_: Mapping[str, Any]) -> Figure:
    """The yield distribution: a lognormal through the offer's p10 and p90, with p10/p50/p90 marked."""
    fig = _figure(5.0, 2.6)
    ax = fig.add_subplot()
    p10, p50, p90 = (float(yield_[k]) for k in ("p10", "p50", "p90"))
    unit = str(yield_.get("unit", "t/ha"))
    if 0 < p10 < p90:
        mu = (math.log(p10) + math.log(p90)) / 2
        sigma = (math.log(p90) - math.log(p10)) / (2 * Z90)
        x = np.linspace(max(p10 / 3, 1e-3), p90 * 1.6, 300)
        density = np.exp(-((np.log(x) - mu) ** 2) / (2 * sigma**2)) / (x * sigma * math.sqrt(2 * math.pi))
        ax.plot(x, density, color="#6d4c41")
        band = (x >= p10) & (x <= p90)
        ax.fill_between(x[band], density[band], color="#d7ccc8", alpha=0.8)
    for value, name in ((p10, "p10"), (p50, "p50"), (p90, "p90")):
        ax.axvline(value, color="#3e2723", lw=1, ls=":" if name != "p50" else "-")
        ax.text(value, ax.get_ylim()[1] * 0.95, f" {name} {value:.2f}", fontsize=8, va="top")
    ax.set_xlabel(f"yield, {unit}")
    ax.set_yticks([])
    ax.set_title("Expected yield", fontsize=10)
    return fig


WEATHER_EVENTS = ("drought", "severe_drought", "heat", "frost", "excess_rain")
SEASON_COLOURS = ("#b0bec5", "#607d8b", "#37474f")
COMBINED_LABEL = "seasons combined, revenue-weighted (the decision's)"


def _season_label(season: Mapping[str, Any]) -> str:
    name = season.get("name_en") or str(season.get("crop", "")).replace("_", " ")
    return f"{name} (mean loss {100 * float(season.get('expected_loss') or 0.0):.1f}%)"


def weather_chart(risk: Mapping[str, Any]) -> Figure:
    """Annual probability of each weather event over the crop's season, from the local history (an offer's
    ``weather_risk``). A crop grown in several seasons a year (double rice) shows each season's own probabilities
    (by its English name) beside the revenue-weighted ones the decision used."""
    seasons = list(risk.get("seasons") or ())
    sets = [(_season_label(s), s, SEASON_COLOURS[i % len(SEASON_COLOURS)]) for i, s in enumerate(seasons)]
    sets = [*sets, (COMBINED_LABEL, risk, "#ef6c00")] if sets else [("", risk, "#ef6c00")]
    fig = _figure(5.0, 2.6 + 0.5 * (len(sets) - 1))
    ax = fig.add_subplot()
    rows = np.arange(len(WEATHER_EVENTS))
    height = 0.8 / len(sets)
    highest = 10.0
    for k, (label, figures, colour) in enumerate(sets):
        values = [100 * float(figures.get(n) or 0.0) for n in WEATHER_EVENTS]
        at = rows + ((len(sets) - 1) / 2 - k) * height  # the first season on top of each event's group
        ax.barh(at, values, height, color=colour, label=label or "_nolegend_")
        for y, v in zip(at, values, strict=True):
            ax.text(v + 0.5, y, f"{v:.0f}%", va="center", fontsize=8 if len(sets) == 1 else 6)
        highest = max(highest, *values)
    ax.set_yticks(rows, [n.replace("_", " ") for n in WEATHER_EVENTS])
    ax.set_xlim(0, highest * 1.25)
    any_season = risk.get("drought_any_season")
    note = "" if any_season is None else f"; drought in any season {100 * float(any_season):.0f}%"
    ax.set_xlabel(f"years with the event, %{note}")
    years = f"{risk.get('first_year')}-{risk.get('last_year')}" if risk.get("first_year") else "history"
    loss = float(risk.get("expected_loss") or 0.0)
    ax.set_title(f"Weather risk {years}: mean yield loss {100 * loss:.1f}%", fontsize=10)
    if seasons:
        fig.legend(loc="outside lower center", ncols=2, fontsize=7)
    return fig


def group_bars(table: pd.DataFrame, *, by: str, currency: str) -> Figure:
    """Exposure and expected loss per group (crop, village) as side-by-side bars."""
    fig = _figure(6.0, 2.8)
    ax = fig.add_subplot()
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["exposure"], 0.4, label="exposure", color="#1565c0")
    ax.bar(x + 0.2, table["expected_loss"], 0.4, label="expected loss", color="#d73027")
    ax.set_xticks(x, [str(v) for v in table[by]], rotation=30 if len(table) > 6 else 0, fontsize=8)
    ax.set_ylabel(currency)
    ax.legend(fontsize=8)
    ax.set_title(f"Exposure and expected loss by {by}", fontsize=10)
    return fig


def distribution_chart(baseline: pd.Series, current: pd.Series, *, name: str, labels: tuple[str, str]) -> Figure:
    """Overlaid histograms of one variable in the baseline and the current run."""
    fig = _figure(4.2, 2.6)
    ax = fig.add_subplot()
    b = pd.to_numeric(baseline, errors="coerce").dropna()
    c = pd.to_numeric(current, errors="coerce").dropna()
    both = pd.concat([b, c])
    edges: Any = np.histogram_bin_edges(both, bins=20) if len(both) and both.nunique() > 1 else 10
    ax.hist(b, bins=edges, alpha=0.5, density=True, label=labels[0], color="#9e9e9e")
    ax.hist(c, bins=edges, alpha=0.5, density=True, label=labels[1], color="#1565c0")
    ax.set_title(name, fontsize=10)
    ax.set_yticks([])
    ax.legend(fontsize=7)
    return fig


def class_mix_chart(mix: pd.DataFrame, *, name: str, labels: tuple[str, str]) -> Figure:
    """Share of each class in the baseline and current runs."""
    fig = _figure(4.2, 2.6)
    ax = fig.add_subplot()
    x = np.arange(len(mix))
    ax.bar(x - 0.2, 100 * mix["baseline_share"], 0.4, label=labels[0], color="#9e9e9e")
    ax.bar(x + 0.2, 100 * mix["current_share"], 0.4, label=labels[1], color="#1565c0")
    ax.set_xticks(x, [str(v) for v in mix["class"]], fontsize=8)
    ax.set_ylabel("% of plots")
    ax.set_title(f"{name} mix", fontsize=10)
    ax.legend(fontsize=7)
    return fig
