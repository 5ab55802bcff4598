"""Land-surface phenology of one NDVI time series, TIMESAT-style: smooth, then thresholds of the seasonal amplitude.

The series (any spacing: monthly composites or single scenes) is interpolated linearly onto a daily grid and smoothed
with a Savitzky-Golay filter (Jönsson & Eklundh 2004, TIMESAT). The season is the largest rise of the smoothed
curve: its peak is the day the curve stands highest above its earlier minimum, its base that minimum. Start of
season (SOS) is the first day the rising curve passes ``base + start_share * amplitude``, end of season (EOS) the
first day after the peak it falls below ``base + end_share * amplitude``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy.signal import savgol_filter

from agrisense.errors import InvalidInput


@dataclass(frozen=True)
class Phenology:
    """Fitted season of one series (dates ``None`` where the series does not show them)."""

    first: date
    last: date
    n_observations: int
    start: date | None  # SOS: rising curve passes base + start_share * amplitude
    peak: date | None  # top of the season's rise
    end: date | None  # EOS: falling curve passes base + end_share * amplitude
    base_ndvi: float  # smoothed minimum before the peak
    peak_ndvi: float  # smoothed value at the peak
    last_ndvi: float  # smoothed value on the last observation day
    slope_per_10d: float  # smoothed change over the last 10 days of data
    noise: float  # RMS of observations minus smoothed curve
    peak_confirmed: bool  # the curve has fallen clearly after its maximum

    @property
    def amplitude(self) -> float:
        return self.peak_ndvi - self.base_ndvi


def clean_series(ndvi_by_date: Mapping[date, float], *, until: date | None = None) -> tuple[list[date], np.ndarray]:
    """Sorted dates and values with NaN dropped (and dates after ``until`` left out); bad values raise."""
    items = []
    for day, value in ndvi_by_date.items():
        if not isinstance(day, date):
            raise InvalidInput(f"NDVI series keys must be dates, got {day!r}; convert months with ndvi_dates().")
        v = float(value)
        if not np.isfinite(v):
            continue
        if not -1.0 <= v <= 1.0:
            raise InvalidInput(f"NDVI {v} on {day} is outside -1..1; pass NDVI, not scaled reflectance.")
        if until is None or day <= until:
            items.append((day, v))
    items.sort()
    return [d for d, _ in items], np.array([v for _, v in items], dtype=np.float64)


def smooth_daily(days: np.ndarray, values: np.ndarray, *, min_window: int = 31) -> np.ndarray:
    """Daily linear interpolation from the first to the last day, then a quadratic Savitzky-Golay filter.

    The window is ``min_window`` days or 1.5 median observation spacings, whichever is longer (odd, at most the
    series length), so monthly composites and 5-day scenes are smoothed to a similar degree.
    """
    grid = np.arange(days[0], days[-1] + 1)
    daily = np.interp(grid, days, values)
    spacing = float(np.median(np.diff(days))) if len(days) > 1 else 1.0
    window = max(min_window, int(1.5 * spacing)) | 1
    if window > len(grid):
        window = len(grid) if len(grid) % 2 else len(grid) - 1
    if window <= 3:
        return daily
    return np.asarray(savgol_filter(daily, window, 2, mode="interp"))


def fit_phenology(
    dates: list[date],
    values: np.ndarray,
    *,
    start_share: float = 0.2,
    end_share: float = 0.5,
    confirm_share: float = 0.15,
) -> Phenology:
    """Fit SOS / peak / EOS to a cleaned series (at least 2 observations; see ``clean_series``)."""
    if len(dates) < 2:
        raise InvalidInput("A phenology fit needs at least 2 clear observations.")
    first = dates[0]
    days = np.array([(d - first).days for d in dates], dtype=np.float64)
    smooth = smooth_daily(days, values)
    noise = float(np.sqrt(np.mean((values - smooth[days.astype(int)]) ** 2)))
    ip = int(np.argmax(smooth - np.minimum.accumulate(smooth)))  # the largest rise: a winter cover is not the crop
    base_i = int(np.argmin(smooth[: ip + 1]))
    base, peak = float(smooth[base_i]), float(smooth[ip])
    amp = peak - base
    start = end = None
    if amp > 0:
        rising = np.nonzero(smooth[base_i : ip + 1] >= base + start_share * amp)[0]
        start = first + timedelta(days=int(base_i + rising[0]))
        falling = np.nonzero(smooth[ip:] < base + end_share * amp)[0]
        if falling.size:
            end = first + timedelta(days=int(ip + falling[0]))
    last = len(smooth) - 1
    back = max(0, last - 10)
    slope = float(smooth[last] - smooth[back]) * (10.0 / (last - back)) if last > back else 0.0
    return Phenology(
        first=first,
        last=dates[-1],
        n_observations=len(dates),
        start=start,
        peak=first + timedelta(days=ip) if amp > 0 else None,
        end=end,
        base_ndvi=round(base, 4),
        peak_ndvi=round(peak, 4),
        last_ndvi=round(float(smooth[last]), 4),
        slope_per_10d=round(slope, 4),
        noise=round(noise, 4),
        peak_confirmed=amp > 0 and peak - float(smooth[last]) >= confirm_share * amp,
    )
