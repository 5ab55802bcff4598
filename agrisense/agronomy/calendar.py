"""Crop reference table and the typical crop calendar of a season."""

from __future__ import annotations

import csv
import math
from dataclasses import MISSING, dataclass, fields, replace
from datetime import date, timedelta
from pathlib import Path

from agrisense.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class CropReference:
    """One row of ``data/reference/crops.csv``: planning values of one crop."""

    crop: str
    name_zh: str
    ref_yield_t_ha: float
    yield_cv: float
    price_per_t: float
    input_cost_per_ha: float
    currency: str
    sow_start: str  # MM-DD
    sow_end: str  # MM-DD
    days_to_emergence: int
    days_to_flowering: int
    days_to_maturity: int
    harvest_window_days: int
    name_en: str = ""  # English name for people (the code when empty)
    # Further crops of the same year on the same land, financed by the same loan (double cropping: early rice is
    # this row, late rice the one later season). Yield, price and input cost of this row are then the whole year's
    # (see agrisense.market); its own calendar fields are the first crop's.
    later_seasons: tuple[CropReference, ...] = ()
    # The single crops of such a composite, in season order (the first has this row's calendar, the others are
    # later_seasons), each with its own yield, price and calendar: their weather risk is computed season by season
    # (agrisense.agronomy.weather.weather_risk). Empty for a single crop.
    made_of: tuple[CropReference, ...] = ()

    @property
    def display_en(self) -> str:
        """The English name, else the code with spaces."""
        return self.name_en or self.crop.replace("_", " ")


@dataclass(frozen=True)
class CropCalendar:
    """Typical dates of one crop in one season."""

    crop: str
    season: int
    sow_date: date
    emergence_date: date
    flowering_date: date
    maturity_date: date
    harvest_end: date


_REQUIRED_COLUMNS = tuple(f.name for f in fields(CropReference) if f.default is MISSING)
_FLOAT_COLUMNS = ("ref_yield_t_ha", "yield_cv", "price_per_t", "input_cost_per_ha")
_INT_COLUMNS = ("days_to_emergence", "days_to_flowering", "days_to_maturity", "harvest_window_days")


def _month_day(value: str, where: str) -> tuple[int, int]:
    try:
        month_s, day_s = value.strip().split("-")
        month, day = int(month_s), int(day_s)
        date(2001, month, day)  # a non-leap year: rejects 02-29, which has no date in most seasons
    except ValueError as exc:
        raise InvalidInput(f"{where}: {value!r} is not a month-day like '05-01' (MM-DD)") from exc
    return month, day


def _parse_row(row: dict[str, str], line: int, path: Path) -> CropReference:
    where = f"{path}, line {line}"
    values: dict[str, object] = {}
    for name in _REQUIRED_COLUMNS:
        raw = row.get(name)
        if raw is None or raw.strip() == "":
            raise InvalidInput(f"{where}: column {name!r} is missing or empty; fill it in")
        values[name] = raw.strip()
    if (row.get("name_en") or "").strip():
        values["name_en"] = str(row["name_en"]).strip()
    for name in _FLOAT_COLUMNS:
        try:
            number = float(str(values[name]))
        except ValueError as exc:
            raise InvalidInput(f"{where}: {name}={values[name]!r} is not a number") from exc
        if not math.isfinite(number) or number < 0 or (name != "yield_cv" and number == 0):
            raise InvalidInput(f"{where}: {name}={number} must be a positive number")
        values[name] = number
    for name in _INT_COLUMNS:
        try:
            values[name] = int(str(values[name]))
        except ValueError as exc:
            raise InvalidInput(f"{where}: {name}={values[name]!r} is not a whole number of days") from exc
    ref = CropReference(**values)  # type: ignore[arg-type]
    check_calendar(ref, where)
    return ref


def check_calendar(ref: CropReference, where: str) -> None:
    """Refuse a crop whose sowing window or stage durations are impossible."""
    start, end = _month_day(ref.sow_start, f"{where} sow_start"), _month_day(ref.sow_end, f"{where} sow_end")
    if end < start:
        raise InvalidInput(f"{where}: sow_end {ref.sow_end} is before sow_start {ref.sow_start}")
    if not 0 < ref.days_to_emergence < ref.days_to_flowering < ref.days_to_maturity:
        raise InvalidInput(
            f"{where}: need 0 < days_to_emergence < days_to_flowering < days_to_maturity, got "
            f"{ref.days_to_emergence}, {ref.days_to_flowering}, {ref.days_to_maturity}"
        )
    if ref.harvest_window_days <= 0:
        raise InvalidInput(f"{where}: harvest_window_days must be positive, got {ref.harvest_window_days}")


def load_crop_table(path: Path) -> dict[str, CropReference]:
    """Read the crop reference CSV into ``{crop: CropReference}``; extra columns are ignored."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"crop table {path} does not exist; point to data/reference/crops.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [name for name in _REQUIRED_COLUMNS if name not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}")
        table: dict[str, CropReference] = {}
        for line, row in enumerate(reader, start=2):
            ref = _parse_row(row, line, path)
            if ref.crop in table:
                raise InvalidInput(f"{path}, line {line}: crop {ref.crop!r} appears twice; keep one row")
            table[ref.crop] = ref
    if not table:
        raise InvalidInput(f"{path} has no crop rows")
    return table


def crop_calendar(ref: CropReference, season: int) -> CropCalendar:
    """Typical dates of ``ref`` in ``season``: sowing in the middle of the sowing window."""
    start = date(season, *_month_day(ref.sow_start, f"{ref.crop} sow_start"))
    end = date(season, *_month_day(ref.sow_end, f"{ref.crop} sow_end"))
    sow = start + timedelta(days=(end - start).days // 2)
    maturity = sow + timedelta(days=ref.days_to_maturity)
    return CropCalendar(
        crop=ref.crop,
        season=season,
        sow_date=sow,
        emergence_date=sow + timedelta(days=ref.days_to_emergence),
        flowering_date=sow + timedelta(days=ref.days_to_flowering),
        maturity_date=maturity,
        harvest_end=maturity + timedelta(days=ref.harvest_window_days),
    )


def crop_calendars(ref: CropReference, season: int) -> list[CropCalendar]:
    """Every crop calendar one loan on ``ref`` follows in ``season``: its own, then those of its later seasons
    (double cropping: early rice, then late rice)."""
    return [crop_calendar(ref, season)] + [crop_calendar(later, season) for later in ref.later_seasons]


def next_season(ref: CropReference, today: date) -> int:
    """The first season whose sowing window has not closed by ``today`` (a loan pays out from sowing)."""
    year = today.year
    while crop_calendar(replace(ref, sow_start=ref.sow_end), year).sow_date < today:
        year += 1
    return year
