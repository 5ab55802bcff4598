"""Monthly class-mean spectra of crops for which no labelled real samples exist here (the Chinese crops), built
from published curve shapes: PUBLISHED-CURVE CALIBRATED, NOT REAL-DATA CALIBRATED.

A crop's year is a daily sequence of cover fractions (green canopy, open water, yellow flowers; the rest bare
soil) from piecewise-linear stage curves in the shape of published MODIS / Sentinel-2 time series (sources in
``data/reference/SOURCES.md``, "Sample county crop curves"), placed on the crop's own calendar from its market
file. The flooding of a paddy before and after transplanting makes the land-surface water index (LSWI) and NDWI
rise above NDVI for a few weeks (Xiao et al. 2005), a double-rice field floods twice, winter rapeseed flowers
yellow in March (d'Andrimont et al. 2020). A month's spectrum is the cover-weighted mix of four endmember
spectra, averaged over the month's days. The endmembers are typical library values (approximate, not measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from agrisense.agronomy.calendar import CropReference
from agrisense.errors import InvalidInput
from agrisense.sample.bands import ASSET_KEYS
from agrisense.sample.inputs import Spectra

#: Endmember reflectances in ASSET_KEYS order (blue, green, red, rededge1-3, nir, nir08, swir16, swir22).
ENDMEMBERS: dict[str, tuple[float, ...]] = {
    "soil": (0.08, 0.11, 0.14, 0.17, 0.20, 0.22, 0.24, 0.25, 0.32, 0.26),  # moist red paddy soil
    "green": (0.03, 0.07, 0.04, 0.12, 0.30, 0.38, 0.42, 0.44, 0.22, 0.11),  # closed crop canopy
    "water": (0.06, 0.07, 0.05, 0.045, 0.03, 0.025, 0.02, 0.02, 0.01, 0.008),  # shallow turbid paddy water
    "flower": (0.04, 0.14, 0.10, 0.18, 0.32, 0.38, 0.42, 0.43, 0.24, 0.13),  # yellow rapeseed petals over canopy
}


@dataclass(frozen=True)
class Stage:
    """Cover fractions ``day`` days after sowing: green canopy, open water, flowers (a share of the canopy)."""

    day: float
    green: float
    water: float = 0.0
    flower: float = 0.0


#: Winter / off-season state of a field between crops (stubble, weeds): mostly soil, a little green.
FALLOW = Stage(0, 0.18)


def _paddy(ref: CropReference) -> tuple[Stage, ...]:
    """Rice (Xiao et al. 2005, Sakamoto et al. 2005): nursery elsewhere while the paddy is ploughed, puddled and
    flooded (days 5-30, transplanting at ~25; the water hides the soil), canopy closing as the water disappears,
    peak at heading, yellowing to harvest, stubble."""
    f, m = ref.days_to_flowering, ref.days_to_maturity
    return (
        Stage(5, 0.12, 0.30),
        Stage(12, 0.06, 0.88),
        Stage(30, 0.12, 0.85),
        Stage(0.5 * (30 + f), 0.55, 0.42),
        Stage(f, 0.95, 0.02),
        Stage(m - 10, 0.70),
        Stage(m, 0.40),
        Stage(m + 10, 0.15),
    )


def _rapeseed(ref: CropReference) -> tuple[Stage, ...]:
    """Winter rapeseed (d'Andrimont et al. 2020; Sulik and Long 2016): autumn emergence, rosette through winter,
    stem elongation, yellow flowering for ~4 weeks around ``days_to_flowering``, pods, harvest."""
    f, m = ref.days_to_flowering, ref.days_to_maturity
    return (
        Stage(0, 0.05),
        Stage(30, 0.25),
        Stage(90, 0.40),
        Stage(f - 20, 0.70),
        Stage(f, 0.75, flower=0.55),
        Stage(f + 20, 0.80, flower=0.15),
        Stage(m - 10, 0.50),
        Stage(m, 0.30),
        Stage(m + 10, 0.12),
    )


def _upland(ref: CropReference) -> tuple[Stage, ...]:
    """A row crop sown on dry land (cotton, maize, soybean): emergence, canopy closure by flowering, peak, then
    senescence (cotton: defoliation and picking over the harvest window)."""
    e, f, m, h = ref.days_to_emergence, ref.days_to_flowering, ref.days_to_maturity, ref.harvest_window_days
    return (
        Stage(0, 0.04),
        Stage(e + 10, 0.10),
        Stage(f, 0.65),
        Stage(0.5 * (f + m), 0.90),
        Stage(m, 0.60),
        Stage(m + h, 0.25),
        Stage(m + h + 10, 0.15),
    )


SHAPES = {
    "rice": _paddy,
    "rice_early": _paddy,
    "rice_late": _paddy,
    "rice_double": _paddy,
    "rapeseed": _rapeseed,
    "wheat": _rapeseed,
}


def stages(ref: CropReference) -> tuple[Stage, ...]:
    """The stage curve of one crop (its own calendar): paddy, winter crop or upland row crop."""
    return SHAPES.get(ref.crop, _upland)(ref)


def sowing_middle(ref: CropReference, year: int) -> date:
    """The middle of the crop's sowing window in ``year``."""
    start = date(year, *(int(v) for v in ref.sow_start.split("-")))
    end = date(year, *(int(v) for v in ref.sow_end.split("-")))
    if end < start:
        end = end.replace(year=year + 1)
    return start + (end - start) / 2


def sown_before(ref: CropReference, season: int) -> bool:
    """A crop harvested in ``season`` was sown the year before when sowing + maturity runs past November."""
    sow = sowing_middle(ref, season)
    return sow + timedelta(days=ref.days_to_maturity) > date(season, 11, 30)


@dataclass(frozen=True)
class _Cycle:
    sow: date
    stages: tuple[Stage, ...]

    @property
    def start(self) -> date:
        return self.sow + timedelta(days=self.stages[0].day)

    @property
    def end(self) -> date:
        return self.sow + timedelta(days=self.stages[-1].day)

    def at(self, day: date) -> np.ndarray:
        t = (day - self.sow).days
        knots = [s.day for s in self.stages]
        return np.array(
            [np.interp(t, knots, [getattr(s, k) for s in self.stages]) for k in ("green", "water", "flower")]
        )


def cover_by_day(parts: Sequence[CropReference], season: int) -> tuple[list[date], np.ndarray]:
    """Daily (green, water, flower) fractions from 1 December of ``season - 1`` to 30 November of ``season``.

    Every part (one crop, or early then late rice) is sown in both years around the window; on each day the
    earliest-sown cycle still in the field holds it, a day held by none is fallow."""
    cycles = sorted(
        (_Cycle(sowing_middle(p, year), stages(p)) for p in parts for year in (season - 1, season)), key=lambda c: c.sow
    )
    days = [
        date(season - 1, 12, 1) + timedelta(days=i) for i in range((date(season, 12, 1) - date(season - 1, 12, 1)).days)
    ]
    fallow = np.array([FALLOW.green, FALLOW.water, FALLOW.flower])
    out = np.empty((len(days), 3))
    for i, day in enumerate(days):
        holder = next((c for c in cycles if c.start <= day <= c.end), None)
        out[i] = holder.at(day) if holder is not None else fallow
    return days, out


def monthly_cover(parts: Sequence[CropReference], season: int) -> np.ndarray:
    """(12, 3) month means of the cover fractions, row 0 = December of ``season - 1`` (the spectra tables' rows)."""
    days, cover = cover_by_day(parts, season)
    months = np.array([(d.month % 12) for d in days])  # December -> 0, January -> 1, ...
    return np.stack([cover[months == k].mean(axis=0) for k in range(12)])


def mix(cover: np.ndarray) -> np.ndarray:
    """(..., 10) reflectance of (..., 3) cover fractions over the endmembers; soil takes what is left."""
    green, water, flower = cover[..., 0:1], cover[..., 1:2], cover[..., 2:3]
    soil = np.clip(1.0 - green - water, 0.0, 1.0)
    e = {k: np.asarray(v) for k, v in ENDMEMBERS.items()}
    canopy = (1 - flower) * e["green"] + flower * e["flower"]
    return soil * e["soil"] + green * canopy + water * e["water"]


def crop_spectra(base: Spectra, crops: Mapping[str, CropReference], season: int, keep: Sequence[str] = ()) -> Spectra:
    """``base`` (its ``keep`` classes: the non-crop ones) plus a curve-built class mean per crop of ``crops``.

    The crops' within-class covariance is the mean of the base's crop covariances (the real samples' spread
    of a crop class around its mean), so curve-built classes overlap as much as real ones do."""
    missing = [k for k in keep if k not in base.mean]
    if missing:
        raise InvalidInput(f"the calibration tables have no class {missing}; restore data/sample_inputs/")
    real_crops = [c for c in base.cov if c not in keep]
    pooled = np.mean([base.cov[c] for c in real_crops], axis=0)
    mean = {k: base.mean[k] for k in keep}
    cov = {k: base.cov[k] for k in keep}
    for code, ref in crops.items():
        mean[code] = mix(monthly_cover((ref, *ref.later_seasons), season))
        cov[code] = pooled
    if mean and next(iter(mean.values())).shape != (12, len(ASSET_KEYS)):
        raise InvalidInput("spectra tables must be 12 months x 10 bands")
    return Spectra(mean, cov, base.temporal_rho)
