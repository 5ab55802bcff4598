"""In-season monitoring of financed plots: their NDVI so far → :class:`SeasonEvidence` → early warnings and actions.

The rules live in :mod:`agrisense.credit.monitoring`; this module turns a re-score's per-plot evidence (monthly
NDVI up to ``as_of``), the crop's expected curve and calendar, the growth stage
(:func:`agrisense.ml.growth.growth_stage`) and the season-to-date rainfall into the rules' inputs, and the rules'
result into warning rows (``OUT/warnings.parquet``, ``agrisense.lending.record_warnings``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from agrisense.agronomy.calendar import CropCalendar, CropReference, crop_calendar
from agrisense.agronomy.weather import spi
from agrisense.credit.monitoring import (
    Action,
    EarlyWarning,
    Loan,
    MonitoringResult,
    SeasonEvidence,
    Tranche,
    monitor,
)
from agrisense.credit.policy import Policy
from agrisense.errors import InvalidInput
from agrisense.ml.growth import (
    DEFAULT_AMPLITUDE,
    ExpectedCurve,
    GrowthStage,
    condition_z,
    growth_stage,
    ndvi_dates,
)
from agrisense.monitoring.scenes import PlotScenes, stand_evidence

MIN_SPI_YEARS = 10
"""Season-to-date SPI needs at least this many earlier years of rainfall."""
EMERGED_STAGES = ("emergence", "vegetative", "reproductive", "maturity", "harvested")
"""Stages of a fitted season that has started (a green-up later than the latest normal emergence is late)."""
STAND_SHARE = 0.35
"""A crop has emerged once its NDVI has risen by at least this share of its crop's expected seasonal rise (the
expected curve's max - min, ``data/reference/ndvi_curves.csv``): the rise is the highest clear NDVI so far minus
the lowest one before it, over every clear observation of the season's imagery (not only those after the calendar's
sowing date: in this county many crops green up before it). A failed stand (weeds, a stunted crop) keeps a fifth of
a normal green-up; about a third of the crop's typical rise separates the two best (benchmarks/warnings.py)."""
HARVEST_FALL = 2 / 3
"""An early harvest needs the NDVI to have fallen back by this share of the season's rise on the observation (and,
with ``PERSISTENCE``, on the one before): a fall of half the rise in monthly composites is mostly a cloudy or
hazy month, not a harvest."""
PERSISTENCE = 2
"""A crop condition (no emergence, failure, poor condition, early harvest, late emergence) must hold on this many
consecutive clear observations before it becomes a warning: one cloudy-edge composite or a one-month dip that
recovers is no warning."""
PERSISTENT_CODES = ("NO_EMERGENCE", "CROP_FAILURE", "CONDITION_POOR", "EARLY_HARVEST", "LATE_EMERGENCE")
CANOPY_DAYS = 30
"""Days from emergence until a seedling canopy shows in 10 m monthly NDVI: the no-emergence deadline is the latest
normal emergence + this (+ the policy's grace), so a crop sown at the end of its window is not taken for a failure."""
LATE_EMERGENCE = "LATE_EMERGENCE"
LATE_EMERGENCE_DAYS = 15
"""Green-up this many days after the latest normal emergence (end of the sowing window + days to emergence) is
late emergence (a watch warning; the yield and the repayment date may move)."""
SCENE_STAND_RISE = 0.12
"""With per-scene evidence (:mod:`agrisense.monitoring.scenes`): a crop has emerged once its scene NDVI medians have
risen this much (second-highest minus second-lowest clear scene). Failed stands stay below it, most normal ones
pass it (benchmarks/warnings.py --scenes: the sweep in docs/performance.md)."""
SCENE_LATE_DAYS = 30
"""With per-scene evidence: green-up (the first of two consecutive scenes half the rise up) this many days after
the latest normal emergence is late emergence. Per-scene dating is to the scene, not the month, but a normal crop
sown at the end of its window still greens up weeks after its emergence date, hence the margin."""


@dataclass(frozen=True)
class ActiveLoan:
    """A financed plot to monitor: the loan terms and where it came from."""

    loan_id: str
    loan: Loan


def _shift(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def loan_from_record(record: Mapping[str, Any], crops: Mapping[str, CropReference], *, season: int) -> ActiveLoan:
    """An :class:`ActiveLoan` monitored in ``season`` from an accepted offer (``Offer.to_dict()``) or a loan row of
    ``agrisense.lending.active_loans`` (``loan_id``, ``plot_ids``, ``crop``, ``limit`` or ``credit_limit``, optional
    ``plots`` with areas and ``offer``).

    An offer financed for another season (e.g. the demo's offers for next season) is monitored as if financed in
    ``season``: its calendar and tranche dates move to that year. A loan row without an offer gets one tranche of
    the whole limit on the crop's typical sowing date."""
    offer = record.get("offer") if isinstance(record.get("offer"), Mapping) else None
    if offer is None and "disbursements" in record:
        offer = record
    loan_id = str(record.get("loan_id") or record.get("id") or record.get("plot_id") or "")
    if offer is not None and offer.get("disbursements"):
        years = season - int(offer.get("finance_season", season))
        moved = {
            **offer,
            "finance_season": season,
            "disbursements": [
                {**d, "date": _shift(date.fromisoformat(d["date"]), years).isoformat()} for d in offer["disbursements"]
            ],
        }
        limit_field = record.get("limit", record.get("credit_limit")) if record is not offer else None
        if limit_field is not None:
            moved["credit_limit"] = float(limit_field)
        return ActiveLoan(loan_id or str(offer["plot_id"]), Loan.from_offer(moved, crops))
    try:
        plot_ids = record.get("plot_ids") or [record["plot_id"]]
        crop = str(record["crop"])
        limit = float(record["limit"] if "limit" in record else record["credit_limit"])
        area = float(record.get("area_ha") or sum(float(p.get("area_ha") or 0.0) for p in record.get("plots") or []))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"loan record {loan_id!r} lacks {exc}; need plot_ids, crop and limit") from exc
    if crop not in crops:
        raise InvalidInput(f"loan {loan_id!r}: crop {crop!r} is not in the crop table")
    cal = crop_calendar(crops[crop], season)
    loan = Loan(
        str(plot_ids[0]),
        crop,
        area,
        limit,
        (Tranche(cal.sow_date, limit, None),),
        cal.sow_date,
        cal.emergence_date,
        cal.maturity_date,
    )
    return ActiveLoan(loan_id, loan)


def approved_offers(offers: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The offers that carry a loan: approved with a positive limit and a disbursement plan."""
    return [
        o
        for o in offers
        if o.get("decision") == "approve" and float(o.get("credit_limit") or 0) > 0 and o.get("disbursements")
    ]


def season_spi(rain: pd.DataFrame, start: date, as_of: date) -> float | None:
    """SPI of the rain from ``start`` to ``as_of`` against the same days of every earlier year in ``rain``
    (``date``, ``precip_mm``); None before ``start`` or with too little history."""
    if as_of < start:
        return None
    dates = pd.to_datetime(rain["date"])
    totals = []
    for year in range(int(dates.dt.year.min()), as_of.year + 1):
        lo, hi = pd.Timestamp(_shift(start, year - as_of.year)), pd.Timestamp(_shift(as_of, year - as_of.year))
        if lo < dates.iloc[0] or hi > dates.iloc[-1]:
            continue
        totals.append(float(rain.loc[(dates >= lo) & (dates <= hi), "precip_mm"].sum()))
    if len(totals) < MIN_SPI_YEARS + 1 or _shift(as_of, 0) > dates.iloc[-1].date():
        return None
    return float(spi(np.asarray(totals))[-1])


def season_evidence(
    ndvi_by_month: Mapping[int, float],
    *,
    loan: Loan,
    season: int,
    as_of: date,
    curve: ExpectedCurve | None,
    calendar: CropCalendar,
    spi_to_date: float | None,
    history: Mapping[date, float] | None = None,
) -> tuple[SeasonEvidence, GrowthStage]:
    """The rules' inputs for one plot: mid-month NDVI observations up to ``as_of`` only.

    ``history`` (the plot's NDVI in earlier seasons, by date) makes the condition the plot's own seasonal anomaly
    (``agrisense.ml.growth.seasonal_anomaly``: the same weeks of its earlier seasons) where it has enough earlier
    seasons; otherwise the crop's expected curve."""
    by_date = {d: v for d, v in ndvi_dates(ndvi_by_month, season=season).items() if d <= as_of}
    seen_months = {d.month: v for d, v in by_date.items()}
    stage = growth_stage(
        by_date,
        as_of=as_of,
        crop=loan.crop,
        curves={loan.crop: curve} if curve else None,
        calendar=calendar,
        history=history,
    )
    since_sowing = [d for d in by_date if d >= loan.sow_date]
    cond = condition_z(seen_months, curve).z if curve is not None else None
    if stage.anomaly is not None and stage.anomaly.z is not None:
        cond = stage.anomaly.z
    stand = season_rise(by_date)
    expected_rise = max(curve.mean.values()) - min(curve.mean.values()) if curve is not None else DEFAULT_AMPLITUDE
    emerged: date | None = None
    if stand is not None and stand.rise >= STAND_SHARE * expected_rise:
        emerged = stage.start_of_season or stand.green_date
    harvested = stage.end_of_season if stage.stage == "harvested" else None
    if stand is None or stand.fall < HARVEST_FALL * stand.rise:
        harvested = None
    evidence = SeasonEvidence(
        as_of=as_of,
        condition_z=cond,
        clear_observations=len(since_sowing),
        emergence_detected=emerged if emerged is not None and emerged <= as_of else None,
        spi_to_date=spi_to_date,
        harvest_detected=harvested if harvested is not None and harvested <= as_of else None,
    )
    return evidence, stage


@dataclass(frozen=True)
class SeasonRise:
    """A season's green-up so far, from the clear observations in date order."""

    rise: float  # highest NDVI minus the lowest one before it
    green_date: date  # first observation at least half that rise above the low
    fall: float  # how far the last observation is below the highest


def season_rise(ndvi_by_date: Mapping[date, float]) -> SeasonRise | None:
    """The green-up of a series of clear NDVI observations (non-finite values skipped); None with fewer than two."""
    dated = sorted((d, float(v)) for d, v in ndvi_by_date.items() if np.isfinite(v))
    if len(dated) < 2:
        return None
    values = np.array([v for _, v in dated])
    top = int(np.argmax(values))
    low = float(values[: top + 1].min())
    rise = float(values[top]) - low
    green = next(d for (d, v) in dated[: top + 1] if v - low >= 0.5 * rise)
    return SeasonRise(rise, green, float(values[top] - values[-1]))


def warning_rows(
    result: MonitoringResult, *, loan_id: str, season: int, run_id: str, stage: GrowthStage, ev: SeasonEvidence
) -> list[dict[str, Any]]:
    """One row per warning (the shape of ``agrisense.lending.record_warnings``) plus context columns."""
    actions = ",".join(a.code for a in result.actions)
    frozen = next((a.amount for a in result.actions if a.code == "freeze_undisbursed"), None)
    increase = next((a.amount for a in result.actions if a.code == "increase_limit"), None)
    base = {
        "plot_id": result.plot_id,
        "loan_id": loan_id,
        "season": season,
        "run_id": run_id,
        "as_of": result.as_of.isoformat(),
        "status": result.status,
        "action": actions,
        "frozen_amount": frozen,
        "increase_amount": increase,
        "stage": stage.stage,
        "condition_z": ev.condition_z,
        "spi_to_date": ev.spi_to_date,
        "policy_version": result.policy_version,
    }
    if not result.warnings and increase is not None:
        return [
            {
                **base,
                "code": "LIMIT_INCREASE_ELIGIBLE",
                "severity": "info",
                "message_en": f"Crop condition is good; the limit may rise by {increase:.0f}.",
                "message_zh": f"作物长势良好，可提高额度 {increase:.0f}。",
            }
        ]
    return [
        {**base, "code": w.code, "severity": w.severity, "message_en": w.message_en, "message_zh": w.message_zh}
        for w in result.warnings
    ]


def latest_normal_emergence(ref: CropReference, season: int) -> date:
    """The latest emergence of a crop sown on time: the end of the sowing window + days to emergence."""
    end = crop_calendar(replace(ref, sow_start=ref.sow_end), season).sow_date
    return end + timedelta(days=ref.days_to_emergence)


def clear_dates(ndvi_by_month: Mapping[int, float], *, season: int, as_of: date) -> list[date]:
    """Dates of the plot's clear (finite) observations up to ``as_of``, in order."""
    dated = ndvi_dates(ndvi_by_month, season=season)
    return sorted(d for d, v in dated.items() if d <= as_of and np.isfinite(v))


def persistent_evidence(current: SeasonEvidence, previous: SeasonEvidence | None) -> SeasonEvidence:
    """The evidence of the last clear observation, keeping only what also held on the one before (``PERSISTENCE``).

    Condition: the less extreme of the two z-scores (a failure must show on both); emergence: seen on either
    (a curve that greened once has emerged); harvest: seen on both. Deadlines stay on ``current.as_of``."""
    if previous is None:
        return replace(current, condition_z=None, harvest_detected=None)
    z, z0 = current.condition_z, previous.condition_z
    cond = None if z is None or z0 is None else max(z, z0) if z <= 0 else min(z, z0)
    emerged = current.emergence_detected or previous.emergence_detected
    harvest = current.harvest_detected if previous.harvest_detected is not None else None
    return replace(current, condition_z=cond, emergence_detected=emerged, harvest_detected=harvest)


def _late(stage: GrowthStage, latest: date) -> bool:
    start = stage.start_of_season
    return stage.stage in EMERGED_STAGES and start is not None and start > latest + timedelta(days=LATE_EMERGENCE_DAYS)


def _with_late_emergence(result: MonitoringResult, green_up: date, latest: date) -> MonitoringResult:
    days = (green_up - latest).days
    warning = EarlyWarning(
        LATE_EMERGENCE,
        "watch",
        f"Late emergence: green-up around {green_up}, {days} days after the latest normal emergence {latest}.",
        f"出苗偏晚：约 {green_up} 返青，比正常最晚出苗日 {latest} 晚 {days} 天。",
    )
    actions = result.actions
    if not any(a.code == "analyst_review" for a in actions):
        actions = (*tuple(a for a in actions if a.code != "increase_limit"), Action("analyst_review"))
    status: Literal["alert", "watch"] = "alert" if result.status == "alert" else "watch"
    return replace(result, warnings=(*result.warnings, warning), actions=actions, status=status)


def scene_stand(
    evidence: SeasonEvidence, scenes: PlotScenes, *, sow_date: date, latest: date
) -> tuple[SeasonEvidence, date | None]:
    """``evidence`` with emergence (and the clear-scene count since sowing) read from the plot's every clear scene
    up to ``evidence.as_of``, and the late green-up date (None: not late). With fewer than four usable scenes the
    evidence is returned as it is and lateness is not judged."""
    stand = stand_evidence(scenes, evidence.as_of)
    rise = stand.rise
    if rise is None:
        return evidence, None
    emerged = (stand.green_date or evidence.as_of) if rise >= SCENE_STAND_RISE else None
    usable = scenes.usable(evidence.as_of)
    since_sowing = sum(1 for d, ok in zip(scenes.days, usable, strict=True) if ok and d >= sow_date)
    green = stand.green_date
    late = green if emerged is not None and green is not None and green > latest + timedelta(SCENE_LATE_DAYS) else None
    return replace(evidence, emergence_detected=emerged, clear_observations=since_sowing), late


def monitor_plot(
    active: ActiveLoan,
    ndvi_by_month: Mapping[int, float],
    *,
    season: int,
    as_of: date,
    crops: Mapping[str, CropReference],
    curves: Mapping[str, ExpectedCurve],
    policy: Policy,
    rain: pd.DataFrame | None,
    run_id: str,
    history: Mapping[date, float] | None = None,
    scenes: PlotScenes | None = None,
) -> tuple[MonitoringResult, list[dict[str, Any]]]:
    """Warnings and actions for one financed plot as of ``as_of``.

    Crop conditions must persist (``PERSISTENCE``): the evidence is read on the last clear observation up to
    ``as_of`` and on the one before it, and a condition counts only where both show it (``persistent_evidence``);
    a green-up later than the latest normal emergence on both is a ``LATE_EMERGENCE`` watch. ``history`` (the
    plot's own earlier seasons) replaces the crop's expected curve as the condition's yardstick where it can.
    ``scenes`` (the plot's every clear scene, :func:`agrisense.monitoring.scene_reader.read_plot_scenes`) decides
    emergence and late emergence instead of the monthly NDVI where it has enough scenes (:func:`scene_stand`)."""
    latest = latest_normal_emergence(crops[active.loan.crop], season)
    loan = replace(active.loan, expected_emergence=max(active.loan.expected_emergence, latest + timedelta(CANOPY_DAYS)))
    calendar = crop_calendar(crops[loan.crop], season)
    spi_value = season_spi(rain, loan.sow_date, as_of) if rain is not None else None
    curve = curves.get(loan.crop)

    def evidence_on(day: date) -> tuple[SeasonEvidence, GrowthStage]:
        return season_evidence(
            ndvi_by_month,
            loan=loan,
            season=season,
            as_of=day,
            curve=curve,
            calendar=calendar,
            spi_to_date=spi_value,
            history=history,
        )

    ev, stage = evidence_on(as_of)
    seen = clear_dates(ndvi_by_month, season=season, as_of=as_of)
    previous = evidence_on(seen[-PERSISTENCE]) if len(seen) >= PERSISTENCE else None
    persistent = persistent_evidence(ev, None if previous is None else replace(previous[0], as_of=as_of))
    late_green: date | None = None
    if previous is not None and _late(stage, latest) and _late(previous[1], latest):
        late_green = stage.start_of_season
    if scenes is not None:
        persistent, late_green = scene_stand(persistent, scenes, sow_date=loan.sow_date, latest=latest)
    result = monitor(loan, persistent, policy)
    if late_green is not None and not any(w.code == "NO_EMERGENCE" for w in result.warnings):
        result = _with_late_emergence(result, late_green, latest)
    rows = warning_rows(result, loan_id=active.loan_id, season=season, run_id=run_id, stage=stage, ev=persistent)
    return result, rows
