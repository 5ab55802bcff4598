"""Markets as data: the currency, crops (local names, calendars, prices, input costs, reference yields by
province), the areas a location falls in (with their weather source) and the credit policy of one market, read from
one YAML file per market (``data/reference/markets/*.yaml``).

A market file is validated in full when it is loaded (pydantic, then the crop calendars and the yield keys), so a
bad file is refused with a message naming the key, never half-used. See docs/credit-model.md ("Markets").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agrisense.agronomy.calendar import CropReference, check_calendar, load_crop_table
from agrisense.agronomy.climatology import MonthlyNormals
from agrisense.errors import InvalidInput, NotFound
from agrisense.geo.area import MU_PER_HA
from agrisense.resources import resource_path
from agrisense.yamlfile import describe, read_yaml

DEFAULT_POLICY = "default.yaml"
"""The policy file a market names to lend under the configured policy (``Settings.policy_file``)."""
NATIONAL = "national"
"""The yield key used where a crop has no figure for the quoted area."""

MonthDay = Annotated[str, Field(pattern=r"^\d{2}-\d{2}$")]
Twelve = Annotated[tuple[float, ...], Field(min_length=12, max_length=12)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LocalName(_Frozen):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Calendar(_Frozen):
    sow_start: MonthDay
    sow_end: MonthDay
    days_to_emergence: int
    days_to_flowering: int
    days_to_maturity: int
    harvest_window_days: int


class MarketCrop(_Frozen):
    """One crop of a market: its own figures, or ``made_of`` crops grown one after the other on the same land in
    one year (double rice: early then late rice), financed as one loan with a repayment after each harvest."""

    name: LocalName
    price_per_t: float | None = Field(default=None, gt=0)
    input_cost_per_mu: float | None = Field(default=None, gt=0)  # cash input cost per 亩 (seed, fertiliser, ...)
    yield_cv: float | None = Field(default=None, ge=0, lt=1)
    calendar: Calendar | None = None
    yield_t_ha: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)  # area key or "national"
    made_of: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _own_or_composite(self) -> MarketCrop:
        own = {
            "price_per_t": self.price_per_t,
            "input_cost_per_mu": self.input_cost_per_mu,
            "yield_cv": self.yield_cv,
            "calendar": self.calendar,
        }
        if self.made_of:
            given = [k for k, v in own.items() if v is not None] + (["yield_t_ha"] if self.yield_t_ha else [])
            if len(self.made_of) < 2 or given:
                raise ValueError(
                    f"a crop made_of others needs at least two of them and no figures of its own (got {given})"
                )
            return self
        missing = [k for k, v in own.items() if v is None]
        if missing or NATIONAL not in self.yield_t_ha:
            raise ValueError(
                f"give {', '.join(missing + ([] if NATIONAL in self.yield_t_ha else ['yield_t_ha.national']))} "
                "(or made_of for a crop grown in several seasons)"
            )
        return self


class Climatology(_Frozen):
    """Monthly climate normals of a station standing for the area (source said in the file)."""

    kind: Literal["climatology"]
    station: str
    source: str
    tmin_c: Twelve
    tmax_c: Twelve
    precip_mm: Twelve
    rain_days: Twelve


class RegionCsv(_Frozen):
    """The weather of the configured region folder (``weather/daily.csv``), e.g. the sample county's."""

    kind: Literal["region_csv"]


class Area(_Frozen):
    name: LocalName
    bbox: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max (WGS84)
    weather: Climatology | RegionCsv = Field(discriminator="kind")

    @model_validator(mode="after")
    def _box(self) -> Area:
        lon0, lat0, lon1, lat1 = self.bbox
        if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
            raise ValueError(f"bbox {list(self.bbox)} must be [lon_min, lat_min, lon_max, lat_max] in degrees")
        return self

    def contains(self, lon: float, lat: float) -> bool:
        lon0, lat0, lon1, lat1 = self.bbox
        return lon0 <= lon <= lon1 and lat0 <= lat <= lat1

    @property
    def box_size(self) -> float:
        lon0, lat0, lon1, lat1 = self.bbox
        return (lon1 - lon0) * (lat1 - lat0)


class MarketSpec(_Frozen):
    """The YAML form of a market file."""

    market: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    name: LocalName
    currency: str = Field(min_length=3, max_length=3)
    policy: str = Field(min_length=1)  # a policy file in agrisense/credit/policies/
    crops_csv: str | None = None  # a crop table in the reference folder instead of inline crops
    ndvi_curves_csv: str | None = None  # the crops' expected NDVI curves in the reference folder (else ndvi_curves.csv)
    crops: dict[str, MarketCrop] = Field(default_factory=dict)
    areas: dict[str, Area] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> MarketSpec:
        if (self.crops_csv is None) == (not self.crops):
            raise ValueError("give either crops (inline) or crops_csv (a crop table), not both or neither")
        for code, crop in self.crops.items():
            unknown = sorted(set(crop.yield_t_ha) - set(self.areas) - {NATIONAL})
            if unknown:
                raise ValueError(f"crops.{code}.yield_t_ha: {unknown} are not areas of this market")
            for part in crop.made_of:
                if part not in self.crops or self.crops[part].made_of:
                    raise ValueError(f"crops.{code}.made_of: {part!r} is not a crop of this market with own figures")
        return self


@dataclass(frozen=True)
class Market:
    """A loaded market: its spec and the folder its relative paths start from."""

    spec: MarketSpec
    source: Path

    @property
    def code(self) -> str:
        return self.spec.market

    @property
    def policy_file(self) -> Path:
        return resource_path("policies") / self.spec.policy

    def policy_path(self, configured: Path) -> Path:
        """The policy this market lends under: ``configured`` (the settings' policy file) for a market on the
        default policy, else the market's own file."""
        return Path(configured) if self.spec.policy == DEFAULT_POLICY else self.policy_file

    def curves_path(self) -> Path:
        """The market's expected NDVI curves (``ndvi_curves_csv``; default the real samples' ``ndvi_curves.csv``)."""
        return self.source.parent.parent / (self.spec.ndvi_curves_csv or "ndvi_curves.csv")

    def crop_table(self, area: str | None = None) -> dict[str, CropReference]:
        """Crop references of this market, yields those of ``area`` where the file has them (else national)."""
        if self.spec.crops_csv is not None:
            return load_crop_table(self.source.parent.parent / self.spec.crops_csv)
        table = {
            code: _reference(code, crop, self.spec.currency, area)
            for code, crop in self.spec.crops.items()
            if not crop.made_of
        }
        for code, crop in self.spec.crops.items():
            if crop.made_of:
                table[code] = _composite(code, crop.name, [table[p] for p in crop.made_of])
        return table

    def area_at(self, lon: float, lat: float) -> str | None:
        """The smallest area whose box holds the point (boxes of neighbouring provinces overlap)."""
        inside = [(a.box_size, key) for key, a in self.spec.areas.items() if a.contains(lon, lat)]
        return min(inside)[1] if inside else None

    def find_area(self, name: str) -> str | None:
        """The area key whose key, Chinese or English name is ``name`` (case-insensitive)."""
        wanted = name.strip().lower()
        for key, area in self.spec.areas.items():
            if wanted in (key, area.name.zh, area.name.en.lower()):
                return key
        return None

    def normals(self, area: str) -> MonthlyNormals | None:
        """The area's climatology, None when its weather is a region folder's."""
        weather = self.spec.areas[area].weather
        if not isinstance(weather, Climatology):
            return None
        return MonthlyNormals(
            station=weather.station,
            tmin_c=weather.tmin_c,
            tmax_c=weather.tmax_c,
            precip_mm=weather.precip_mm,
            rain_days=weather.rain_days,
        )


def _reference(code: str, crop: MarketCrop, currency: str, area: str | None) -> CropReference:
    if crop.calendar is None or crop.price_per_t is None or crop.input_cost_per_mu is None or crop.yield_cv is None:
        raise InvalidInput(f"crop {code} has no figures of its own")  # the spec validator makes this unreachable
    yield_t_ha = crop.yield_t_ha.get(area or NATIONAL, crop.yield_t_ha[NATIONAL])
    return CropReference(
        crop=code,
        name_zh=crop.name.zh,
        name_en=crop.name.en,
        ref_yield_t_ha=yield_t_ha,
        yield_cv=crop.yield_cv,
        price_per_t=crop.price_per_t,
        input_cost_per_ha=crop.input_cost_per_mu * MU_PER_HA,
        currency=currency,
        **crop.calendar.model_dump(),
    )


def _composite(code: str, name: LocalName, parts: list[CropReference]) -> CropReference:
    """One year of ``parts`` on the same land: yields and input costs add up, price and yield CV are the
    revenue-weighted means, the calendar is the first crop's and the others follow as later seasons."""
    revenue = [p.ref_yield_t_ha * p.price_per_t for p in parts]
    total_yield = sum(p.ref_yield_t_ha for p in parts)
    return replace(
        parts[0],
        crop=code,
        name_zh=name.zh,
        name_en=name.en,
        ref_yield_t_ha=total_yield,
        price_per_t=sum(revenue) / total_yield,
        input_cost_per_ha=sum(p.input_cost_per_ha for p in parts),
        yield_cv=sum(r * p.yield_cv for r, p in zip(revenue, parts, strict=True)) / sum(revenue),
        later_seasons=tuple(parts[1:]),
        made_of=tuple(parts),
    )


def parse_market(data: object, source: Path) -> Market:
    """Validate a market mapping in full; an InvalidInput names the file and every bad key."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: a market file must be a YAML mapping, got {type(data).__name__}")
    try:
        spec = MarketSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{source}: invalid market file: {describe(exc)}") from exc
    market = Market(spec, source)
    for code, crop in spec.crops.items():
        if crop.calendar is not None:
            check_calendar(_reference(code, crop, spec.currency, None), f"{source}: crops.{code}.calendar")
    if not market.policy_file.is_file():
        raise InvalidInput(f"{source}: policy {spec.policy!r} is not a file in {market.policy_file.parent}")
    return market


def load_market(path: Path | str) -> Market:
    """Read and validate one market file."""
    path = Path(path)
    data = read_yaml(path, what="market file", hint="see data/reference/markets/", error=InvalidInput)
    return parse_market(data, path)


def markets_dir(reference_dir: Path | None = None) -> Path:
    return (reference_dir or resource_path("reference")) / "markets"


@cache
def load_markets(folder: Path) -> Mapping[str, Market]:
    """Every market file (``*.yaml``) of ``folder``, by market code."""
    markets: dict[str, Market] = {}
    for path in sorted(folder.glob("*.yaml")):
        market = load_market(path)
        if market.code in markets:
            raise InvalidInput(f"{path}: market {market.code!r} is also defined in {markets[market.code].source}")
        markets[market.code] = market
    if not markets:
        raise NotFound(f"no market files (*.yaml) in {folder}")
    return markets


def market_named(reference_dir: Path, code: str) -> Market:
    """The market ``code`` of the reference folder; NotFound naming the markets there."""
    markets = load_markets(markets_dir(reference_dir))
    if code not in markets:
        raise NotFound(
            f"market {code!r} is not a market file of {markets_dir(reference_dir)} ({', '.join(markets)}); "
            "fix market in the region's region.json or add the market file"
        )
    return markets[code]


@dataclass(frozen=True)
class Location:
    """Where a quote is for: a market and one of its areas."""

    market: Market
    area: str

    @property
    def area_name(self) -> LocalName:
        return self.market.spec.areas[self.area].name


def locate(markets: Mapping[str, Market], lon: float, lat: float) -> Location:
    """The market and area of a point; NotFound with the covered areas when no market covers it."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"lon {lon}, lat {lat} is not a place on Earth (longitude first, degrees)")
    found = [(m.spec.areas[a].box_size, m.code, a) for m in markets.values() if (a := m.area_at(lon, lat))]
    if not found:
        raise NotFound(f"no market covers lon {lon}, lat {lat}; covered areas: {_covered(markets)}")
    _, code, area = min(found)
    return Location(markets[code], area)


def find_location(markets: Mapping[str, Market], name: str) -> Location | None:
    """The market area called ``name`` (key, 中文 or English name), None when no market has it."""
    for market in markets.values():
        area = market.find_area(name)
        if area is not None:
            return Location(market, area)
    return None


def _covered(markets: Mapping[str, Market]) -> str:
    return ", ".join(f"{key} ({a.name.zh})" for m in markets.values() for key, a in m.spec.areas.items())
