"""What-if quotes at a location: the place picks the market (crops, prices, policy) and the weather.

The service every front end calls for a quote (``agrisense quote``, ``GET /api/v1/quote``). A location is a point
(lon/lat), an area name of a market (``jiangxi``, ``江西``), or a region folder (its ``region.json`` box centre; a
folder without one is the sample county's). Weather comes from the location's provider: the region folder's
``weather/daily.csv`` where there is one (the sample county's station series, or a station file a region ships), else
the area's climatology (``agrisense.agronomy.climatology``), else none (the engine's no-weather allowance).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd

from agrisense.agronomy.calendar import next_season
from agrisense.agronomy.climatology import ClimatologyWeather, MonthlyNormals
from agrisense.agronomy.weather import LocalCsvWeather, weather_risk
from agrisense.config import Settings
from agrisense.credit.engine import quote
from agrisense.credit.offer import Offer, QuoteLocation
from agrisense.credit.policy import Policy, load_policy
from agrisense.errors import InvalidInput, NotFound
from agrisense.market import Location, Market, find_location, load_markets, locate, markets_dir
from agrisense.region import load_region

MIN_AREA_HA = 0.001  # 10 m2: smaller is no plot (and rounds to nothing in the offer)
MAX_AREA_HA = 1_000_000.0  # 10,000 km2


@dataclass(frozen=True)
class Where:
    """A resolved location: market and area, and the region folder whose weather file may serve it."""

    location: Location
    region_dir: Path | None


@dataclass(frozen=True)
class QuoteInputs:
    """The farmer's what-if: crop and area, and what a plot's imagery would otherwise say."""

    crop: str
    area_ha: float
    season: int | None = None  # None: the next season whose sowing has not passed
    declared_area_ha: float | None = None
    crop_probability: float = 1.0
    ndvi_anomaly: float | None = None

    def __post_init__(self) -> None:
        if not MIN_AREA_HA <= self.area_ha <= MAX_AREA_HA:
            raise InvalidInput(
                f"area_ha {self.area_ha:g} ({self.area_ha * 15:g} 亩) is outside {MIN_AREA_HA:g}..{MAX_AREA_HA:g} ha; "
                "give the plot's area in hectares (--area-ha) or 亩 (--area-mu)"
            )


def _markets(settings: Settings) -> dict[str, Market]:
    return dict(load_markets(markets_dir(Path(settings.reference_dir))))


def _folder_location(markets: dict[str, Market], folder: Path) -> Location:
    """A region folder's market: by its box centre, or the sample county's when it has no region.json."""
    if (folder / "region.json").is_file():
        lon0, lat0, lon1, lat1 = load_region(folder).bbox_lonlat
        return locate(markets, (lon0 + lon1) / 2, (lat0 + lat1) / 2)
    for market in markets.values():
        for key, area in market.spec.areas.items():
            if area.weather.kind == "region_csv":
                return Location(market, key)
    raise NotFound(f"no market serves region folders without region.json ({folder}); add region.json")


def resolve(
    settings: Settings,
    *,
    region: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    folders: bool = True,
) -> Where:
    """Where a quote is for: ``lon``/``lat`` (both), else ``region`` (an area name, or with ``folders`` a region
    folder), else the configured region folder."""
    markets = _markets(settings)
    if (lon is None) != (lat is None):
        raise InvalidInput("give both --lon and --lat (decimal degrees, WGS84), or neither")
    if lon is not None and lat is not None:
        if region is not None:
            raise InvalidInput("give a location once: --region or --lon/--lat, not both")
        return Where(locate(markets, lon, lat), None)
    if region is None:
        return Where(_folder_location(markets, Path(settings.region_dir)), Path(settings.region_dir))
    if folders and Path(region).is_dir():
        return Where(_folder_location(markets, Path(region)), Path(region))
    named = find_location(markets, region)
    if named is not None:
        return Where(named, None)
    known = ", ".join(f"{k} ({a.name.zh})" for m in markets.values() for k, a in m.spec.areas.items())
    raise NotFound(
        f"region {region!r} is neither a region folder (none exists there) nor an area of a market ({known}); "
        "pass an area name, a region folder (command line) or lon/lat"
    )


def _weather_file(where: Where) -> Path | None:
    if where.region_dir is None:
        return None
    path = where.region_dir / "weather" / "daily.csv"
    return path if path.is_file() else None


@cache
def _climatology(normals: MonthlyNormals) -> ClimatologyWeather:
    """One generated series per station and process (the API quotes many times)."""
    return ClimatologyWeather(normals)


def weather_history(where: Where) -> tuple[pd.DataFrame | None, str]:
    """The daily series the location's weather risk uses and what it is."""
    station = _weather_file(where)
    if station is not None:
        return LocalCsvWeather(station).history(), f"station file {station}"
    normals = where.location.market.normals(where.location.area)
    if normals is None:
        return None, "none (no weather file for this location)"
    provider = _climatology(normals)
    return provider.history(), provider.source


def market_policy(settings: Settings, market: Market) -> Policy:
    """The market's policy, checked against its crops; the sample county's is the configured policy file."""
    return load_policy(market.policy_path(Path(settings.policy_file)), crops=market.crop_table())


def quote_at(settings: Settings, where: Where, inputs: QuoteInputs, *, today: date | None = None) -> Offer:
    """The what-if offer for ``inputs`` at ``where`` (market crops of its area, its policy, its weather)."""
    market, area = where.location.market, where.location.area
    crops = market.crop_table(area)
    policy = market_policy(settings, market)
    ref = crops.get(inputs.crop)
    season = inputs.season
    if season is None:
        season = next_season(ref, today or date.today()) if ref is not None else (today or date.today()).year + 1
    history, source = weather_history(where)
    risk = weather_risk(history, ref, inputs.crop) if history is not None and ref is not None else None
    offer = quote(
        inputs.crop,
        inputs.area_ha,
        season=season,
        crops=crops,
        policy=policy,
        weather=risk,
        declared_area_ha=inputs.declared_area_ha,
        crop_probability=inputs.crop_probability,
        ndvi_anomaly=inputs.ndvi_anomaly,
    )
    name = where.location.area_name
    return offer.model_copy(
        update={
            "location": QuoteLocation(
                market=market.code, area=area, area_zh=name.zh, area_en=name.en, weather_source=source
            )
        }
    )
