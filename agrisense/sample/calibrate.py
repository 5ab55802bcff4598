"""Derive the committed calibration tables in ``data/sample_inputs/`` from the real data.

Run ``agrisense sample calibrate --real DIR [--out DIR]`` once (or set ``AGRISENSE_REAL_DATA_DIR``); the
build only reads the tables. Sources (see PROVENANCE.md of the real data): WorldCereal sample spectra, real field
parcels, Hyderabad daily station weather and AgERA5 monthly weather of the East Africa samples.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from agrisense.errors import InvalidInput
from agrisense.resources import source_root
from agrisense.sample.bands import ASSET_KEYS, S2_NAMES
from agrisense.sample.inputs import real_data_dir

#: synthetic class -> (region, labels in the WorldCereal sample table)
CLASS_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "maize": ("east_africa_2017", ("maize",)),
    "sorghum": ("east_africa_2017", ("sorghum",)),
    "groundnut": ("east_africa_2017", ("other_oilseeds",)),
    "beans": ("east_africa_2017", ("dry_pulses_legumes",)),
    "trees": ("east_africa_2017", ("trees_mixed",)),
    "grassland": ("east_africa_2017", ("herbaceous_vegetation", "grasslands")),
    "built_up": ("east_africa_2017", ("built_up",)),
    "water": ("flanders_2021", ("open_water",)),
}
POOL_CLASSES = ("maize", "sorghum", "groundnut", "beans", "trees")
SHRINK_N0 = 20.0  # prior weight (in samples) of the pooled covariance
AFRICAN_PARCELS = ("kenya", "tanzania", "mali", "burkina")
#: Sudano-Sahelian savanna sorghum/millet systems: the closest analogue of northern Uganda's farmland.
SAVANNA_PARCELS = ("mali", "burkina")
#: Climate target: East Africa samples in the northern-Uganda latitude band of the sample county.
TARGET_LAT = (1.5, 4.0)
WET_DAY_MM = 1.0


def _monthly_cube(rows: pd.DataFrame) -> np.ndarray:
    """(samples, 12 months, 10 bands) reflectance in [0, 1], NaN where missing."""
    cols = [[f"{b}_m{m:02d}" for b in S2_NAMES] for m in range(12)]
    cube = np.stack([rows[c].to_numpy(dtype=float) for c in cols], axis=1)
    return cube / 10000.0


def _fill_circular(mean: np.ndarray) -> np.ndarray:
    """Fill NaN months of a (12, bands) table by circular linear interpolation."""
    out = mean.copy()
    x = np.arange(12)
    for b in range(out.shape[1]):
        ok = np.isfinite(out[:, b])
        if ok.all() or not ok.any():
            continue
        xp = np.concatenate([x[ok] - 12, x[ok], x[ok] + 12])
        fp = np.tile(out[ok, b], 3)
        out[~ok, b] = np.interp(x[~ok], xp, fp)
    return out


def spectra_tables(samples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-class monthly mean, shrunk within-class covariance, and per-class metadata tables."""
    means: dict[str, np.ndarray] = {}
    devs: dict[str, np.ndarray] = {}
    nsamp: dict[str, int] = {}
    for cls, (region, labels) in CLASS_SOURCES.items():
        rows = samples[(samples["region"] == region) & samples["label"].isin(labels)]
        cube = _monthly_cube(rows)
        if cls == "water":
            # The two Flanders "open_water" samples are mixed pixels (NIR 0.12-0.44: vegetated banks).
            # Keep their visible / red-edge-1 level (10th percentile) and set NIR/SWIR to pure-water
            # absorption (invented, documented): water reflects almost nothing beyond 0.75 um.
            low = np.nanpercentile(cube.reshape(-1, 10), 10, axis=0)
            low[4:] = [0.012, 0.010, 0.009, 0.009, 0.006, 0.004]
            cube = np.broadcast_to(low, (1, 12, 10)).copy()
        mean = _fill_circular(np.nanmean(cube, axis=0)) if len(rows) else np.full((12, 10), np.nan)
        b8a = S2_NAMES.index("B8A")
        if np.isnan(mean[:, b8a]).all():
            mean[:, b8a] = mean[:, S2_NAMES.index("B08")]
        means[cls] = mean
        devs[cls] = cube - mean[None]
        nsamp[cls] = len(rows)

    def _cov(d: np.ndarray) -> tuple[np.ndarray, int]:
        flat = d.reshape(-1, 10)
        flat = flat[np.isfinite(flat).all(axis=1)]
        return np.cov(flat, rowvar=False), len(flat)

    weights = np.array([nsamp[c] for c in POOL_CLASSES], dtype=float)
    pooled = np.tensordot(weights / weights.sum(), np.stack([_cov(devs[c])[0] for c in POOL_CLASSES]), axes=1)
    mean_rows: list[dict[str, object]] = []
    cov_rows: list[dict[str, object]] = []
    meta_rows: list[dict[str, object]] = []
    lag1 = []
    for cls in CLASS_SOURCES:
        n = nsamp[cls]
        if cls == "water" or n < 2:
            scale = 0.05 if cls == "water" else 0.5
            cov, w = np.asarray(pooled) * scale, 0.0
        else:
            own, _ = _cov(devs[cls])
            w = n / (n + SHRINK_N0)
            cov = w * own + (1 - w) * pooled
        if cls in POOL_CLASSES:
            d = devs[cls]
            a, b = d[:, :-1].reshape(-1, 10), d[:, 1:].reshape(-1, 10)
            ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
            lag1.append(np.mean([np.corrcoef(a[ok, k], b[ok, k])[0, 1] for k in range(10)]))
        for m in range(12):
            for k, key in enumerate(ASSET_KEYS):
                mean_rows.append(
                    {
                        "cls": cls,
                        "month_index": m,
                        "month": (m + 11) % 12 + 1,
                        "band": key,
                        "mean": round(float(means[cls][m, k]), 5),
                    }
                )
        for i, ki in enumerate(ASSET_KEYS):
            for j, kj in enumerate(ASSET_KEYS):
                cov_rows.append({"cls": cls, "band_i": ki, "band_j": kj, "cov": float(f"{cov[i, j]:.6g}")})
        meta_rows.append({"cls": cls, "n_samples": n, "own_cov_weight": round(w, 3)})
    meta = pd.DataFrame(meta_rows)
    meta["temporal_rho"] = round(float(np.mean(lag1)), 3)
    return pd.DataFrame(mean_rows), pd.DataFrame(cov_rows), meta


def _shape_stats(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    geod = Geod(ellps="WGS84")
    area = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in gdf.geometry]) / 1e4
    utm = gdf.to_crs(gdf.estimate_utm_crs())
    geoms = utm.geometry.to_numpy()
    mrr = shapely.oriented_envelope(geoms)
    coords = [np.asarray(r.exterior.coords) for r in mrr]
    sides = np.array([sorted(np.hypot(*np.diff(c[:3], axis=0).T)) for c in coords])
    elong = sides[:, 1] / np.maximum(sides[:, 0], 1e-6)
    compact = 4 * np.pi * shapely.area(geoms) / shapely.length(geoms) ** 2
    rect = shapely.area(geoms) / np.maximum(shapely.area(mrr), 1e-9)
    return pd.DataFrame({"area_ha": area, "elongation": elong, "compactness": compact, "rectangularity": rect})


def field_shape_table(parcel_dir: Path) -> pd.DataFrame:
    """Per-source and pooled-African statistics of real parcel size and shape."""
    rows = []
    pooled, savanna = [], []
    for path in sorted(parcel_dir.glob("*.geojson")):
        stats = _shape_stats(gpd.read_file(path))
        stats = stats[stats["area_ha"] > 0.01]
        if any(k in path.stem for k in AFRICAN_PARCELS):
            pooled.append(stats)
        if any(k in path.stem for k in SAVANNA_PARCELS):
            savanna.append(stats)
        rows.append(_summary(path.stem, stats))
    rows.append(_summary("pooled_africa", pd.concat(pooled)))
    rows.append(_summary("savanna_africa", pd.concat(savanna)))
    return pd.DataFrame(rows)


def _summary(name: str, s: pd.DataFrame) -> dict[str, float | str | int]:
    la, le = np.log(s["area_ha"]), np.log(s["elongation"])
    q = np.percentile(s["area_ha"], [10, 25, 50, 75, 90])
    return {
        "source": name,
        "n": len(s),
        "area_p10": q[0],
        "area_p25": q[1],
        "area_p50": q[2],
        "area_p75": q[3],
        "area_p90": q[4],
        "area_max": s["area_ha"].max(),
        "log_area_mu": la.mean(),
        "log_area_sigma": la.std(),
        "elong_p50": s["elongation"].median(),
        "elong_p90": s["elongation"].quantile(0.9),
        "log_elong_mu": le.mean(),
        "log_elong_sigma": le.std(),
        "compactness_p50": s["compactness"].median(),
        "rectangularity_p50": s["rectangularity"].median(),
    }


def weather_tables(station_csv: Path, samples: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Richardson-type parameters fitted on the station, mapped to the location's monthly climate."""
    wx = pd.read_csv(station_csv, parse_dates=["date"])
    wx["month"] = wx["date"].dt.month
    wet = wx["precip_mm"] >= WET_DAY_MM
    prev_wet = wet.shift(1, fill_value=False)
    src = []
    for m in range(1, 13):
        sel = wx["month"] == m
        n_years = wx.loc[sel, "date"].dt.year.nunique()
        amounts = wx.loc[sel & wet, "precip_mm"] - WET_DAY_MM
        mu, var = amounts.mean(), amounts.var()
        shape = float(np.clip(mu**2 / var, 0.3, 3.0)) if len(amounts) > 5 else 0.7
        src.append(
            {
                "src_month": m,
                "src_total_mm": wx.loc[sel, "precip_mm"].sum() / n_years,
                "p01": float((sel & wet & ~prev_wet).sum() / max((sel & ~prev_wet).sum(), 1)),
                "p11": float((sel & wet & prev_wet).sum() / max((sel & prev_wet).sum(), 1)),
                "gamma_shape": shape,
                "dtr_dry": float((wx.loc[sel & ~wet, "tmax_c"] - wx.loc[sel & ~wet, "tmin_c"]).mean()),
                "dtr_wet": float((wx.loc[sel & wet, "tmax_c"] - wx.loc[sel & wet, "tmin_c"]).mean())
                if (sel & wet).sum() > 5
                else np.nan,
                "tmax_sd": float(wx.loc[sel, "tmax_c"].std()),
                "tmin_sd": float(wx.loc[sel, "tmin_c"].std()),
            }
        )
    src_df = pd.DataFrame(src)
    src_df["dtr_wet"] = src_df["dtr_wet"].fillna(src_df["dtr_dry"] - 2.0)
    # AR(1) on standardised daily temperature anomalies (monthly mean removed), pooled over the year.
    z = wx[["tmax_c", "tmin_c"]] - wx.groupby("month")[["tmax_c", "tmin_c"]].transform("mean")
    z = z / wx.groupby("month")[["tmax_c", "tmin_c"]].transform("std")
    ar_tmax = float(z["tmax_c"].autocorr(1))
    ar_tmin = float(z["tmin_c"].autocorr(1))
    cross = float(np.corrcoef(z["tmax_c"], z["tmin_c"])[0, 1])
    annual = wx.groupby(wx["date"].dt.year)["precip_mm"].sum()
    annual_cv = float(annual.std() / annual.mean())

    ea = samples[(samples["region"] == "east_africa_2017") & samples["lat"].between(*TARGET_LAT)]
    tgt_p = np.array([ea[f"precip_mm_m{m:02d}"].mean() for m in range(12)])
    tgt_t = np.array([ea[f"tmean_c_m{m:02d}"].mean() for m in range(12)])
    # month index 0 = December -> calendar month
    cal = [(m + 11) % 12 + 1 for m in range(12)]
    target = pd.DataFrame({"month": cal, "target_precip_mm": tgt_p, "target_tmean_c": tgt_t}).sort_values("month")
    # Rank-matched analogue: the k-th wettest target month borrows the k-th wettest station month.
    order_t = target["target_precip_mm"].rank(method="first").astype(int).to_numpy()
    src_sorted = src_df.sort_values("src_total_mm", kind="stable").reset_index(drop=True)
    rows = []
    for (_, t), r in zip(target.iterrows(), order_t, strict=True):
        s = src_sorted.iloc[r - 1]
        days = pd.Timestamp(2001, int(t["month"]), 1).days_in_month
        # Station occurrence, rescaled: the wet-day frequency takes the square root of the total ratio
        # (the amount takes the rest); the Markov persistence d = p11 - p01 stays the station's.
        d = float(np.clip(s["p11"] - s["p01"], 0.0, 0.9))
        pi_src = s["p01"] / (1 - d) if d < 1 else s["p01"]
        ratio = t["target_precip_mm"] / max(s["src_total_mm"], 1.0)
        pi_wet = float(np.clip(pi_src * np.sqrt(ratio), 0.01, 0.85))
        p01, p11 = pi_wet * (1 - d), pi_wet * (1 - d) + d
        exp_wet_days = max(pi_wet * days, 0.3)
        mean_amount = max(t["target_precip_mm"] / exp_wet_days - WET_DAY_MM, 0.5)
        rows.append(
            {
                "month": int(t["month"]),
                "analogue_station_month": int(s["src_month"]),
                "target_precip_mm": round(float(t["target_precip_mm"]), 2),
                "target_tmean_c": round(float(t["target_tmean_c"]), 2),
                "p01": round(float(p01), 4),
                "p11": round(float(p11), 4),
                "gamma_shape": round(float(s["gamma_shape"]), 4),
                "gamma_scale": round(float(mean_amount / s["gamma_shape"]), 4),
                "dtr_dry": round(float(s["dtr_dry"]), 3),
                "dtr_wet": round(float(s["dtr_wet"]), 3),
                "tmax_sd": round(float(s["tmax_sd"]), 3),
                "tmin_sd": round(float(s["tmin_sd"]), 3),
            }
        )
    params = pd.DataFrame(rows)
    scalars = {
        "wet_day_mm": WET_DAY_MM,
        "ar1_tmax": round(ar_tmax, 4),
        "ar1_tmin": round(ar_tmin, 4),
        "corr_tmax_tmin": round(cross, 4),
        "station_annual_cv": round(annual_cv, 4),
        "station_annual_mean_mm": round(float(annual.mean()), 1),
    }
    return params, scalars


def write_calibration_tables(real: Path | None = None, out: Path | None = None) -> Path:
    """Write every calibration table from the real data (``real``, default ``AGRISENSE_REAL_DATA_DIR``) to ``out``
    (default: ``data/sample_inputs`` of the source checkout); returns the folder written."""
    warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
    real = real_data_dir(real)
    if out is None:
        root = source_root()
        if root is None:
            raise InvalidInput("pass --out DIR: the installed package's bundled tables are read-only")
        out = root / "data" / "sample_inputs"
    out.mkdir(parents=True, exist_ok=True)
    samples = pd.read_parquet(real / "crop_samples" / "dev_samples.parquet")
    mean, cov, meta = spectra_tables(samples)
    mean.to_csv(out / "spectra_monthly_mean.csv", index=False)
    cov.to_csv(out / "spectra_covariance.csv", index=False)
    meta.to_csv(out / "spectra_classes.csv", index=False)
    field_shape_table(real / "parcels").round(4).to_csv(out / "field_shapes.csv", index=False)
    params, scalars = weather_tables(real / "weather" / "hyderabad_in_2000_2010.csv", samples)
    params.to_csv(out / "weather_monthly_params.csv", index=False)
    (out / "weather_scalars.json").write_text(json.dumps(scalars, indent=2) + "\n")
    return out
