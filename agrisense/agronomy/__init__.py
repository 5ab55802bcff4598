"""Agronomy: crop calendar, historical weather risk and the yield distribution of a plot."""

from agrisense.agronomy.calendar import CropCalendar, CropReference, crop_calendar, load_crop_table
from agrisense.agronomy.weather import LocalCsvWeather, WeatherProvider, WeatherRisk, weather_risk
from agrisense.agronomy.yields import YieldDistribution, yield_distribution

__all__ = [
    "CropCalendar",
    "CropReference",
    "LocalCsvWeather",
    "WeatherProvider",
    "WeatherRisk",
    "YieldDistribution",
    "crop_calendar",
    "load_crop_table",
    "weather_risk",
    "yield_distribution",
]
