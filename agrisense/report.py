"""Render scoring results: terminal tables (rich), a Markdown report and a map (matplotlib, no CDN)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from agrisense.credit.money import total
from agrisense.scoring import ScoreRun

DECISION_COLOURS = {"approve": "#1a9850", "refer": "#fdae61", "decline": "#d73027"}


def print_offers(offers: list[dict[str, Any]], console: Console, limit: int | None = None) -> None:
    """One row per offer: plot, crop, probability, area, limit, decision, first reason."""
    table = Table(title="Offers", show_lines=False)
    for col in ("plot", "farmer", "crop", "p", "ha", "亩", "limit", "APR", "decision", "main reason"):
        table.add_column(col, justify="right" if col in {"p", "ha", "亩", "limit", "APR"} else "left")
    for offer in offers[:limit]:
        reasons = offer.get("reasons") or []
        colour = {"approve": "green", "refer": "yellow", "decline": "red"}.get(offer.get("decision", ""), "white")
        table.add_row(
            str(offer.get("plot_id")),
            str(offer.get("farmer_id") or ""),
            str(offer.get("crop") or "-"),
            _fmt(offer.get("crop_probability"), "{:.2f}"),
            _fmt(offer.get("area_ha"), "{:.2f}"),
            _fmt(offer.get("area_mu"), "{:.1f}"),
            _fmt(offer.get("credit_limit"), "{:,.0f}") + f" {offer.get('currency', '')}",
            _fmt(offer.get("apr"), "{:.1%}"),
            f"[{colour}]{offer.get('decision')}[/]",
            reasons[0]["code"] if reasons else "",
        )
    console.print(table)


def _offers(run: ScoreRun) -> list[dict[str, Any]]:
    """The run's offers in their JSON form (what the report, offers.json and the map show)."""
    return [o.to_dict() for o in run.offers]


def _fmt(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def summarise(run: ScoreRun) -> dict[str, Any]:
    """Counts, exposure and accuracy against truth (when the region has it)."""
    offers = _offers(run)
    decisions = Counter(o["decision"] for o in offers)
    approved = [o for o in offers if o["decision"] == "approve"]
    crops = sorted({o.get("crop") or "?" for o in approved})
    exposure_by_crop = {c: total(o["credit_limit"] for o in approved if (o.get("crop") or "?") == c) for c in crops}
    summary: dict[str, Any] = {
        "plots": len(offers),
        "decisions": dict(decisions),
        "approved_exposure": float(total(o["credit_limit"] for o in approved)),
        "exposure_by_crop": {k: float(v) for k, v in exposure_by_crop.items()},
        "currency": run.region.currency,
        "area_ha": round(sum(float(o["area_ha"] or 0) for o in offers), 2),
        "tiles": len(run.tiles),
        "timings_s": {k: round(v, 1) for k, v in run.timings.items()},
    }
    truth_path = run.region.truth / "plots_truth.parquet"
    if truth_path.exists():
        import pandas as pd

        truth = pd.read_parquet(truth_path).set_index("plot_id")
        pairs = [
            (ev.crop, truth.at[pid, "true_crop"])
            for pid, ev in run.evidence.items()
            if pid in truth.index and ev.crop is not None and isinstance(truth.at[pid, "true_crop"], str)
        ]
        if pairs:
            summary["crop_accuracy_vs_truth"] = round(float(np.mean([a == b for a, b in pairs])), 3)
            summary["plots_with_truth"] = len(pairs)
    return summary


def print_summary(run: ScoreRun, console: Console) -> None:
    """The demo's closing summary: offers table (first rows) and totals."""
    print_offers(_offers(run), console)
    s = summarise(run)
    table = Table(title=f"Summary — {run.region.name} (season {run.region.season} imagery)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("plots scored", str(s["plots"]))
    for k in ("approve", "refer", "decline"):
        table.add_row(f"  {k}", str(s["decisions"].get(k, 0)))
    table.add_row("approved exposure", f"{s['approved_exposure']:,.0f} {s['currency']}")
    if "crop_accuracy_vs_truth" in s:
        table.add_row("crop identified = truth", f"{s['crop_accuracy_vs_truth']:.1%} of {s['plots_with_truth']}")
    for k, v in s["timings_s"].items():
        table.add_row(k, f"{v}")
    console.print(table)


def write_map(run: ScoreRun, path: Path) -> None:
    """True-colour tiles (greenest month) with plot outlines coloured by decision."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(10, 10), dpi=110)
    crs = run.tiles[0].crs if run.tiles else run.region.crs
    for tile in run.tiles:
        if tile.rgb is not None and tile.crs == crs:
            minx, miny, maxx, maxy = tile.bbox
            ax.imshow(tile.rgb, extent=(minx, maxx, miny, maxy), origin="upper", interpolation="nearest")
    by_id = {o["plot_id"]: o for o in _offers(run)}
    frame = gpd.GeoDataFrame(
        {"decision": [by_id[p.plot_id]["decision"] for p in run.plots]},
        geometry=[p.geometry for p in run.plots],
        crs="EPSG:4326",
    ).to_crs(crs)
    for decision, colour in DECISION_COLOURS.items():
        sub = frame[frame["decision"] == decision]
        if not sub.empty:
            sub.boundary.plot(ax=ax, color=colour, linewidth=0.8)
    same_crs = [t.bbox for t in run.tiles if t.crs == crs]
    if same_crs:  # the imagery tiles, clipped to the region (tiles are padded beyond it)
        boxes = np.array(same_crs)
        extent = [boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()]
        if crs == run.region.crs:
            r = run.region.bbox_utm
            extent = [max(extent[0], r[0]), max(extent[1], r[1]), min(extent[2], r[2]), min(extent[3], r[3])]
        ax.set_xlim(extent[0], extent[2])
        ax.set_ylim(extent[1], extent[3])
    ax.legend(
        handles=[Patch(edgecolor=c, facecolor="none", label=d) for d, c in DECISION_COLOURS.items()],
        loc="lower right",
    )
    ax.set_title(f"{run.region.name}\nplots by decision over the peak-season Sentinel-2 composite", fontsize=11)
    ax.set_xlabel(f"easting (m, {crs})")
    ax.set_ylabel("northing (m)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(run: ScoreRun, out_dir: Path) -> dict[str, Path]:
    """offers.json, plots_scored.geojson, map.png and report.md in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "offers": out_dir / "offers.json",
        "plots": out_dir / "plots_scored.geojson",
        "map": out_dir / "map.png",
        "report": out_dir / "report.md",
    }
    paths["offers"].write_text(json.dumps(_offers(run), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    features = []
    for o in _offers(run):
        if o.get("geometry") is None:
            continue
        props = {
            k: o.get(k)
            for k in (
                "plot_id",
                "farmer_id",
                "crop",
                "crop_probability",
                "area_ha",
                "area_mu",
                "credit_limit",
                "currency",
                "decision",
            )
        }
        props["reasons"] = ",".join(r["code"] for r in o.get("reasons", []))
        features.append({"type": "Feature", "properties": props, "geometry": o["geometry"]})
    paths["plots"].write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    write_map(run, paths["map"])
    s = summarise(run)
    reasons = Counter(r["code"] for o in _offers(run) for r in o.get("reasons", []))
    lines = [
        f"# agrisense demo report — {run.region.name}",
        "",
        f"Imagery season {run.region.season} ({run.region.imagery_start} – {run.region.imagery_end}); offers finance "
        f"season {run.region.season + 1}." + (" **The region is synthetic.**" if run.region.synthetic else ""),
        "",
        "![map](map.png)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| plots scored | {s['plots']} |",
        *[f"| {k} | {s['decisions'].get(k, 0)} |" for k in ("approve", "refer", "decline")],
        f"| approved exposure | {s['approved_exposure']:,.0f} {s['currency']} |",
        f"| total plot area | {s['area_ha']:,.1f} ha |",
    ]
    if "crop_accuracy_vs_truth" in s:
        lines.append(
            f"| crop identified = truth | {s['crop_accuracy_vs_truth']:.1%} of {s['plots_with_truth']} plots |"
        )
    lines += [f"| {k} | {v} |" for k, v in s["timings_s"].items()]
    lines += ["", "## Exposure by crop (approved)", "", "| crop | exposure |", "|---|---|"]
    lines += [f"| {k} | {v:,.0f} {s['currency']} |" for k, v in sorted(s["exposure_by_crop"].items())]
    lines += ["", "## Reason codes", "", "| code | plots |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in reasons.most_common()]
    paths["report"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(s, indent=1), encoding="utf-8")
    return paths
