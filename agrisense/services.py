"""The operations every front end calls (CLI, API, dashboard, batch jobs), from the product's settings.

A service call turns :class:`~agrisense.config.Settings` into the scorer's frozen inputs and calls the library
(``agrisense.scoring``); it never decides anything itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from agrisense.agronomy.calendar import CropReference
from agrisense.config import Settings, get_settings
from agrisense.geo import ImageryArea, Plot, PlotError, read_plots
from agrisense.market import market_named
from agrisense.ml.growth import ExpectedCurve, load_expected_curves
from agrisense.ml.plot_calibration import PLOT_CALIBRATION_FILE, region_key
from agrisense.region import DEFAULT_MARKET, Region, load_region
from agrisense.scoring import (
    CreditInputs,
    ScoreRun,
    ScoringInputs,
    TileRunner,
    run_in_process,
)
from agrisense.scoring import score_plots as _score_plots
from agrisense.scoring.offers import condition_curves
from agrisense.scoring.run import OnTile


def scoring_inputs(
    settings: Settings, region: Region, *, start: date | None = None, end: date | None = None
) -> ScoringInputs:
    """The scorer's inputs for ``region`` under ``settings`` (imagery window: the region's, unless given)."""
    return ScoringInputs(
        catalog=settings.catalog_source,
        start=start or region.imagery_start,
        end=end or region.imagery_end,
        models_dir=Path(settings.models_dir),
        model=region.model,
        crop_model=region.crop_model,
        cache_dir=Path(settings.cache_dir) / "composites",
        device=settings.device,
    )


def credit_inputs(settings: Settings, region: Region) -> CreditInputs:
    """The credit side's inputs: the region's season is the evidence, the next season is financed; crops and
    policy are the region's market's (the configured policy file for a market on the default policy)."""
    market = market_named(Path(settings.reference_dir), region.market)
    return CreditInputs(
        reference_dir=Path(settings.reference_dir),
        policy_file=market.policy_path(Path(settings.policy_file)),
        weather_csv=region.weather,
        evidence_season=region.season,
        finance_season=region.season + 1,
        plot_calibration=Path(settings.reference_dir) / PLOT_CALIBRATION_FILE,
        region_key=region_key(region.name, region.season, region.bbox_lonlat),
        market=region.market,
        market_area=region.market_area,
    )


def region_crops(settings: Settings, region: Region | None) -> Mapping[str, CropReference]:
    """The crop references ``region`` is lent under: its market's crops, with its market area's yields (for the
    farmer app's crop names, stress tests and anything else that must not fall back to ``crops.csv``). ``None``
    (a folder of weather only, without ``region.json``): the sample county's market."""
    if region is None:
        return market_named(Path(settings.reference_dir), DEFAULT_MARKET).crop_table()
    return credit_inputs(settings, region).reference().crops  # the scoring's own crop table (area checked, cached)


def expected_curves(
    settings: Settings, region: Region | None, model_version: str | None
) -> Mapping[str, ExpectedCurve]:
    """The expected NDVI curves a plot's condition was measured against, by crop: the region's plot calibration for
    ``model_version`` (the offer's ``model_versions["landcover"]``) where it has one, else its market's reference
    curves (Jiangxi: the China market's, not the East-African ``ndvi_curves.csv``). ``None`` region: the sample
    county's market."""
    if region is None:
        return load_expected_curves(market_named(Path(settings.reference_dir), DEFAULT_MARKET).curves_path())
    return condition_curves(credit_inputs(settings, region), model_version)[1]


def score_plots(
    plots: Sequence[Plot],
    *,
    errors: Sequence[PlotError] = (),
    settings: Settings | None = None,
    runner: TileRunner = run_in_process,
    on_tile: OnTile | None = None,
    overlaps: Mapping[str, float] | None = None,
    existing_exposure: Mapping[str, Decimal] | None = None,
) -> ScoreRun:
    """Offers for validated plots (plus a referral entry for each unusable feature), in input order.

    ``overlaps`` and ``existing_exposure`` come from a service with a database; ``runner`` decides where tiles run
    (in this process by default; ``agrisense.pipelines.score_tiles.DaskTileRunner`` fans out on Dask)."""
    settings = settings or get_settings()
    region = load_region(settings.region_dir)
    return _score_plots(
        plots,
        region,
        scoring_inputs(settings, region),
        credit_inputs(settings, region),
        errors=errors,
        runner=runner,
        on_tile=on_tile,
        overlaps=overlaps,
        existing_exposure=existing_exposure,
    )


def read_region_plots(path: Path, settings: Settings) -> tuple[list[Plot], list[PlotError]]:
    """Plots of a GeoJSON file, checked against the configured region (invalid features become errors; outlines
    outside the imagery become ``OUTSIDE_IMAGERY`` errors, the API's rule and message)."""
    region = load_region(settings.region_dir)
    return read_plots(path, expected_bbox=region.bbox_lonlat, imagery_area=ImageryArea(region.name, region.bbox_lonlat))


def score_file(path: Path, settings: Settings | None = None, *, runner: TileRunner = run_in_process) -> ScoreRun:
    """Read a GeoJSON file of plots and score them (invalid features become referral entries)."""
    settings = settings or get_settings()
    plots, errors = read_region_plots(path, settings)
    return score_plots(plots, errors=errors, settings=settings, runner=runner)
