"""Read the county re-score runs (`agrisense rescore --out DIR`): run.json, plots.parquet, warnings.parquet.

A rescore folder is either one run (it holds ``plots.parquet``) or a folder of runs (one sub-folder each). Runs
are ordered by season, then by when they were made, so the last one is the current run and the one before it
the baseline that model monitoring compares against.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from agrisense.errors import InvalidInput, NotFound

PLOTS_FILE = "plots.parquet"
WARNINGS_FILE = "warnings.parquet"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RescoreRun:
    """One re-score run: its metadata and its per-plot table (offer fields, one row per plot)."""

    path: Path
    run_id: str
    season: int | None
    meta: Mapping[str, Any]
    plots: pd.DataFrame
    warnings: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def label(self) -> str:
        return f"{self.run_id} (season {self.season})" if self.season is not None else self.run_id


def _meta(path: Path) -> dict[str, Any]:
    file = path / RUN_FILE
    if not file.is_file():
        return {}
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidInput(f"{file} is not valid JSON ({exc}); re-run `agrisense rescore` into {path}") from exc
    return meta if isinstance(meta, dict) else {}


def _season(meta: Mapping[str, Any]) -> int | None:
    value = meta.get("season")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def find_runs(root: Path) -> list[Path]:
    """Run folders under ``root`` (``root`` itself when it is one run), oldest first; [] when there are none."""
    if not root.is_dir():
        return []
    if (root / PLOTS_FILE).is_file():
        return [root]
    runs = [p for p in root.iterdir() if p.is_dir() and (p / PLOTS_FILE).is_file()]

    def order(path: Path) -> tuple[int, str, float, str]:
        meta = _meta(path)
        made = str(meta.get("finished_at") or meta.get("created_at") or meta.get("as_of") or "")
        return (_season(meta) or 0, made, (path / PLOTS_FILE).stat().st_mtime, path.name)

    return sorted(runs, key=order)


def _read_table(path: Path) -> pd.DataFrame:
    """A (Geo)Parquet table; GeoParquet comes back as a GeoDataFrame in EPSG:4326."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    if b"geo" in (pq.read_schema(path).metadata or {}):
        frame = gpd.read_parquet(path)
        return frame.to_crs(4326) if frame.crs is not None and frame.crs.to_epsg() != 4326 else frame
    return pd.read_parquet(path)


def read_run(path: Path) -> RescoreRun:
    """Read one run folder; raises NotFound without ``plots.parquet``."""
    plots_file = path / PLOTS_FILE
    if not plots_file.is_file():
        raise NotFound(f"{plots_file} does not exist; run `agrisense rescore --out {path}` first")
    meta = _meta(path)
    plots = _read_table(plots_file)
    warnings_file = path / WARNINGS_FILE
    warnings = _read_table(warnings_file) if warnings_file.is_file() else pd.DataFrame()
    season = _season(meta)
    if season is None and "evidence_season" in plots and len(plots):
        season = int(plots["evidence_season"].mode().iloc[0])
    return RescoreRun(path, str(meta.get("run_id") or path.name), season, meta, plots, warnings)


def as_mapping(value: Any) -> dict[str, Any]:
    """A nested offer field as stored in Parquet (dict, JSON text or null) as a dict."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def ndvi_by_month(record: Mapping[str, Any]) -> dict[int, float]:
    """Month -> NDVI of a plot from an offer or a run row (``imagery.ndvi_by_month`` or ``ndvi_by_month``)."""
    raw = as_mapping(record.get("ndvi_by_month")) or as_mapping(as_mapping(record.get("imagery")).get("ndvi_by_month"))
    out: dict[int, float] = {}
    for month, value in raw.items():
        try:
            m, v = int(month), float(value)
        except (TypeError, ValueError):
            continue
        if 1 <= m <= 12 and v == v:
            out[m] = v
    return out


def plot_history(runs: list[RescoreRun], plot_id: str) -> dict[int, dict[int, float]]:
    """Season -> NDVI by month of ``plot_id`` over the runs that scored it (the latest run of a season wins)."""
    history: dict[int, dict[int, float]] = {}
    for run in runs:
        if run.season is None or "plot_id" not in run.plots:
            continue
        rows = run.plots[run.plots["plot_id"].astype(str) == str(plot_id)]
        if rows.empty:
            continue
        curve = ndvi_by_month(rows.iloc[0].to_dict())
        if curve:
            history[run.season] = curve
    return history
