"""The reason that names the season of a double crop whose weather carries most of its risk (SEASON_WEATHER_RISK).

A crop grown in several seasons a year (double rice: 早稻 then 晚稻) has one combined weather risk in the PD and the
limit (``agrisense.agronomy.weather.combine_seasons``); the farmer reads which season, which event and which months
the risk is in, the analyst every season's figures.
"""

from __future__ import annotations

from agrisense.agronomy.calendar import crop_calendar
from agrisense.agronomy.parameters import DEFAULT_WEATHER_PARAMETERS, WeatherRiskParameters
from agrisense.agronomy.weather import WeatherRisk, event_loss_means, event_window
from agrisense.credit.reasons import Reason, make_reason

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EVENT_WORDS: dict[str, tuple[str, str]] = {  # event -> (中文, English), plain words
    "drought": ("干旱", "drought"),
    "heat": ("抽穗开花期高温", "heat at flowering"),
    "frost": ("霜冻", "frost"),
    "excess_rain": ("收获期连阴雨", "rain at harvest"),
}


def _months(first: int, last: int) -> tuple[str, str]:
    if first == last:
        return f"{first}月", MONTHS_EN[first - 1]
    return f"{first}-{last}月", f"{MONTHS_EN[first - 1]}-{MONTHS_EN[last - 1]}"


def season_weather_reason(
    risk: WeatherRisk | None, season: int, params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS
) -> Reason | None:
    """SEASON_WEATHER_RISK for a risk combined over seasons with any loss, naming the season with the largest share
    of the year's expected weather loss, its costliest event and that event's months in ``season``; else None."""
    if risk is None or not risk.parts or risk.expected_yield_loss <= 0:
        return None
    main = max(risk.parts, key=lambda part: part.loss_share(risk))
    losses = event_loss_means(main.risk, params)
    event = max(losses, key=lambda name: losses[name])
    start, end = event_window(crop_calendar(main.ref, season), event, params)
    months_zh, months_en = _months(start.month, end.month)

    def by_season(zh: bool) -> str:
        parts = []
        for part in risk.parts:
            r, share = part.risk, part.loss_share(risk)
            if zh:
                parts.append(
                    f"{part.ref.name_zh} 预期减产 {r.expected_yield_loss:.1%}，干旱 {r.drought:.0%}，"
                    f"高温 {r.heat:.0%}（占全年天气损失 {share:.0%}）"
                )
            else:
                parts.append(
                    f"{part.ref.display_en}: expected loss {r.expected_yield_loss:.1%}, drought {r.drought:.0%}, "
                    f"heat {r.heat:.0%} ({share:.0%} of the year's loss)"
                )
        return ("；" if zh else "; ").join(parts)

    return make_reason(
        "SEASON_WEATHER_RISK",
        "info",
        season_zh=main.ref.name_zh,
        season_en=main.ref.display_en,
        event_zh=EVENT_WORDS[event][0],
        event_en=EVENT_WORDS[event][1],
        months_zh=months_zh,
        months_en=months_en,
        by_season_zh=by_season(True),
        by_season_en=by_season(False),
        drought_any=risk.drought_any_season or 0.0,
    )
