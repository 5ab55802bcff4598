"""Render Sentinel-2 L2A-like scenes: surface, patchy growth, mixed edges, haze, clouds, shadows, SCL.

All arrays are computed on the 10 m grid; the 20 m bands are 2x2 means and SCL is classified on the
20 m grid from 20 m quantities, as the real processor does. SCL is deliberately imperfect: thin cloud
edges below a per-scene threshold are missed and the shadow mask is projected with a small offset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
from scipy import ndimage

from agrisense.sample import bands as B
from agrisense.sample.grid import smooth_field
from agrisense.sample.signatures import SignatureModel

TEN_M = [B.BAND_INDEX[k] for k in ("blue", "green", "red", "nir")]
TWENTY_M = [B.BAND_INDEX[k] for k in ("rededge1", "rededge2", "rededge3", "nir08", "swir16", "swir22")]
#: haze (path radiance) spectral weights: strongest in blue, nearly none in SWIR
HAZE_WEIGHTS = np.array([1.0, 0.8, 0.62, 0.5, 0.44, 0.4, 0.35, 0.33, 0.1, 0.05])
#: spectrum of a thick cloud top (reflectance)
CLOUD_SPECTRUM = np.array([0.52, 0.53, 0.55, 0.56, 0.57, 0.58, 0.59, 0.59, 0.47, 0.36])
PSF_SIGMA_PX = 0.45  # blur at 10 m: mixed pixels at field edges
SENSOR_NOISE = 0.003
PLATFORMS = ("sentinel-2a", "sentinel-2b", "sentinel-2c")
PLATFORM_P = (0.15, 0.45, 0.40)
BOA_FALSE_SHARE = 0.2
SWATH_EDGE_SHARE = 0.08
OBJ_CODES = {
    "grassland": 0,
    "trees": 1,
    "built_up": 2,
    "water": 3,
    "maize": 4,
    "sorghum": 5,
    "groundnut": 6,
    "beans": 7,
}
OTHER_CROP_CODE = 8  # a crop of another region's profile (only water and built-up codes change the SCL)


@dataclass(frozen=True)
class SceneSpec:
    """What one acquisition looks like, drawn before rendering."""

    day: date
    time_utc: str  # "HH:MM:SS.ffffff"
    platform: str
    cloud_target: float  # wanted fraction of the region under cloud
    haze: float  # peak haze reflectance in blue
    cirrus: float  # peak thin-cirrus opacity
    nodata_edge: bool  # the region straddles the edge of the orbit swath
    boa_offset_applied: bool
    processing_baseline: str
    seed: int


@dataclass(frozen=True)
class SceneArrays:
    """Encoded scene: DNs of the 10 m and 20 m bands, SCL at 20 m, and what was actually rendered."""

    dn: dict[str, np.ndarray]  # asset key -> uint16 array
    scl: np.ndarray  # uint8 (H/2, W/2)
    cloud_fraction: float


@dataclass(frozen=True)
class RenderContext:
    """Static per-pixel inputs shared by every scene."""

    obj: np.ndarray  # (H, W) int32 object index
    code: np.ndarray  # (H, W) uint8 class code (OBJ_CODES)
    veg_factor: np.ndarray  # (H, W) float32 multiplicative vegetation factor (patchy growth)
    texture: np.ndarray  # (H, W) float32 small static brightness texture


def plan_scenes(
    rng: np.random.Generator,
    season: int,
    interval: tuple[int, int],
    rain_mm: dict[date, float],
    max_scenes: int | None = None,
) -> list[SceneSpec]:
    """Acquisitions from ``season``-03-01 to ``season``-11-30 every ``interval`` days (random gaps).

    Cloudiness follows the generated weather: rainy days and the wet season are cloudier.
    """
    day, end = date(season, 3, 1), date(season, 11, 30)
    out: list[SceneSpec] = []
    while day <= end and (max_scenes is None or len(out) < max_scenes):
        rain = sum(rain_mm.get(day - timedelta(days=k), 0.0) for k in range(2))
        wet_season = 4 <= day.month <= 10
        p_heavy = 0.04 + (0.07 if wet_season else 0.0) + (0.15 if rain > 5 else 0.0)
        p_clear = 0.6 if not wet_season else 0.3
        u = rng.random()
        if u < p_heavy:
            cover = rng.uniform(0.85, 0.99)
        elif u < p_heavy + p_clear:
            cover = rng.uniform(0.0, 0.03)
        else:
            cover = rng.uniform(0.08, 0.6)
        minute, second, micro = rng.integers(10, 20), rng.integers(0, 60), rng.integers(0, 10**6)
        out.append(
            SceneSpec(
                day=day,
                time_utc=f"08:{minute:02d}:{second:02d}.{micro:06d}",
                platform=str(rng.choice(PLATFORMS, p=PLATFORM_P)),
                cloud_target=float(cover),
                haze=float(rng.gamma(2.0, 0.012) if rng.random() < 0.7 else 0.0),
                cirrus=float(rng.uniform(0.04, 0.2) if rng.random() < 0.25 else 0.0),
                nodata_edge=False,
                boa_offset_applied=True,
                processing_baseline="05.11" if rng.random() < 0.85 else "05.10",
                seed=int(rng.integers(0, 2**31)),
            )
        )
        day += timedelta(days=int(rng.integers(interval[0], interval[1] + 1)))
    # A seeded minority (BOA_FALSE_SHARE, at least one when there are 3+ scenes) lacks the BOA offset.
    n_false = int(round(BOA_FALSE_SHARE * len(out)))
    for i in rng.choice(len(out), size=n_false, replace=False) if n_false else []:
        out[int(i)] = replace(out[int(i)], boa_offset_applied=False)
    # A few scenes (SWATH_EDGE_SHARE) catch the region at the edge of the orbit's swath.
    n_edge = int(round(SWATH_EDGE_SHARE * len(out)))
    for i in rng.choice(len(out), size=n_edge, replace=False) if n_edge else []:
        out[int(i)] = replace(out[int(i)], nodata_edge=True)
    return out


def make_context(rng: np.random.Generator, obj: np.ndarray, model: SignatureModel) -> RenderContext:
    """Patchy-growth factor (spatially correlated, per-object amplitude) and texture."""
    shape = obj.shape
    fine = 0.7 * smooth_field(rng, shape, 8.0) + 0.5 * smooth_field(rng, shape, 2.5, coarse=1)
    fine /= np.sqrt(0.7**2 + 0.5**2)
    broad = 0.8 * smooth_field(rng, shape, 30.0) + 0.6 * smooth_field(rng, shape, 4.0)
    is_crop = model.table.field_index >= 0
    f = np.where(is_crop[obj], fine, broad / np.sqrt(0.8**2 + 0.6**2))
    amp = model.table.patchiness.astype(np.float32)[obj]
    veg = np.clip(np.exp(amp * f - 0.5 * amp**2), 0.15, 1.8).astype(np.float32)
    texture = (0.02 * smooth_field(rng, shape, 1.5, coarse=1)).astype(np.float32)
    codes = np.array([OBJ_CODES.get(str(c), OTHER_CROP_CODE) for c in model.table.cls], dtype=np.uint8)
    return RenderContext(obj, codes[obj], veg, texture)


def _surface(spec: SceneSpec, ctx: RenderContext, model: SignatureModel) -> np.ndarray:
    green, bare = model.at(spec.day)
    out = np.empty((10, *ctx.obj.shape), dtype=np.float32)
    for b in range(10):
        g = green[:, b].astype(np.float32)[ctx.obj]
        s = bare[:, b].astype(np.float32)[ctx.obj]
        band = (s + ctx.veg_factor * (g - s)) * (1.0 + ctx.texture)
        out[b] = ndimage.gaussian_filter(band, PSF_SIGMA_PX, mode="nearest")
    return out


def _cloud_opacity(rng: np.random.Generator, shape: tuple[int, int], target: float) -> np.ndarray:
    """Opacity in [0, 1] whose share above 0.5 is about ``target``; soft edges."""
    if target <= 0.0:
        return np.zeros(shape, np.float32)
    scale = rng.uniform(15, 45) * max(shape) / 1000 + 6
    f = smooth_field(rng, shape, scale) + 0.35 * smooth_field(rng, shape, scale / 5)
    thr = np.quantile(f, 1.0 - target)
    soft = 0.35 * f.std()
    return np.clip((f - thr) / soft + 0.5, 0.0, 1.0).astype(np.float32)


def render_scene(spec: SceneSpec, ctx: RenderContext, model: SignatureModel) -> SceneArrays:
    """Surface -> haze -> shadows -> clouds -> noise -> DN; SCL on the 20 m grid."""
    rng = np.random.default_rng(spec.seed)
    shape = ctx.obj.shape
    refl = _surface(spec, ctx, model)
    if spec.haze > 0:
        haze = spec.haze * np.clip(1.0 + 0.5 * smooth_field(rng, shape, 300.0), 0.1, None)
        refl += HAZE_WEIGHTS[:, None, None].astype(np.float32) * haze[None]
    alpha = _cloud_opacity(rng, shape, spec.cloud_target)
    dy, dx = (int(v) for v in rng.integers(8, 30, 2) * np.array([1, -1]))
    shadow_alpha = np.roll(alpha, (dy, dx), axis=(0, 1))
    shade = 1.0 - 0.65 * shadow_alpha * (1.0 - alpha)
    cirrus = np.zeros(shape, np.float32)
    if spec.cirrus > 0:
        cirrus = (spec.cirrus * np.clip(smooth_field(rng, shape, 150.0) + 0.5, 0, 2) / 2).astype(np.float32)
    brightness = rng.uniform(0.8, 1.15)
    total_alpha = np.clip(alpha + cirrus, 0, 1)
    for b in range(10):
        cloud_b = np.float32(CLOUD_SPECTRUM[b] * brightness)
        refl[b] = refl[b] * shade * (1 - total_alpha) + cloud_b * total_alpha
        refl[b] += rng.normal(0, SENSOR_NOISE, shape).astype(np.float32)
    valid = np.ones(shape, bool)
    if spec.nodata_edge:
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        cut = rng.uniform(0.2, 0.6) * shape[1]
        valid = xx + 0.3 * yy > cut + 0.3 * shape[0] if rng.random() < 0.5 else xx + 0.3 * yy < cut
    offset = 0 if spec.boa_offset_applied else 1000
    dn: dict[str, np.ndarray] = {}
    refl20 = refl.reshape(10, shape[0] // 2, 2, shape[1] // 2, 2).mean(axis=(2, 4))
    valid20 = valid[::2, ::2]
    for b, band in enumerate(B.BANDS):
        arr, ok = (refl[b], valid) if band.resolution == 10 else (refl20[b], valid20)
        d = np.clip(np.rint(arr * 10000.0) + offset, 1, 32767).astype(np.uint16)
        d[~ok] = 0
        dn[band.asset] = d
    scl = _classify(rng, refl20, alpha, cirrus, shadow_alpha, ctx, spec, (dy, dx))
    scl[~valid20] = B.SCL_NODATA
    return SceneArrays(dn, scl, float((alpha[valid] > 0.5).mean()) if valid.any() else 0.0)


def _down(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))


def _classify(
    rng: np.random.Generator,
    refl20: np.ndarray,
    alpha: np.ndarray,
    cirrus: np.ndarray,
    shadow_alpha: np.ndarray,
    ctx: RenderContext,
    spec: SceneSpec,
    shift: tuple[int, int],
) -> np.ndarray:
    """Scene classification at 20 m, with the processor's typical misses."""
    a20, c20 = _down(alpha), _down(cirrus)
    red, nir = refl20[B.BAND_INDEX["red"]], refl20[B.BAND_INDEX["nir"]]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-4)
    water = _down((ctx.code == 3).astype(np.float32)) > 0.5
    scl = np.where(ndvi > 0.33, B.SCL_VEG, B.SCL_BARE).astype(np.uint8)
    scl[water & (nir < 0.08)] = B.SCL_WATER
    # Shadow mask projected with a small geometric error (misplaced, partly missed).
    err = rng.integers(-3, 4, 2)
    sh = np.roll(alpha, (shift[0] + int(err[0]), shift[1] + int(err[1])), axis=(0, 1))
    scl[(_down(sh) > 0.55) & (a20 < 0.3)] = B.SCL_SHADOW
    scl[(c20 > 0.08) & (a20 < 0.3)] = B.SCL_CIRRUS
    missed = rng.uniform(0.2, 0.4)  # thin cloud edges below this opacity are not flagged
    scl[a20 > missed] = B.SCL_CLOUD_MEDIUM
    scl[a20 > 0.75] = B.SCL_CLOUD_HIGH
    # Commission errors: bright built-up surfaces are partly flagged as medium-probability cloud.
    built = _down((ctx.code == 2).astype(np.float32)) > 0.5
    false_cloud = built & (smooth_field(rng, scl.shape, 3.0, coarse=1) > rng.uniform(0.3, 1.5))
    scl[false_cloud & (scl != B.SCL_CLOUD_HIGH)] = B.SCL_CLOUD_MEDIUM
    specks = smooth_field(rng, scl.shape, 1.5, coarse=1) > 3.0
    scl[specks] = B.SCL_UNCLASSIFIED
    return scl
