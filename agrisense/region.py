"""A region folder: the place, season and inputs one scoring run works on (the sample county by default)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from agrisense.errors import InvalidInput, NotFound

DEFAULT_MARKET = "sample_county"
"""The market of a region folder whose ``region.json`` names none (folders built before markets existed)."""
DEFAULT_MODEL = "landcover_unet"
"""The land-cover model bundle (a folder of the models directory) of a region folder that names none."""


@dataclass(frozen=True)
class Region:
    """``region.json`` of a region folder, plus the paths of its inputs."""

    root: Path
    name: str
    crs: str
    bbox_lonlat: tuple[float, float, float, float]
    bbox_utm: tuple[float, float, float, float]
    resolution: float
    season: int
    imagery_start: date
    imagery_end: date
    currency: str
    crops: tuple[str, ...]
    synthetic: bool
    market: str = DEFAULT_MARKET  # a market file of data/reference/markets/: crops, prices, calendars, policy
    market_area: str | None = None  # the market area whose yields apply (e.g. a province); None: national
    model: str = DEFAULT_MODEL  # the land-cover model bundle that scores this region
    crop_model: str | None = None  # the plot crop model refining its crops (agrisense.ml.plot_crop_model); None: none

    @property
    def catalog(self) -> Path:
        return self.root / "stac" / "catalog.json"

    @property
    def plots(self) -> Path:
        return self.root / "plots.geojson"

    @property
    def weather(self) -> Path:
        return self.root / "weather" / "daily.csv"

    @property
    def truth(self) -> Path:
        return self.root / "truth"


def load_region(root: Path) -> Region:
    """Read a region folder; a missing sample county gets the command that builds it."""
    meta_path = root / "region.json"
    if not meta_path.exists():
        raise NotFound(
            f"No region at {root} (region.json missing). Pass --region DIR or set AGRISENSE_REGION_DIR, or build "
            f"the sample county with `agrisense sample build --out {root}` (`make data` in the repository)."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return Region(
            root=root,
            name=str(meta["name"]),
            crs=str(meta["crs"]),
            bbox_lonlat=tuple(float(v) for v in meta["bbox_lonlat"]),  # type: ignore[arg-type]
            bbox_utm=tuple(float(v) for v in meta["bbox_utm"]),  # type: ignore[arg-type]
            resolution=float(meta.get("resolution", 10.0)),
            season=int(meta["season"]),
            imagery_start=date.fromisoformat(meta["imagery_start"]),
            imagery_end=date.fromisoformat(meta["imagery_end"]),
            currency=str(meta.get("currency", "CNY")),
            crops=tuple(meta["crops"]),
            synthetic=bool(meta.get("synthetic", False)),
            market=str(meta.get("market", DEFAULT_MARKET)),
            market_area=str(meta["market_area"]) if meta.get("market_area") else None,
            model=str(meta.get("model", DEFAULT_MODEL)),
            crop_model=str(meta["crop_model"]) if meta.get("crop_model") else None,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput(f"{meta_path} is incomplete or malformed ({exc!r}); rebuild the region.") from exc
