"""Markets as data: the two bundled market files load, locate places, and bad files are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agrisense.agronomy.calendar import crop_calendars
from agrisense.agronomy.climatology import ClimatologyWeather
from agrisense.agronomy.weather import weather_risk
from agrisense.credit.policy import load_policy
from agrisense.errors import InvalidInput, NotFound
from agrisense.market import find_location, load_market, load_markets, locate, markets_dir

MARKETS = markets_dir(Path(__file__).resolve().parents[1] / "data" / "reference")
CHINA = MARKETS / "china.yaml"
CHINESE_CROPS = {"rice", "rice_early", "rice_late", "rice_double", "wheat", "maize", "soybean", "rapeseed", "cotton"}


def test_bundled_markets_load():
    markets = load_markets(MARKETS)
    assert set(markets) == {"china", "sample_county"}
    china = markets["china"].crop_table("jiangxi")
    assert set(china) >= CHINESE_CROPS
    assert china["rice_early"].name_zh == "早稻" and china["wheat"].name_zh == "小麦"
    assert all(ref.currency == "CNY" for ref in china.values())
    assert set(markets["sample_county"].crop_table()) == {"maize", "sorghum", "groundnut", "beans"}


def test_province_yields_and_double_rice():
    china = load_market(CHINA)
    jiangxi, national = china.crop_table("jiangxi"), china.crop_table()
    assert jiangxi["rice_early"].ref_yield_t_ha == pytest.approx(5.714)  # NBS 2019, SOURCES.md [Y1]
    assert national["rice_early"].ref_yield_t_ha == pytest.approx(6.012)  # NBS 2025, [Y6]
    assert jiangxi["wheat"].ref_yield_t_ha == national["wheat"].ref_yield_t_ha  # no Jiangxi figure: national
    double = jiangxi["rice_double"]
    early, late = jiangxi["rice_early"], jiangxi["rice_late"]
    assert double.ref_yield_t_ha == pytest.approx(early.ref_yield_t_ha + late.ref_yield_t_ha)
    assert double.input_cost_per_ha == pytest.approx(early.input_cost_per_ha + late.input_cost_per_ha)
    assert jiangxi["rice"].input_cost_per_ha == pytest.approx(520 * 15)  # per 亩 in the file
    early_cal, late_cal = crop_calendars(double, 2027)
    assert early_cal.harvest_end < late_cal.sow_date + (late_cal.maturity_date - late_cal.sow_date)
    assert early_cal.crop == "rice_double" and late_cal.crop == "rice_late"


def test_every_chinese_crop_is_coverable_under_the_china_policy():
    china = load_market(CHINA)
    for area in (None, *china.spec.areas):
        policy = load_policy(china.policy_file, crops=china.crop_table(area))  # refuses an uncoverable pd_approve
        assert set(policy.financed_crops) == CHINESE_CROPS


def test_locate_by_point_and_by_name():
    markets = load_markets(MARKETS)
    nanchang = locate(markets, 115.9, 28.7)
    assert (nanchang.market.code, nanchang.area) == ("china", "jiangxi")
    assert locate(markets, 113.0, 28.2).area == "hunan"  # Changsha
    assert locate(markets, 113.6, 34.7).area == "henan"  # Zhengzhou
    assert locate(markets, 33.1, 2.4).market.code == "sample_county"
    assert find_location(markets, "江西").area == "jiangxi"
    assert find_location(markets, "Heilongjiang").area == "heilongjiang"
    assert find_location(markets, "atlantis") is None
    with pytest.raises(NotFound, match="no market covers lon -30.0, lat 10.0; covered areas: .*jiangxi"):
        locate(markets, -30.0, 10.0)
    with pytest.raises(InvalidInput, match="not a place on Earth"):
        locate(markets, 28.7, 115.9)


def test_climatology_weather_is_seeded_and_gives_a_weather_risk():
    china = load_market(CHINA)
    normals = china.normals("jiangxi")
    assert normals is not None and china.normals("jiangxi") == normals
    first, second = ClimatologyWeather(normals).history(), ClimatologyWeather(normals).history()
    assert first.equals(second) and first["date"].dt.year.nunique() == 35
    july = first[first["date"].dt.month == 7]
    assert july["tmax_c"].mean() == pytest.approx(34.3 - 0.4, abs=1.0)  # wet days are a little cooler
    yearly_rain = first.groupby(first["date"].dt.year)["precip_mm"].sum().mean()
    assert yearly_rain == pytest.approx(sum(normals.precip_mm), rel=0.15)
    risk = weather_risk(first, china.crop_table("jiangxi")["rice"], "rice")
    assert len(risk.years) >= 30 and 0 < risk.drought < 0.35
    assert load_market(MARKETS / "sample_county.yaml").normals("sample_county") is None


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "market.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture()
def china_data() -> dict:
    return yaml.safe_load(CHINA.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["crops"]["wheat"]["yield_t_ha"].pop("national"), r"crops\.wheat: .*yield_t_ha\.national"),
        (lambda d: d["crops"]["wheat"]["yield_t_ha"].update(shandong=6.5), r"\['shandong'\] are not areas"),
        (lambda d: d["crops"]["wheat"].pop("price_per_t"), r"crops\.wheat: .*give price_per_t"),
        (lambda d: d["crops"]["rice_double"].update(price_per_t=2500), r"no figures of its own"),
        (lambda d: d["crops"]["rice_double"].update(made_of=["rice_early", "tea"]), r"'tea' is not a crop"),
        (lambda d: d["areas"]["jiangxi"].update(bbox=[28.7, 115.9, 30.0, 118.0]), r"lon_min, lat_min"),
        (lambda d: d["areas"]["henan"]["weather"]["tmax_c"].pop(), r"areas\.henan\.weather\.climatology\.tmax_c"),
        (lambda d: d["crops"]["maize"]["calendar"].update(days_to_flowering=500), r"days_to_flowering < days_to"),
        (lambda d: d["crops"]["maize"]["calendar"].update(sow_start="6-5"), r"sow_start: String should match"),
        (lambda d: d.update(policy="missing.yaml"), r"policy 'missing\.yaml' is not a file"),
        (lambda d: d.update(crops_csv="crops.csv"), r"either crops \(inline\) or crops_csv"),
        (lambda d: d.update(colour="red"), r"colour: Extra inputs are not permitted"),
    ],
)
def test_bad_market_files_are_refused(tmp_path, china_data, change, message):
    change(china_data)
    with pytest.raises(InvalidInput, match=message):
        load_market(_write(tmp_path, china_data))


def test_unreadable_market_files(tmp_path):
    with pytest.raises(NotFound, match="does not exist"):
        load_market(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("market: [unclosed", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_market(broken)
    with pytest.raises(InvalidInput, match="must be a YAML mapping"):
        load_market(_write(tmp_path, ["a", "list"]))
