from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agrisense.agronomy.calendar import crop_calendar, load_crop_table
from agrisense.errors import InvalidInput, NotFound

HEADER = (
    "crop,name_zh,ref_yield_t_ha,yield_cv,price_per_t,input_cost_per_ha,currency,sow_start,sow_end,"
    "days_to_emergence,days_to_flowering,days_to_maturity,harvest_window_days\n"
)


def test_reference_table_loads(crops):
    assert set(crops) == {"maize", "sorghum", "groundnut", "beans"}
    maize = crops["maize"]
    assert maize.name_zh == "玉米" and maize.ref_yield_t_ha == 2.5 and maize.days_to_maturity == 125


@pytest.mark.parametrize(
    ("crop", "sow", "emergence", "flowering", "maturity", "harvest_end"),
    [
        (
            "maize",
            date(2026, 5, 23),
            date(2026, 5, 31),
            date(2026, 7, 27),
            date(2026, 9, 25),
            date(2026, 10, 25),
        ),
        (
            "beans",
            date(2026, 7, 5),
            date(2026, 7, 12),
            date(2026, 8, 14),
            date(2026, 10, 3),
            date(2026, 10, 23),
        ),
    ],
)
def test_calendar_is_mid_window(crops, crop, sow, emergence, flowering, maturity, harvest_end):
    cal = crop_calendar(crops[crop], 2026)
    assert (cal.sow_date, cal.emergence_date, cal.flowering_date, cal.maturity_date, cal.harvest_end) == (
        sow,
        emergence,
        flowering,
        maturity,
        harvest_end,
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("maize,玉米,abc,0.3,1800,2600,CNY,05-01,06-15,8,65,125,30", "ref_yield_t_ha"),
        ("maize,玉米,-1,0.3,1800,2600,CNY,05-01,06-15,8,65,125,30", "positive"),
        ("maize,玉米,2.5,0.3,1800,2600,CNY,13-01,06-15,8,65,125,30", "month-day"),
        ("maize,玉米,2.5,0.3,1800,2600,CNY,07-01,06-15,8,65,125,30", "before sow_start"),
        ("maize,玉米,2.5,0.3,1800,2600,CNY,05-01,06-15,8,165,125,30", "days_to_flowering"),
        ("maize,玉米,2.5,0.3,1800,,CNY,05-01,06-15,8,65,125,30", "input_cost_per_ha"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, row, message):
    path = tmp_path / "crops.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        load_crop_table(path)


def test_missing_column_and_file(tmp_path: Path):
    path = tmp_path / "crops.csv"
    path.write_text("crop,name_zh\nmaize,玉米\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="missing column"):
        load_crop_table(path)
    with pytest.raises(NotFound):
        load_crop_table(tmp_path / "nope.csv")
