"""The re-score's run report: ``OUT/report.md`` with map images and charts (``OUT/img/*.png``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rasterio

if TYPE_CHECKING:
    from agrisense.pipelines.rescore_run import RescoreRun

MAX_PREVIEW_PX = 800
"""Map previews are read from the COG overviews at most this many pixels wide (bounded memory)."""


def _read_preview(path: Path) -> tuple[np.ndarray, Any] | None:
    if not path.is_file():
        return None
    with rasterio.open(path) as ds:
        scale = max(1.0, max(ds.width, ds.height) / MAX_PREVIEW_PX)
        shape = (max(1, int(ds.height / scale)), max(1, int(ds.width / scale)))
        data = ds.read(1, out_shape=shape)
        cmap = ds.colormap(1) if ds.dtypes[0] == "uint8" else None
    return data, cmap


def _map_images(maps_dir: Path, img_dir: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    crop = _read_preview(maps_dir / "crop_class.tif")
    if crop is not None:
        data, cmap = crop
        rgba = np.zeros((*data.shape, 4), dtype=np.uint8)
        for value, colour in (cmap or {}).items():
            rgba[data == value] = colour
        plt.imsave(img_dir / "crop_class.png", rgba)
        out.append(("Crop type (U-Net)", "img/crop_class.png"))
    ndvi = _read_preview(maps_dir / "ndvi.tif")
    if ndvi is not None:
        fig, ax = plt.subplots(figsize=(5, 5))
        im = ax.imshow(ndvi[0], cmap="RdYlGn", vmin=0, vmax=0.9)
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, shrink=0.7, label="NDVI (latest clear month)")
        fig.savefig(img_dir / "ndvi.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        out.append(("NDVI, latest clear month", "img/ndvi.png"))
    return out


def _bar(values: Mapping[str, float], path: Path, title: str, ylabel: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(list(values), list(values.values()), color="#4c8c4a")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_tables(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts by decision, exposure and plots by crop."""
    decisions = frame["decision"].value_counts().to_dict() if len(frame) else {}
    approved = frame[frame["decision"] == "approve"] if len(frame) else frame
    by_crop = (
        approved.groupby("assessed_crop")
        .agg(plots=("plot_id", "count"), exposure=("credit_limit", "sum"), expected_loss=("expected_loss", "sum"))
        .round(2)
        if len(approved)
        else pd.DataFrame(columns=["plots", "exposure", "expected_loss"])
    )
    return {"decisions": {str(k): int(v) for k, v in decisions.items()}, "by_crop": by_crop}


def write_run_report(
    run: RescoreRun, frame: pd.DataFrame, warnings: Sequence[Mapping[str, Any]], out_dir: Path
) -> Path:
    """Write ``report.md``: plots scored, referred, declined, exposure by crop, alerts, timings, maps."""
    img_dir = out_dir / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    tables = summary_tables(frame)
    decisions, by_crop = tables["decisions"], tables["by_crop"]
    images = _map_images(out_dir / "maps", img_dir)
    if decisions:
        _bar(decisions, img_dir / "decisions.png", "Decisions", "plots")
        images.append(("Decisions", "img/decisions.png"))
    if len(by_crop):
        _bar(by_crop["exposure"].to_dict(), img_dir / "exposure.png", "Exposure by crop (approved)", "credit limit")
        images.append(("Exposure by crop", "img/exposure.png"))
    currency = str(frame["currency"].dropna().iloc[0]) if len(frame) and frame["currency"].notna().any() else ""
    info = run.to_dict()
    lines = [
        f"# Re-score {run.run_id}",
        "",
        f"Season {run.season}" + (f", imagery up to {run.as_of}" if run.as_of else " (whole season)") + ".",
        "",
        "| | |",
        "|---|---|",
        f"| plots scored | {len(frame)} |",
        f"| approved | {decisions.get('approve', 0)} |",
        f"| referred | {decisions.get('refer', 0)} |",
        f"| declined | {decisions.get('decline', 0)} |",
        f"| total exposure | {float(frame.loc[frame['decision'] == 'approve', 'credit_limit'].sum()):,.0f} {currency} |"
        if len(frame)
        else "| total exposure | 0 |",
        f"| tiles | {run.n_tiles} ({len(run.tiles_run)} computed, {run.tiles_skipped} unchanged) |",
        f"| pixels computed | {info['pixels_run']:,} |",
        f"| financed plots monitored | {run.loans} |",
        f"| warnings | {len(warnings)} |",
        "",
        "## Exposure by crop (approved plots)",
        "",
        "| crop | plots | exposure | expected loss |",
        "|---|---|---|---|",
        *[
            f"| {crop} | {int(r.plots)} | {r.exposure:,.0f} | {r.expected_loss:,.0f} |"
            for crop, r in by_crop.iterrows()
        ],
        "",
        "## Alerts",
        "",
    ]
    alerts = [w for w in warnings if w.get("severity") in ("alert", "watch")]
    if alerts:
        lines += ["| plot | code | severity | action | message |", "|---|---|---|---|---|"]
        lines += [
            f"| {w['plot_id']} | {w['code']} | {w['severity']} | {w['action']} | {w['message_en']} |"
            for w in alerts[:50]
        ]
        if len(alerts) > 50:
            lines.append(f"\n…and {len(alerts) - 50} more in `warnings.parquet`.")
    else:
        lines.append("No alerts." if run.as_of else "No in-season monitoring in this run (no `--as-of`).")
    lines += ["", "## Timings", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in run.timings.items()]
    if run.tiles_run:
        total = sum(t["total_s"] for t in run.tiles_run)
        lines.append(f"| tile work (sum over workers) | {total:.1f} |")
    if run.dashboard:
        lines += ["", f"Dask dashboard (while the run lasted): {run.dashboard}"]
    lines += ["", "## Maps", ""]
    lines += [f"### {title}\n\n![{title}]({path})\n" for title, path in images]
    lines += [
        "COGs: `maps/crop_class.tif`, `maps/probability.tif`, `maps/ndvi.tif`, `maps/cropland.tif` (and, with a "
        "field-boundary head, `maps/field_boundary.tif`, `maps/fields.tif`); per plot: `plots.parquet`; detected "
        "fields: `fields.parquet`.",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
