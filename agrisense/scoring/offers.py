"""From a plot's evidence to its offer: condition, yield, weather risk, then the credit engine, in one place.

This is the only place where imagery evidence meets the credit engine: the CLI, the API and the county re-score
all come through :func:`build_offers`.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from agrisense.agronomy.calendar import CropReference, load_crop_table
from agrisense.agronomy.weather import LocalCsvWeather, WeatherRisk, weather_risk
from agrisense.agronomy.yields import yield_distribution
from agrisense.credit.engine import CreditEvidence, make_offer
from agrisense.credit.offer import ImageryEvidence, Offer, Reason
from agrisense.credit.policy import Policy, load_policy
from agrisense.errors import InvalidInput
from agrisense.geo import OUTSIDE_IMAGERY, Plot, PlotError, overlap_fractions
from agrisense.market import market_named
from agrisense.ml.growth import ExpectedCurve, condition_z, load_expected_curves
from agrisense.ml.plot_calibration import PlotCalibration, find_calibration
from agrisense.scoring.evidence import PlotEvidence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreditInputs:
    """What the credit side of scoring reads: reference tables, the policy, the region's weather, the seasons."""

    reference_dir: Path
    policy_file: Path
    weather_csv: Path
    evidence_season: int
    finance_season: int
    # the plot calibration file and the region's key in it (agrisense calibrate-plots); None: raw model output
    plot_calibration: Path | None = None
    region_key: str | None = None
    # the region's market (data/reference/markets/<market>.yaml) and area: crops, prices and calendars come from it
    # (its policy is ``policy_file``); None: the reference folder's crops.csv (tools that score without a region)
    market: str | None = None
    market_area: str | None = None

    def reference(self) -> Reference:
        """Crops, policy and expected curves this scoring uses (read once per process)."""
        return load_reference(self.reference_dir, self.policy_file, self.market, self.market_area)


@dataclass(frozen=True)
class Reference:
    crops: Mapping[str, CropReference]
    policy: Policy
    curves: Mapping[str, ExpectedCurve]


@cache
def load_reference(
    reference_dir: Path, policy_file: Path, market: str | None = None, market_area: str | None = None
) -> Reference:
    """Crop table, policy and expected NDVI curves, read once per process and arguments.

    With a ``market`` the crops and curves are the market's (yields of ``market_area``; curves of its
    ``ndvi_curves_csv``), else the reference folder's ``crops.csv`` and ``ndvi_curves.csv``; ``policy_file`` is
    the policy lent under (``services.credit_inputs`` resolves a market's own)."""
    curves_path = reference_dir / "ndvi_curves.csv"
    if market is None:
        crops = load_crop_table(reference_dir / "crops.csv")
    else:
        spec = market_named(reference_dir, market)
        curves_path = spec.curves_path()
        if market_area is not None and market_area not in spec.spec.areas:
            raise InvalidInput(
                f"market area {market_area!r} is not an area of market {market!r} ({', '.join(spec.spec.areas)}); "
                "fix market_area in the region's region.json"
            )
        crops = spec.crop_table(market_area)
    return Reference(
        crops=crops,
        policy=load_policy(policy_file, crops=crops),  # the price-cap check against this run's own crop table
        curves=load_expected_curves(curves_path),
    )


@cache
def _weather_risk(weather_csv: Path, crop: str, credit: CreditInputs) -> WeatherRisk:
    return weather_risk(LocalCsvWeather(weather_csv).history(), credit.reference().crops[crop], crop)


def _plot_calibration(path: Path, region: str, model_version: str) -> PlotCalibration | None:
    """The region's calibration for this crop model, read once per version of the file."""
    stamp = path.stat().st_mtime_ns if path.is_file() else None
    return _read_plot_calibration(path, region, model_version, stamp)


@cache
def _read_plot_calibration(path: Path, region: str, model_version: str, stamp: int | None) -> PlotCalibration | None:
    calibration = find_calibration(path, region, model_version)
    if calibration is None:
        log.warning(
            "no plot calibration for this region and crop model in %s: crop probabilities and NDVI curves are "
            "uncalibrated; fit them with `agrisense calibrate-plots`",
            path,
            extra={"region": region, "model_version": model_version},
        )
    return calibration


def plot_calibration_for(credit: CreditInputs, model_version: str) -> PlotCalibration | None:
    """The plot calibration of ``credit``'s region and this crop model; None without a file or region key, or
    before the model is calibrated. Offers and in-season monitoring measure condition against its curves."""
    if credit.plot_calibration is None or credit.region_key is None:
        return None
    return _plot_calibration(credit.plot_calibration, credit.region_key, model_version)


def condition_curves(
    credit: CreditInputs, model_version: str | None
) -> tuple[PlotCalibration | None, Mapping[str, ExpectedCurve]]:
    """The plot calibration of ``credit``'s region and this crop model (None without one, or without a model
    version), and the expected NDVI curves a plot's condition is measured against: the calibration's where it has
    been fitted, else the market's reference curves. Offers, in-season monitoring and the dashboard read these."""
    calibration = plot_calibration_for(credit, model_version) if model_version else None
    return calibration, (calibration.curves if calibration else credit.reference().curves)


def _seed(plot_id: str) -> int:
    return zlib.crc32(plot_id.encode("utf-8"))


def imagery_summary(ev: PlotEvidence) -> ImageryEvidence:
    """The offer's ``imagery`` block."""
    return ImageryEvidence(
        status=ev.status,
        reason=ev.reason,
        clear_fraction=round(ev.clear_fraction, 3),
        n_clear_months=ev.n_clear_periods,
        ndvi_by_month={str(k): round(v, 3) for k, v in sorted(ev.ndvi_by_month.items())},
        class_probabilities={k: round(v, 3) for k, v in ev.class_probabilities.items()},
        scenes=len(ev.scene_ids),
    )


def build_offers(
    plots: Sequence[Plot],
    evidence: Mapping[str, PlotEvidence],
    credit: CreditInputs,
    *,
    overlaps: Mapping[str, float] | None = None,
    existing_exposure: Mapping[str, Decimal] | None = None,
    what_if: bool = True,
) -> dict[str, Offer]:
    """Offers by plot id from imagery + model evidence.

    ``overlaps`` defaults to the overlap among ``plots`` themselves; a service with a database passes the overlap with
    every other farmer's plots. ``existing_exposure`` is the farmer's outstanding credit by ``farmer_id``.
    ``what_if=False`` leaves out "what would change the decision" (policy sweeps that only count decisions).
    """
    ref = credit.reference()
    overlaps = overlap_fractions(plots) if overlaps is None else overlaps
    exposure = existing_exposure or {}
    weather = {crop: _weather_risk(credit.weather_csv, crop, credit) for crop in ref.crops}
    model_versions = {"landcover": next((e.model_version for e in evidence.values() if e.model_version), "none")}
    calibration, curves = condition_curves(credit, model_versions["landcover"])
    if calibration:
        model_versions["plot_calibration"] = str(calibration.report.get("fitted_at", "unknown"))
    offers: dict[str, Offer] = {}
    for plot in plots:
        ev = evidence[plot.plot_id]
        seen = ev.crop if ev.imagery_ok else None
        assessed = seen or plot.declared_crop  # the engine assesses the crop the satellite saw
        curve = curves.get(ev.crop) if ev.imagery_ok and ev.crop else None
        probability = ev.crop_probability or 0.0
        if calibration and ev.imagery_ok:
            probability = calibration.probability(probability)
        cond = condition_z(ev.ndvi_by_month, curve).z if curve is not None else None
        ydist = None
        if assessed is not None and assessed in ref.crops:
            ydist = yield_distribution(
                ref.crops[assessed], condition_z=cond, weather=weather.get(assessed), seed=_seed(plot.plot_id)
            )
        farmer_id = plot.farmer_id or "unknown"
        credit_evidence = CreditEvidence(
            plot_id=plot.plot_id,
            farmer_id=farmer_id,
            declared_crop=plot.declared_crop or ev.crop or "unknown",
            # without clear imagery the model's output is no evidence: the engine refers the plot
            crop=seen,
            crop_probability=probability if ev.imagery_ok else 0.0,
            area_ha=plot.area_ha,
            declared_area_ha=plot.declared_area_ha,
            cropland_fraction=ev.cropland_fraction or 0.0,
            imagery_ok=ev.imagery_ok,
            clear_fraction=ev.clear_fraction,
            n_clear_periods=ev.n_clear_periods,
            ndvi_condition_z=cond,
            overlap_fraction=overlaps.get(plot.plot_id, 0.0),
            existing_exposure=exposure.get(farmer_id, Decimal(0)),
            evidence_season=credit.evidence_season,
            finance_season=credit.finance_season,
            model_versions=model_versions,
            declared_crop_probability=ev.probability_given_cropland(plot.declared_crop) if ev.imagery_ok else None,
        )
        offer = make_offer(
            credit_evidence, crops=ref.crops, weather=weather, policy=ref.policy, yield_dist=ydist, what_if=what_if
        )
        geometry = json.loads(json.dumps(plot.geometry.__geo_interface__))
        offers[plot.plot_id] = offer.with_scoring(imagery_summary(ev), geometry)
    return offers


def unusable_outline_offer(error: PlotError, *, currency: str) -> Offer:
    """The offer for a feature whose outline could not be used: refer, no limit, the reason how to fix it."""
    reason = Reason(
        code=error.code,
        kind="refer",
        message_en=error.message,
        message_zh=(
            f"该地块不在（或部分不在）我们卫星影像覆盖的区域内，暂时无法评估：{error.message}"
            if error.code == OUTSIDE_IMAGERY
            else f"地块边界无法使用，请按提示修改后重新提交：{error.message}"
        ),
        effect={"decision": "refer"},  # type: ignore[arg-type]
    )
    return Offer(
        plot_id=error.plot_id or f"feature-{error.index + 1}",
        credit_limit=Decimal(0),
        assessed_limit=Decimal(0),
        currency=currency,
        decision="refer",
        reasons=(reason,),
        expected_loss=Decimal(0),
    )
