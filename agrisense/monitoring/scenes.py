"""Per-scene plot evidence: every clear Sentinel-2 scene of a plot, not its monthly composite.

Pure functions over arrays. :func:`plot_scene_stats` reduces one plot's per-scene NDVI pixels (NaN where the pixel
was not clear) and its pixel coverage weights to one row per scene: the clear share of the plot and the
area-weighted NDVI median of its clear pixels. :func:`stand_evidence` turns one plot's scenes up to a date into what
the warning rules need: how far the stand has greened, persistently (both ends of the rise are the
``PERSISTENCE``-th most extreme scene, never one scene alone), and the scene it greened up on.

Measured against the sample counties' truth (docs/performance.md, "Early warnings from every clear scene"): the
share of a plot's pixels that are green, and the same relative to the crop's neighbours on each scene, separate
failed from normal fields no better than the median: the generator draws a failed field as every pixel of its own
crop keeping a fifth of its green-up, so a normal field with a flat curve is flat in every pixel too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from agrisense.errors import InvalidInput
from agrisense.imagery.zonal import weighted_quantiles

MIN_CLEAR_SHARE = 0.6
"""A scene counts for a plot when at least this share of the plot's area is clear in it."""
PERSISTENCE = 2
"""Stand evidence is the ``PERSISTENCE``-th best clear scene: a single bright (or mis-masked) scene is no stand."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PlotScenes:
    """One plot's clear scenes in date order (equal-length arrays; one entry per scene)."""

    days: tuple[date, ...]
    clear_share: FloatArray  # share of the plot's area clear in the scene (0..1)
    ndvi_median: FloatArray  # area-weighted NDVI median of the clear pixels (NaN: none clear)

    def __post_init__(self) -> None:
        n = len(self.days)
        for name in ("clear_share", "ndvi_median"):
            if len(getattr(self, name)) != n:
                raise InvalidInput(f"PlotScenes.{name} has {len(getattr(self, name))} values for {n} scenes")
        if any(b <= a for a, b in zip(self.days, self.days[1:], strict=False)):
            raise InvalidInput("PlotScenes.days must be strictly increasing (one row per scene date)")

    def usable(self, as_of: date, min_clear: float = MIN_CLEAR_SHARE) -> npt.NDArray[np.bool_]:
        """Scenes up to ``as_of`` with at least ``min_clear`` of the plot clear."""
        on_time = np.array([d <= as_of for d in self.days], dtype=bool)
        return on_time & (self.clear_share >= min_clear) & np.isfinite(self.ndvi_median)


def plot_scene_stats(
    ndvi: npt.NDArray[np.floating], weights: npt.NDArray[np.floating], days: Sequence[date]
) -> PlotScenes:
    """One plot's per-scene statistics from ``ndvi`` (scenes, rows, cols; NaN where not clear) over its pixel
    coverage ``weights`` (rows, cols; share of each pixel inside the plot, as
    :func:`agrisense.imagery.zonal.plot_coverage` gives). Scenes are in ``days`` order (strictly increasing)."""
    cube = np.asarray(ndvi, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if cube.ndim != 3 or cube.shape[1:] != w.shape or cube.shape[0] != len(days):
        raise InvalidInput(
            f"ndvi {cube.shape} must be (scenes, rows, cols) matching weights {w.shape} and {len(days)} days"
        )
    total = float(w.sum())
    n = cube.shape[0]
    clear, median = np.zeros(n), np.full(n, np.nan)
    if total <= 0:
        return PlotScenes(tuple(days), clear, median)
    for t in range(n):
        ok = np.isfinite(cube[t]) & (w > 0)
        area = float(w[ok].sum())
        clear[t] = area / total
        if area > 0:
            median[t] = float(weighted_quantiles(cube[t][ok], w[ok], [0.5])[0])
    return PlotScenes(tuple(days), clear, median)


@dataclass(frozen=True)
class StandEvidence:
    """What a plot's clear scenes up to ``as_of`` say about its stand (NDVI medians of the usable scenes)."""

    as_of: date
    scenes: int  # usable clear scenes up to as_of
    low: float | None  # PERSISTENCE-th lowest scene NDVI (None: fewer than 2 x PERSISTENCE scenes)
    high: float | None  # PERSISTENCE-th highest scene NDVI
    green_date: date | None  # first of PERSISTENCE consecutive scenes half-way from the trough before the high up

    @property
    def rise(self) -> float | None:
        """How far the stand has greened: ``high - low`` (None: too few scenes)."""
        return None if self.low is None or self.high is None else self.high - self.low


def stand_evidence(plot: PlotScenes, as_of: date, *, persistence: int = PERSISTENCE) -> StandEvidence:
    """The stand seen in ``plot``'s usable scenes up to ``as_of``. Both ends of the rise are the
    ``persistence``-th most extreme scene (one bright or one hazy scene moves neither). Green-up is dated to the
    first of ``persistence`` consecutive scenes at least half-way from the trough before the high (the
    ``persistence``-th lowest scene up to the last one at the high) up to the high: an early-season greenness that
    fades before sowing is not the crop's green-up. Fewer than ``2 x persistence`` usable scenes: no rise."""
    if persistence < 1:
        raise InvalidInput(f"persistence must be >= 1, got {persistence}")
    ok = plot.usable(as_of)
    days = [d for d, keep in zip(plot.days, ok, strict=True) if keep]
    values = plot.ndvi_median[ok]
    if len(days) < 2 * persistence:
        return StandEvidence(as_of, len(days), None, None, None)
    ordered = np.sort(values)
    low, high = float(ordered[persistence - 1]), float(ordered[-persistence])
    top = int(np.flatnonzero(values >= high)[-1])  # the last scene at the high; green-up starts after its trough
    trough = float(np.sort(values[: top + 1])[min(persistence, top + 1) - 1])
    base = int(np.flatnonzero(values[: top + 1] <= trough)[-1])
    up = values >= trough + 0.5 * (high - trough)
    green_date = next(
        (days[i] for i in range(base, len(days) - persistence + 1) if high > trough and up[i : i + persistence].all()),
        None,
    )
    return StandEvidence(as_of, len(days), low, high, green_date)
