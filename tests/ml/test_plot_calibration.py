"""Plot calibration: isotonic crop probability, region NDVI curves, the calibration file, and the scorer using it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agrisense.errors import InvalidInput
from agrisense.ml.growth import ExpectedCurve, load_expected_curves
from agrisense.ml.plot_calibration import (
    GenuinePlot,
    PlotCalibration,
    cross_fitted_condition,
    cross_fitted_probability,
    expected_calibration_error,
    find_calibration,
    fit_level_map,
    fit_probability_map,
    fit_region_curves,
    read_calibrations,
    reliability,
    save_calibration,
)

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"


def _under_confident(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top probabilities in [0.3, 1] that are right more often than they say (as the issue found on plots)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.3, 1.0, n)
    right = rng.uniform(size=n) < np.minimum(1.0, p + 0.2)
    return p, right


def test_cross_fitted_isotonic_removes_under_confidence() -> None:
    p, right = _under_confident()
    before = reliability(p, right)
    assert sum(b.n for b in before) == p.size
    assert all(b.accuracy > b.mean_probability for b in before if b.hi <= 0.8)  # under-confident
    after = reliability(cross_fitted_probability(p, right), right)
    assert expected_calibration_error(before) > 0.15
    assert expected_calibration_error(after) < 0.05
    mapping = fit_probability_map(p, right)
    assert np.all(np.diff(mapping.y) >= 0) and mapping(0.65) > 0.75
    assert mapping(0.0) == mapping.y[0] and mapping(1.0) == mapping.y[-1]  # clipped beyond the knots


def test_bad_probabilities_are_refused() -> None:
    p, right = _under_confident(100)
    with pytest.raises(InvalidInput, match=r"in \[0, 1\]"):
        fit_probability_map(np.append(p, 1.5), np.append(right, True))
    with pytest.raises(InvalidInput, match="too few"):
        fit_probability_map(p[:10], right[:10])
    with pytest.raises(InvalidInput, match="one length"):
        reliability(p, right[:-1])
    with pytest.raises(InvalidInput, match="true/false"):
        reliability(p, np.full(p.size, 0.5))


def _curve(offset: float = 0.0) -> ExpectedCurve:
    mean = {m: 0.2 + 0.05 * m + offset for m in range(1, 13)}
    return ExpectedCurve("maize", mean, {m: 0.1 for m in range(1, 13)})


def test_region_curves_centre_the_condition_of_genuine_plots() -> None:
    rng = np.random.default_rng(1)
    truth = _curve(-0.05)  # the region's plots sit 0.05 below the point-sample curve
    plots = [GenuinePlot("maize", {m: truth.mean[m] + rng.normal(0, 0.08) for m in range(1, 13)}) for _ in range(80)]
    reference = {"maize": _curve()}
    curves = fit_region_curves(plots, reference)
    assert curves["maize"].mean[8] == pytest.approx(truth.mean[8], abs=0.03)
    after = cross_fitted_condition(plots, reference)
    assert abs(np.nanmean(after)) < 0.1
    before = np.mean([(p.ndvi_by_month[m] - reference["maize"].mean[m]) / 0.1 for p in plots for m in range(1, 13)])
    assert before < -0.3


def _winter_crop(level: float = 0.0) -> ExpectedCurve:
    """A rapeseed-like curve: green December-April, bare in summer, the next crop emerging in November."""
    mean = {1: 0.55, 2: 0.64, 3: 0.65, 4: 0.64, 5: 0.44, 6: 0.38, 7: 0.38, 8: 0.38, 9: 0.38, 10: 0.36, 11: 0.44}
    mean[12] = 0.49
    return ExpectedCurve("rapeseed", {m: v + level for m, v in mean.items()}, {m: 0.14 for m in range(1, 13)})


def _plots_below(reference: ExpectedCurve, n: int, seed: int, months: range = range(3, 12)) -> list[GenuinePlot]:
    """Plots 0.12 below ``reference`` (mixed edge pixels), seen only in ``months`` (the imagery window)."""
    rng = np.random.default_rng(seed)
    return [
        GenuinePlot(reference.crop, {m: reference.mean[m] - 0.12 + rng.normal(0, 0.05) for m in months})
        for _ in range(n)
    ]


def test_small_crops_and_unseen_months_follow_the_region_level() -> None:
    """A crop with fewer plots than MIN_CURVE_PLOTS (cotton, 3) and the months outside the imagery take the
    reference through the region's pooled level map, so they are not measured against the reference's level."""
    maize, rapeseed = _curve(), _winter_crop()
    cotton = ExpectedCurve("cotton", {m: v + 0.02 for m, v in maize.mean.items()}, dict(maize.std))
    reference = {"maize": maize, "rapeseed": rapeseed, "cotton": cotton}
    plots = _plots_below(maize, 40, 1) + _plots_below(rapeseed, 11, 2) + _plots_below(cotton, 3, 3)
    level = fit_level_map(plots, reference)
    assert level(0.6) == pytest.approx(0.48, abs=0.03) and level.crop_months >= 4
    curves = fit_region_curves(plots, reference)
    assert curves["cotton"].mean[8] == pytest.approx(cotton.mean[8] - 0.12, abs=0.03)  # 3 plots: the level map
    assert curves["rapeseed"].mean[2] == pytest.approx(rapeseed.mean[2] - 0.12, abs=0.03)  # no imagery in February
    assert curves["rapeseed"].growing_months() == rapeseed.growing_months() == [1, 2, 3, 4]
    z = cross_fitted_condition(plots, reference)
    assert np.isfinite(z).all()  # every plot has a condition (two clear growing months: March, April)
    crops = np.array([p.crop for p in plots])
    for crop in reference:
        assert abs(z[crops == crop].mean()) < 0.35, crop
    assert abs(z.mean()) < 0.1


def test_level_map_needs_enough_crop_months() -> None:
    reference = {"maize": _curve()}
    assert fit_level_map(_plots_below(_curve(), 4, 0), reference).slope == 1.0  # 4 plots < MIN_CURVE_PLOTS
    assert fit_level_map([], reference).intercept == 0.0


def test_cross_fitted_condition_folds_are_stratified_by_crop() -> None:
    """7 plots of a crop in 5 folds: each fold trains on 5 or 6 of them, as the committed fit uses all 7."""
    from agrisense.ml.plot_calibration import _folds

    crops = ["rapeseed"] * 7 + ["maize"] * 60
    for train, _test in _folds(len(crops), 5, 0, strata=crops):
        assert sum(crops[i] == "rapeseed" for i in train) >= 5


def _calibration(region: str = "r", model: str = "m1") -> PlotCalibration:
    p, right = _under_confident()
    return PlotCalibration(region, model, fit_probability_map(p, right), {"maize": _curve()}, {"fitted_at": "t"})


def test_calibration_file_keeps_other_entries_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "plot_calibration.json"
    save_calibration(path, _calibration(model="m1"))
    save_calibration(path, _calibration(model="m2"))
    save_calibration(path, _calibration(model="m1"))  # re-fit replaces, never duplicates
    assert sorted(c.model_version for c in read_calibrations(path)) == ["m1", "m2"]
    found = find_calibration(path, "r", "m2")
    assert found is not None
    assert found.curves["maize"].growing == ()  # an entry without growing months reads them off its curve
    assert found.probability.y == pytest.approx(_calibration().probability.y, abs=1e-6)
    assert found.curves["maize"].mean[5] == pytest.approx(_curve().mean[5], abs=1e-4)
    assert find_calibration(path, "r", "presto-1") is None  # another model: not calibrated yet
    assert find_calibration(tmp_path / "absent.json", "r", "m1") is None


def test_broken_calibration_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "plot_calibration.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidInput, match="calibrate-plots"):
        read_calibrations(path)
    path.write_text(json.dumps({"format": "agrisense.plot_calibration", "version": 1, "entries": [{"x": 1}]}))
    with pytest.raises(InvalidInput, match="malformed"):
        read_calibrations(path)
    with pytest.raises(InvalidInput, match="malformed"):
        save_calibration(path, _calibration())  # a broken file is not overwritten silently
    assert "entries" in json.loads(path.read_text())


def test_committed_calibration_is_better_than_raw() -> None:
    """Both sample counties (East Africa, Jiangxi) have a calibration of their committed crop model whose
    cross-fitted checks pass: lower ECE, genuine plots' condition z unbiased (mean within +-0.1), each curve set
    that of one market's reference curves (ndvi_curves.csv, ndvi_curves_china.csv)."""
    from agrisense.market import market_named
    from agrisense.ml.registry import read_bundle

    entries = read_calibrations(REFERENCE / "plot_calibration.json")
    models = REFERENCE.parent.parent / "models"
    from agrisense.ml.plot_crop_model import load_plot_crop_model
    from agrisense.scoring.evidence import evidence_model_version

    crop_models = {"landcover_unet": load_plot_crop_model(models, "plotcrop_ea"), "landcover_unet_cn": None}
    for bundle, place in (("landcover_unet", "northern Uganda"), ("landcover_unet_cn", "Jiangxi")):
        # what the county's evidence names: the East-African crops are pooled with its plot crop model
        version = evidence_model_version(read_bundle(models / bundle).version, crop_models[bundle])
        assert any(e.model_version == version and place in e.region for e in entries), (
            f"no calibration of {bundle} {version} for the {place} county; run agrisense calibrate-plots"
        )
    market_curves = [
        set(load_expected_curves(market_named(REFERENCE, code).curves_path())) for code in ("sample_county", "china")
    ]
    for entry in entries:
        prob, cond = entry.report["crop_probability"], entry.report["condition_z"]
        assert prob["after_cross_fitted"]["ece"] < prob["before"]["ece"]
        assert abs(cond["after_cross_fitted"]["mean_z"]) <= 0.1
        assert any(set(entry.curves) <= crops for crops in market_curves), entry.region


def test_scorer_applies_the_calibration_of_its_region_and_model(small_region: Path, tmp_path: Path) -> None:
    from agrisense import services
    from agrisense.config import Settings
    from agrisense.geo import read_plots
    from agrisense.region import load_region
    from agrisense.scoring.evidence import PlotEvidence
    from agrisense.scoring.offers import build_offers

    settings = Settings(region_dir=small_region, reference_dir=REFERENCE)
    region = load_region(small_region)
    plots, _ = read_plots(region.plots)
    plot = plots[0]
    ndvi = {m: 0.3 + 0.04 * m for m in range(3, 12)}
    evidence = {
        plot.plot_id: PlotEvidence(
            plot.plot_id,
            "ok",
            crop="maize",
            crop_probability=0.62,
            cropland_fraction=0.95,
            clear_fraction=1.0,
            n_clear_periods=9,
            ndvi_by_month=ndvi,
            model_version="unet-test-1",
        )
    }
    credit = services.credit_inputs(settings, region)
    path = tmp_path / "plot_calibration.json"
    credit = type(credit)(**{**credit.__dict__, "plot_calibration": path})
    raw = build_offers([plot], evidence, credit)[plot.plot_id]
    assert raw.crop_probability == pytest.approx(0.62, abs=1e-4) and "plot_calibration" not in raw.model_versions
    assert credit.region_key is not None
    save_calibration(path, _calibration(region=credit.region_key, model="unet-test-1"))
    from agrisense.scoring.offers import plot_calibration_for

    assert plot_calibration_for(credit, "unet-test-1") is not None  # monitoring reads the same curves
    assert plot_calibration_for(credit, "another-model") is None
    assert plot_calibration_for(type(credit)(**{**credit.__dict__, "region_key": None}), "unet-test-1") is None
    calibrated = build_offers([plot], evidence, credit)[plot.plot_id]
    assert calibrated.crop_probability == pytest.approx(_calibration().probability(0.62), abs=1e-4)
    assert calibrated.crop_probability > 0.7 and calibrated.model_versions["plot_calibration"] == "t"


def test_region_curves_keep_their_growing_months_in_the_file(tmp_path: Path) -> None:
    reference = {"rapeseed": _winter_crop()}
    curves = fit_region_curves(_plots_below(_winter_crop(), 12, 4), reference)
    p, right = _under_confident()
    path = save_calibration(tmp_path / "c.json", PlotCalibration("r", "m", fit_probability_map(p, right), curves))
    found = find_calibration(path, "r", "m")
    assert found is not None and found.curves["rapeseed"].growing == (1, 2, 3, 4)
