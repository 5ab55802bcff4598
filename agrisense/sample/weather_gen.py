"""Richardson-type daily weather generator with year-to-year variability.

Occurrence: first-order Markov chain per calendar month (p01, p11). Amounts: wet-day threshold plus a
gamma draw. Temperature: Tmean from the location's monthly climate, diurnal range from the station
(drier days have a wider range), bivariate AR(1) residuals. Interannual variability: each year draws a
wetness factor (lognormal) that scales occurrence and amounts, with its spread set so the annual-total
coefficient of variation matches the station's.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from agrisense.errors import InvalidInput
from agrisense.sample.inputs import WeatherParams

START = date(1991, 1, 1)
#: sd of the log year factor (as a fraction of the station CV); tuned by simulation so that the
#: generated annual-total CV is close to the station's (about 0.27)
YEAR_LOG_SD_FRACTION = 0.55


def generate_weather(rng: np.random.Generator, params: WeatherParams, end: date, start: date = START) -> pd.DataFrame:
    """Daily ``date, tmin_c, tmax_c, precip_mm`` from ``start`` to ``end`` inclusive."""
    if end <= start:
        raise InvalidInput(f"weather end {end} must be after start {start}; pick a later season.")
    days = pd.date_range(start, end, freq="D")
    n = len(days)
    month = days.month.to_numpy()
    year = days.year.to_numpy()
    m = params.monthly
    p01, p11 = m["p01"].to_numpy()[month - 1], m["p11"].to_numpy()[month - 1]
    shape, scale = m["gamma_shape"].to_numpy()[month - 1], m["gamma_scale"].to_numpy()[month - 1]

    years = np.unique(year)
    log_sd = YEAR_LOG_SD_FRACTION * params.station_annual_cv
    yfac = np.exp(rng.normal(-0.5 * log_sd**2, log_sd, len(years)))
    fac = yfac[np.searchsorted(years, year)]
    occ_fac, amt_fac = np.sqrt(fac), np.sqrt(fac)

    u = rng.random(n)
    wet = np.zeros(n, bool)
    prev = False
    p01f, p11f = np.clip(p01 * occ_fac, 0, 0.95), np.clip(p11 * occ_fac, 0, 0.98)
    for i in range(n):
        prev = u[i] < (p11f[i] if prev else p01f[i])
        wet[i] = prev
    amount = params.wet_day_mm + rng.gamma(shape, scale * amt_fac)
    precip = np.where(wet, amount, 0.0)

    # Temperature: AR(1) standardised residuals, correlated between tmax and tmin.
    e = rng.standard_normal((n, 2))
    c = params.corr_tmax_tmin
    e[:, 1] = c * e[:, 0] + np.sqrt(1 - c**2) * e[:, 1]
    z = np.empty((n, 2))
    z[0] = e[0]
    phi = np.array([params.ar1_tmax, params.ar1_tmin])
    for i in range(1, n):
        z[i] = phi * z[i - 1] + np.sqrt(1 - phi**2) * e[i]
    tmean = m["target_tmean_c"].to_numpy()[month - 1] - 0.3 * np.log1p(fac - 1 + 1e-9)
    dtr = np.where(wet, m["dtr_wet"].to_numpy()[month - 1], m["dtr_dry"].to_numpy()[month - 1])
    tmax = tmean + dtr / 2 + 0.6 * m["tmax_sd"].to_numpy()[month - 1] * z[:, 0]
    tmin = tmean - dtr / 2 + 0.6 * m["tmin_sd"].to_numpy()[month - 1] * z[:, 1]
    tmin = np.minimum(tmin, tmax - 0.5)
    return pd.DataFrame(
        {
            "date": days.strftime("%Y-%m-%d"),
            "tmin_c": np.round(tmin, 1),
            "tmax_c": np.round(tmax, 1),
            "precip_mm": np.round(precip, 1),
        }
    )
