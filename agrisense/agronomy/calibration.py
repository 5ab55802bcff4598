"""Yield calibration against observed yields: trend + season-weather regression, leave-years-out validation.

The table is one row per region-year-crop: columns ``region, year, crop, yield_t_ha`` and optional predictor
columns (e.g. the season indices of :func:`season_indices`). Per region-crop the model is

    yield = a + b (year - year0) [+ c (year - year0)^2] + sum_k beta_k x_k

fitted by least squares (ridge penalty ``ridge`` on the standardised weather predictors only). Validation
holds out whole years (one at a time, or contiguous blocks); the trend and every coefficient are fitted on the
training years only, so nothing of a held-out year leaks into its prediction.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from agrisense.agronomy.calendar import CropReference
from agrisense.agronomy.parameters import DEFAULT_WEATHER_PARAMETERS, WeatherRiskParameters
from agrisense.agronomy.weather import weather_risk
from agrisense.errors import InvalidInput, NotFound

TABLE_COLUMNS = ("region", "year", "crop", "yield_t_ha")
SEASON_INDICES = ("spi_short", "spi_long", "heat_days", "frost_days", "harvest_rain_mm", "weather_loss")
Scheme = Literal["loyo", "blocked"]

# USDA NASS units -> t/ha (bushel weights: corn and sorghum 56 lb, soybean and wheat 60 lb, barley 48 lb).
BUSHEL_T_HA = {"corn": 0.0628, "sorghum": 0.0628, "soybean": 0.0673, "wheat": 0.0673, "barley": 0.0538}
LB_ACRE_T_HA = 0.00112085


def validate_yield_table(table: pd.DataFrame, predictors: Sequence[str] = ()) -> pd.DataFrame:
    """Check a region-year yield table: required columns, numbers, one row per region-crop-year."""
    missing = [c for c in (*TABLE_COLUMNS, *predictors) if c not in table.columns]
    if missing:
        raise InvalidInput(
            f"yield table: missing column(s) {', '.join(missing)}; need {', '.join(TABLE_COLUMNS)} "
            "and every predictor named"
        )
    out = table.copy()
    out["region"], out["crop"] = out["region"].astype(str), out["crop"].astype(str)
    try:
        out["year"] = pd.to_numeric(out["year"]).astype("int64")
        for col in ("yield_t_ha", *predictors):
            out[col] = pd.to_numeric(out[col]).astype("float64")
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"yield table: non-numeric year, yield or predictor ({exc})") from exc
    bad = out[~np.isfinite(out["yield_t_ha"]) | (out["yield_t_ha"] <= 0)]
    if len(bad):
        row = bad.iloc[0]
        raise InvalidInput(
            f"yield table: yield_t_ha must be a positive number; {row['region']} {row['crop']} {row['year']} "
            f"has {row['yield_t_ha']}"
        )
    dupes = out.duplicated(["region", "crop", "year"])
    if dupes.any():
        row = out[dupes].iloc[0]
        raise InvalidInput(f"yield table: {row['region']} {row['crop']} {row['year']} appears twice; keep one row")
    return out.sort_values(["region", "crop", "year"]).reset_index(drop=True)


def usda_yield_table(
    path: Path | str,
    *,
    states: Sequence[str] = (),
    crops: Sequence[str] = (),
    first_year: int | None = None,
    last_year: int | None = None,
) -> pd.DataFrame:
    """USDA NASS state yields (state, year, crop, yield, unit) -> region-year table in t/ha."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"yield file {path} does not exist")
    raw = pd.read_csv(path)
    missing = [c for c in ("state", "year", "crop", "yield", "unit") if c not in raw.columns]
    if missing:
        raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)} of the USDA NASS layout")
    keep = np.ones(len(raw), dtype=bool)
    if states:
        keep &= raw["state"].isin(states).to_numpy()
    if crops:
        keep &= raw["crop"].isin(crops).to_numpy()
    if first_year is not None:
        keep &= (raw["year"] >= first_year).to_numpy()
    if last_year is not None:
        keep &= (raw["year"] <= last_year).to_numpy()
    part = raw[keep].dropna(subset=["yield"])
    factor = np.where(part["unit"] == "lb/acre", LB_ACRE_T_HA, part["crop"].map(BUSHEL_T_HA).to_numpy(dtype=float))
    unknown = part[np.isnan(factor)]
    if len(unknown):
        raise InvalidInput(f"{path}: no t/ha conversion for {unknown.iloc[0]['crop']} in {unknown.iloc[0]['unit']}")
    table = pd.DataFrame(
        {"region": part["state"], "year": part["year"], "crop": part["crop"], "yield_t_ha": part["yield"] * factor}
    )
    if table.empty:
        raise InvalidInput(f"{path}: no rows for states {list(states)}, crops {list(crops)} in the chosen years")
    return validate_yield_table(table)


def season_indices(
    daily: pd.DataFrame, ref: CropReference, params: WeatherRiskParameters = DEFAULT_WEATHER_PARAMETERS
) -> pd.DataFrame:
    """Per-season weather indices of ``ref``'s calendar (the same ones the weather risk uses), one row a year."""
    risk = weather_risk(daily, ref, ref.crop, params)
    return pd.DataFrame(
        {
            "year": [s.year for s in risk.seasons],
            "spi_short": [s.spi_short for s in risk.seasons],
            "spi_long": [s.spi_long for s in risk.seasons],
            "heat_days": [float(s.heat_days) for s in risk.seasons],
            "frost_days": [float(s.frost_days) for s in risk.seasons],
            "harvest_rain_mm": [s.harvest_rain_mm for s in risk.seasons],
            "weather_loss": [s.loss for s in risk.seasons],
        }
    )


@dataclass(frozen=True)
class YieldModelFit:
    """A fitted yield model of one region-crop: trend plus optional weather coefficients (t/ha units)."""

    region: str
    crop: str
    predictors: tuple[str, ...]
    trend_degree: int
    year0: float
    trend: tuple[float, ...]  # a, b[, c]: yield at year0, t/ha per year[, per year^2]
    coefficients: dict[str, float]  # t/ha per unit of each predictor
    means: dict[str, float] = field(repr=False)
    scales: dict[str, float] = field(repr=False)
    residual_sd: float
    mean_yield: float
    n_years: int
    first_year: int
    last_year: int

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Yield (t/ha) for rows with ``year`` and the predictor columns."""
        t = frame["year"].to_numpy(dtype=float) - self.year0
        out = sum(coef * t**power for power, coef in enumerate(self.trend))
        for name in self.predictors:
            out = out + self.coefficients[name] * frame[name].to_numpy(dtype=float)
        return np.asarray(out, dtype=float)

    @property
    def loss_scaling(self) -> float | None:
        """-coefficient of ``weather_loss`` over the mean yield: 1.0 means the damage functions are right on
        average, < 1 that they overstate losses. None when weather_loss is not a predictor."""
        if "weather_loss" not in self.coefficients or self.mean_yield <= 0:
            return None
        return -self.coefficients["weather_loss"] / self.mean_yield

    def to_dict(self) -> dict[str, object]:
        return {
            "region": self.region,
            "crop": self.crop,
            "predictors": list(self.predictors),
            "trend_degree": self.trend_degree,
            "year0": self.year0,
            "trend": [round(v, 6) for v in self.trend],
            "coefficients": {k: round(v, 6) for k, v in self.coefficients.items()},
            "loss_scaling": None if self.loss_scaling is None else round(self.loss_scaling, 4),
            "residual_sd": round(self.residual_sd, 4),
            "residual_cv": round(self.residual_sd / self.mean_yield, 4),
            "mean_yield_t_ha": round(self.mean_yield, 4),
            "n_years": self.n_years,
            "first_year": self.first_year,
            "last_year": self.last_year,
        }


def fit_yield_model(
    group: pd.DataFrame, predictors: Sequence[str] = (), *, trend_degree: int = 1, ridge: float = 1.0
) -> YieldModelFit:
    """Least-squares fit of trend (+ predictors) to one region-crop's years (ridge on standardised predictors)."""
    if trend_degree not in (0, 1, 2):
        raise InvalidInput(f"trend_degree must be 0, 1 or 2, got {trend_degree}")
    if ridge < 0:
        raise InvalidInput(f"ridge must be >= 0, got {ridge}")
    table = validate_yield_table(group, predictors)
    if table[["region", "crop"]].drop_duplicates().shape[0] != 1:
        raise InvalidInput("fit_yield_model takes the years of one region and crop; split the table first")
    n_params = trend_degree + 1 + len(predictors)
    if len(table) < n_params + 2:
        raise InvalidInput(f"{len(table)} year(s) are too few to fit {n_params} parameters; need {n_params + 2}")
    years = table["year"].to_numpy(dtype=float)
    year0 = float(years.mean())
    t = years - year0
    means = {p: float(table[p].mean()) for p in predictors}
    scales = {p: float(table[p].std(ddof=0)) or 1.0 for p in predictors}
    columns = [t**power for power in range(trend_degree + 1)]
    columns += [(table[p].to_numpy() - means[p]) / scales[p] for p in predictors]
    design = np.column_stack(columns)
    y = table["yield_t_ha"].to_numpy()
    penalty = np.zeros((len(predictors), design.shape[1]))
    for k in range(len(predictors)):
        penalty[k, trend_degree + 1 + k] = np.sqrt(ridge)
    beta, *_ = np.linalg.lstsq(np.vstack([design, penalty]), np.concatenate([y, np.zeros(len(predictors))]))
    coefficients = {p: float(beta[trend_degree + 1 + k] / scales[p]) for k, p in enumerate(predictors)}
    trend = [float(b) for b in beta[: trend_degree + 1]]
    trend[0] -= sum(coefficients[p] * means[p] for p in predictors)  # predictors enter unstandardised
    residual = y - design @ beta
    dof = max(1, len(y) - n_params)
    return YieldModelFit(
        region=str(table["region"].iloc[0]),
        crop=str(table["crop"].iloc[0]),
        predictors=tuple(predictors),
        trend_degree=trend_degree,
        year0=year0,
        trend=tuple(trend),
        coefficients=coefficients,
        means=means,
        scales=scales,
        residual_sd=float(np.sqrt((residual**2).sum() / dof)),
        mean_yield=float(y.mean()),
        n_years=len(y),
        first_year=int(years.min()),
        last_year=int(years.max()),
    )


def year_folds(years: Sequence[int], scheme: Scheme = "loyo", n_blocks: int = 5) -> list[np.ndarray]:
    """Held-out years of each fold: every year alone (``loyo``) or ``n_blocks`` contiguous blocks."""
    unique = np.unique(np.asarray(years, dtype=int))
    if scheme == "loyo":
        return [np.array([y]) for y in unique]
    if scheme == "blocked":
        if not 2 <= n_blocks <= len(unique):
            raise InvalidInput(f"n_blocks={n_blocks} must be between 2 and the number of years ({len(unique)})")
        return [block for block in np.array_split(unique, n_blocks)]
    raise InvalidInput(f"scheme must be 'loyo' or 'blocked', got {scheme!r}")


def cross_validate(
    group: pd.DataFrame,
    predictors: Sequence[str] = (),
    *,
    scheme: Scheme = "loyo",
    n_blocks: int = 5,
    trend_degree: int = 1,
    ridge: float = 1.0,
) -> pd.DataFrame:
    """Out-of-sample predictions of one region-crop: columns year, observed, predicted (held-out years)."""
    table = validate_yield_table(group, predictors)
    parts = []
    for held in year_folds(table["year"].tolist(), scheme, n_blocks):
        test = table["year"].isin(held)
        fit = fit_yield_model(table[~test], predictors, trend_degree=trend_degree, ridge=ridge)
        parts.append(
            pd.DataFrame(
                {
                    "year": table.loc[test, "year"],
                    "observed": table.loc[test, "yield_t_ha"],
                    "predicted": fit.predict(table[test]),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values("year").reset_index(drop=True)


def rmse_pct(predictions: pd.DataFrame) -> float:
    """Root mean square error as a percentage of the mean observed yield."""
    error = predictions["predicted"] - predictions["observed"]
    return float(100.0 * np.sqrt((error**2).mean()) / predictions["observed"].mean())


def calibrate(
    table: pd.DataFrame,
    models: Mapping[str, Sequence[str]],
    *,
    scheme: Scheme = "loyo",
    n_blocks: int = 5,
    trend_degree: int = 1,
    ridge: float = 1.0,
) -> tuple[pd.DataFrame, list[YieldModelFit]]:
    """Cross-validate every model (name -> predictor columns) on every region-crop that has its predictors.

    Returns one row per region-crop-model (n_years, mean_t_ha, rmse_t_ha, rmse_pct, mae_t_ha) and the fits of
    each model on all the years. A region-crop without values for a model's predictors skips that model."""
    if not models:
        raise InvalidInput("name at least one model, e.g. {'trend': ()}")
    all_predictors = sorted({p for names in models.values() for p in names})
    checked = validate_yield_table(table.assign(**{p: table.get(p, np.nan) for p in all_predictors}), all_predictors)
    rows, fits = [], []
    for (region, crop), group in checked.groupby(["region", "crop"], sort=True):
        for name, predictors in models.items():
            usable = group.dropna(subset=list(predictors))
            if len(usable) < trend_degree + len(predictors) + 4:
                continue
            cv = cross_validate(
                usable, predictors, scheme=scheme, n_blocks=n_blocks, trend_degree=trend_degree, ridge=ridge
            )
            error = cv["predicted"] - cv["observed"]
            rows.append(
                {
                    "region": region,
                    "crop": crop,
                    "model": name,
                    "scheme": scheme,
                    "first_year": int(usable["year"].min()),
                    "last_year": int(usable["year"].max()),
                    "n_years": len(usable),
                    "mean_t_ha": float(usable["yield_t_ha"].mean()),
                    "rmse_t_ha": float(np.sqrt((error**2).mean())),
                    "rmse_pct": rmse_pct(cv),
                    "mae_t_ha": float(error.abs().mean()),
                }
            )
            fits.append(fit_yield_model(usable, predictors, trend_degree=trend_degree, ridge=ridge))
    if not rows:
        raise InvalidInput("no region-crop has enough years (with its predictors) to cross-validate")
    return pd.DataFrame(rows), fits


def with_season_indices(table: pd.DataFrame, indices: pd.DataFrame, *, region: str, crop: str) -> pd.DataFrame:
    """``table`` with the season indices of one place joined onto its ``region``/``crop`` rows by year
    (other rows, and years the weather does not cover, get NaN and are skipped by models that need them)."""
    if "year" not in indices.columns:
        raise InvalidInput("season indices need a 'year' column (see season_indices)")
    names = [c for c in indices.columns if c != "year"]
    out = table.copy()
    for name in names:
        if name not in out.columns:
            out[name] = np.nan
    rows = (out["region"] == region) & (out["crop"] == crop)
    by_year = indices.set_index("year")
    for name in names:
        out.loc[rows, name] = out.loc[rows, "year"].map(by_year[name]).to_numpy()
    return out


def table_predictors(
    table: pd.DataFrame, patterns: Sequence[str], extra: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``table`` with the predictor columns named by ``patterns`` (exact names or shell patterns such as
    ``precip_mm_m*``), taken from ``table`` itself or joined from ``extra``, a region-year table (``region, year``
    + columns, e.g. monthly weather), on region and year. Returns the table and the matched column names."""
    if extra is not None:
        missing = [c for c in ("region", "year") if c not in extra.columns]
        if missing:
            raise InvalidInput(f"predictor table: missing column(s) {', '.join(missing)}; it is keyed by region, year")
        extra = extra.assign(region=extra["region"].astype(str), year=pd.to_numeric(extra["year"]).astype("int64"))
        if extra.duplicated(["region", "year"]).any():
            row = extra[extra.duplicated(["region", "year"])].iloc[0]
            raise InvalidInput(f"predictor table: {row['region']} {row['year']} appears twice; keep one row a year")
        clash = [c for c in extra.columns if c in table.columns and c not in ("region", "year")]
        table = table.drop(columns=clash).merge(extra, on=["region", "year"], how="left")
    keys = {*TABLE_COLUMNS}
    names: list[str] = []
    for pattern in patterns:
        matched = [c for c in table.columns if c not in keys and fnmatch.fnmatchcase(c, pattern)]
        if not matched:
            raise InvalidInput(
                f"no predictor column matches {pattern!r}; columns are {', '.join(map(str, table.columns))}"
            )
        names += [c for c in matched if c not in names]
    return validate_yield_table(table.dropna(subset=["yield_t_ha"]), ()), tuple(names)
