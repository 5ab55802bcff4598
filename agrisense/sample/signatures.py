"""Per-object spectral-temporal signatures calibrated on the real WorldCereal samples.

Each object (field or non-crop patch) draws its own deviation from its class's monthly mean spectrum:
12 monthly 10-band vectors from the class's (shrunk) within-class covariance, AR(1)-correlated across
months with the lag-1 correlation measured on the samples. A field's curve is time-warped by its
sowing date relative to the class's mean calendar and interpolated to any date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from agrisense.sample.inputs import CROPS, Spectra

#: months of the sample table whose class mean is the dry-season (bare / pre-sowing) state: Feb-Apr
BARE_MONTHS = (2, 3, 4)
FAILED_GREEN = 0.2  # a failed field keeps this share of its crop's seasonal greening (weeds, stunted crop)


@dataclass(frozen=True)
class ObjectTable:
    """Everything the renderer needs per object; index 0..n-1 matches the object raster."""

    cls: np.ndarray  # str class name
    field_index: np.ndarray  # int, -1 for non-crop
    shift_days: np.ndarray  # float: sowing date minus the class's reference sowing date
    failed: np.ndarray  # bool
    deviation: np.ndarray  # (n, 12, 10) reflectance deviations from the class mean
    patchiness: np.ndarray  # (n,) sd of the within-object log vegetation factor

    def __len__(self) -> int:
        return len(self.cls)


def draw_deviations(rng: np.random.Generator, spectra: Spectra, cls: np.ndarray) -> np.ndarray:
    """(n, 12, 10) AR(1)-in-time multivariate-normal deviations from each class's covariance."""
    n = len(cls)
    z = rng.standard_normal((n, 12, 10))
    rho = spectra.temporal_rho
    for m in range(1, 12):
        z[:, m] = rho * z[:, m - 1] + np.sqrt(1 - rho**2) * z[:, m]
    out = np.empty_like(z)
    for c in np.unique(cls):
        sel = cls == c
        chol = np.linalg.cholesky(spectra.cov[str(c)] + 1e-9 * np.eye(10))
        out[sel] = z[sel] @ chol.T
    return out


def month_position(day: date, season: int) -> float:
    """Fractional index into the 12-month table (0 = mid-December of ``season - 1``)."""
    return (day - date(season - 1, 12, 1)).days / 30.4375 - 0.5


def _interp_months(table: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Circular linear interpolation of (..., 12, bands) tables at per-object positions ``pos`` (n,)."""
    p = np.mod(pos, 12.0)
    i0 = np.floor(p).astype(int)
    w = (p - i0)[:, None]
    i1 = (i0 + 1) % 12
    idx = np.arange(table.shape[0])
    return table[idx, i0] * (1 - w) + table[idx, i1] * w


@dataclass(frozen=True)
class SignatureModel:
    """Class means stacked per object, ready to evaluate at any date."""

    table: ObjectTable
    curves: np.ndarray  # (n, 12, 10) class mean + own deviation
    bare: np.ndarray  # (n, 10) dry-season spectrum of each object
    season: int

    def at(self, day: date) -> tuple[np.ndarray, np.ndarray]:
        """(green, bare) spectra (n, 10) of every object on ``day``."""
        pos = month_position(day, self.season) - self.table.shift_days / 30.4375
        green = _interp_months(self.curves, pos)
        f = self.table.failed
        green[f] = self.bare[f] + FAILED_GREEN * (green[f] - self.bare[f])
        return np.clip(green, 0.001, 0.95), self.bare


def build_signatures(
    rng: np.random.Generator,
    spectra: Spectra,
    table_cls: np.ndarray,
    field_index: np.ndarray,
    shift_days: np.ndarray,
    failed: np.ndarray,
    season: int,
    crops: Sequence[str] = CROPS,
    bare_months: Mapping[str, tuple[int, ...]] | None = None,
) -> SignatureModel:
    """Draw per-object deviations and patchiness, and stack the class means.

    An object's bare spectrum is the mean of its curve over its class's ``bare_months`` (calendar months; default
    ``BARE_MONTHS``, the dry season, for every class)."""
    dev = draw_deviations(rng, spectra, table_cls)
    means = np.stack([spectra.mean[str(c)] for c in table_cls])
    curves = np.clip(means + dev, 0.001, 0.95)
    bare = np.empty((len(table_cls), curves.shape[2]))
    for c in np.unique(table_cls):
        sel = table_cls == c
        months = (bare_months or {}).get(str(c), BARE_MONTHS)
        bare[sel] = curves[sel][:, [m % 12 for m in months]].mean(axis=1)  # calendar month m -> row m % 12
    is_crop = np.isin(table_cls, crops)
    patchiness = np.where(is_crop, rng.uniform(0.08, 0.35, len(table_cls)), rng.uniform(0.15, 0.35, len(table_cls)))
    table = ObjectTable(table_cls, field_index, shift_days, failed, dev, patchiness)
    return SignatureModel(table, curves, bare, season)
