from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agrisense.agronomy.calendar import CropReference, load_crop_table
from agrisense.agronomy.weather import WeatherRisk
from agrisense.credit.engine import CreditEvidence
from agrisense.credit.policy import Policy, load_policy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def crops() -> dict[str, CropReference]:
    return load_crop_table(REPO / "data" / "reference" / "crops.csv")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(REPO / "agrisense" / "credit" / "policies" / "default.yaml")


def make_weather(crop: str = "maize", loss: float = 0.08, drought: float = 0.15) -> WeatherRisk:
    losses = tuple([0.0] * 20 + [loss * 3] * 10)
    return WeatherRisk(
        crop=crop,
        years=tuple(range(1990, 2020)),
        drought=drought,
        severe_drought=drought / 2,
        heat=0.1,
        frost=0.0,
        excess_rain=0.1,
        expected_yield_loss=sum(losses) / len(losses),
        loss_by_year=losses,
    )


@pytest.fixture(scope="session")
def weather() -> WeatherRisk:
    return make_weather()


@pytest.fixture
def weather_factory():
    return make_weather


@pytest.fixture
def good_evidence() -> CreditEvidence:
    return CreditEvidence(
        plot_id="P1",
        farmer_id="F1",
        declared_crop="maize",
        crop="maize",
        crop_probability=0.93,
        area_ha=1.5,
        declared_area_ha=1.5,
        cropland_fraction=0.95,
        clear_fraction=0.8,
        n_clear_periods=6,
        imagery_ok=True,
        ndvi_condition_z=0.2,
        overlap_fraction=0.0,
        existing_exposure=0.0,
        evidence_season=2026,
        finance_season=2026,
        model_versions={"crop_model": "unet-1.0"},
    )


@pytest.fixture
def evidence_with():
    def _with(base: CreditEvidence, **changes: object) -> CreditEvidence:
        return replace(base, **changes)

    return _with
