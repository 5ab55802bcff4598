"""Portfolio stress test: replay every historical weather year and price shocks over a book of offers.

Model (docs/credit-model.md, "Stress test"): in scenario (year y, price shock s) loan i defaults when its plot's
revenue falls short of what is due,

    area_i x yield_i x price_c x (1 + s) < due_i        (due = principal + interest + fees of the schedule)
    yield_i = ref_yield_c x condition_i x w_c(y) x eps,   w_c(y) = (1 - loss_c(y)) / (1 - mean loss_c),
    eps ~ lognormal(mean 1, CV = sqrt(yield_cv_c^2 - CV(w_c)^2))

with the yield model of :func:`agrisense.agronomy.yields.yield_distribution` (re-centred weather term, farm noise
taking only the variability the weather leaves) but the weather of year y instead of a resampled one. The default
probability given the scenario is closed-form (lognormal CDF); an unknown condition (no NDVI evidence) is
integrated over its N(0, 1) prior by Gauss-Hermite quadrature. The scenario's expected loss is
sum_i P_i x LGD_i x principal_i (fully drawn), its non-performing rate the expected share of loans (and of exposure)
in default. Farm noise is independent across plots given the scenario, so for a book of hundreds of loans these
expectations are the scenario's portfolio figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from agrisense.agronomy.calendar import CropReference
from agrisense.agronomy.parameters import DEFAULT_YIELD_PARAMETERS, YieldModelParameters
from agrisense.agronomy.weather import WeatherRisk
from agrisense.agronomy.yields import farm_noise_cv, weather_factors
from agrisense.errors import InvalidInput

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(24)  # E[f(Z)], Z ~ N(0, 1) = sum(w f(x)) / sqrt(2 pi)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True)
class StressLoan:
    """The part of an offer the stress test needs."""

    plot_id: str
    crop: str
    area_ha: float
    principal: float
    due: float  # principal + interest + fees over the schedule
    lgd: float
    condition_z: float | None

    @classmethod
    def from_offer(cls, offer: Mapping[str, Any]) -> StressLoan:
        """From an ``Offer.to_dict()`` mapping (the CLI's offers.json rows)."""
        try:
            schedule = offer["schedule"]
            evidence = offer.get("evidence") or {}
            loan = cls(
                plot_id=str(offer["plot_id"]),
                crop=str(offer["assessed_crop"]),
                area_ha=float(offer["area_ha"]),
                principal=float(offer["credit_limit"]),
                due=float(sum(float(i["total"]) for i in schedule)),
                lgd=float(offer["lgd"]),
                condition_z=None if evidence.get("ndvi_condition_z") is None else float(evidence["ndvi_condition_z"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"offer {offer.get('plot_id', '?') if isinstance(offer, Mapping) else '?'} is not an Offer JSON "
                f"object (missing or bad {exc}); pass the offers.json that agrisense writes"
            ) from exc
        if loan.area_ha <= 0 or loan.principal <= 0 or loan.due < loan.principal or not 0 <= loan.lgd <= 1:
            raise InvalidInput(f"offer {loan.plot_id}: area, limit, schedule or lgd out of range")
        return loan


def portfolio_loans(offers: Sequence[Mapping[str, Any]], decisions: Sequence[str] = ("approve",)) -> list[StressLoan]:
    """Loans of the offers whose decision is in ``decisions`` and that carry a loan (limit > 0, a schedule)."""
    if not isinstance(offers, Sequence) or isinstance(offers, str | bytes):
        raise InvalidInput("offers must be a list of Offer JSON objects")
    bad = [d for d in decisions if d not in ("approve", "refer")]
    if bad:
        raise InvalidInput(f"decisions must be approve and/or refer, got {bad}")
    return [
        StressLoan.from_offer(o)
        for o in offers
        if o.get("decision") in decisions and float(o.get("credit_limit") or 0) > 0 and o.get("schedule")
    ]


def default_probability(
    loan: StressLoan,
    ref: CropReference,
    weather_loss: float,
    price_shock: float = 0.0,
    params: YieldModelParameters = DEFAULT_YIELD_PARAMETERS,
    repayment_capacity: float = 1.0,
    *,
    mean_loss: float = 0.0,
    noise_cv: float | None = None,
) -> float:
    """P(capacity x area x yield x shocked price < due) in a season with ``weather_loss`` (closed form, see
    module doc). ``repayment_capacity`` is the share of gross revenue that can go to the loan (1 = all of it).
    ``mean_loss`` is the crop's average loss over its history (the reference yield is that average season's) and
    ``noise_cv`` the farm noise left after the weather (default: the whole ``yield_cv``)."""
    if loan.due <= 0:
        return 0.0
    if not 0.0 <= mean_loss < 1.0:
        raise InvalidInput(f"mean_loss={mean_loss} must be in [0, 1)")
    scale = (
        repayment_capacity
        * loan.area_ha
        * ref.ref_yield_t_ha
        * (1.0 - weather_loss)
        / (1.0 - mean_loss)
        * ref.price_per_t
        * (1.0 + price_shock)
    )
    if scale <= 0:
        return 1.0
    if loan.condition_z is None:
        z, weights = _NODES, _WEIGHTS
    else:
        z, weights = np.array([loan.condition_z]), np.array([1.0])
    condition = np.clip(1.0 + params.condition_slope * z, params.condition_min, params.condition_max)
    threshold = loan.due / (scale * condition)  # eps below this defaults
    cv = ref.yield_cv if noise_cv is None else noise_cv
    if cv == 0:
        return float(np.sum(weights * (threshold > 1.0)))
    sigma = math.sqrt(math.log1p(cv**2))
    prob = stats.norm.cdf((np.log(threshold) + sigma**2 / 2.0) / sigma)
    return float(np.sum(weights * prob))


@dataclass(frozen=True)
class StressResult:
    """Per-scenario portfolio figures and their distribution over the historical years, per price shock."""

    scenarios: pd.DataFrame  # year, price_shock, n_loans, exposure, expected_defaults, npl_rate, ..., loss, loss_rate
    summary: pd.DataFrame  # one row per price shock
    n_loans: int
    exposure: float
    booked_expected_loss: float  # sum of the offers' own expected_loss (scorecard PD x LGD x limit)


def _summarise(scenarios: pd.DataFrame, exposure: float) -> pd.DataFrame:
    rows = []
    for shock, part in scenarios.groupby("price_shock", sort=False):
        worst = part.loc[part["loss"].idxmax()]
        rows.append(
            {
                "price_shock": shock,
                "years": len(part),
                "expected_loss": float(part["loss"].mean()),
                "expected_loss_rate": float(part["loss"].mean() / exposure),
                "loss_p95": float(np.quantile(part["loss"], 0.95)),
                "loss_p99": float(np.quantile(part["loss"], 0.99)),
                "worst_year": int(worst["year"]),
                "worst_loss": float(worst["loss"]),
                "worst_loss_rate": float(worst["loss_rate"]),
                "npl_rate_mean": float(part["npl_rate"].mean()),
                "npl_rate_p95": float(np.quantile(part["npl_rate"], 0.95)),
                "npl_rate_worst": float(part["npl_rate"].max()),
            }
        )
    return pd.DataFrame(rows)


def stress_test(
    offers: Sequence[Mapping[str, Any]],
    crops: Mapping[str, CropReference],
    weather: Mapping[str, WeatherRisk],
    *,
    price_shocks: Sequence[float] = (-0.3,),
    decisions: Sequence[str] = ("approve",),
    params: YieldModelParameters = DEFAULT_YIELD_PARAMETERS,
    repayment_capacity: float = 1.0,
) -> StressResult:
    """Replay every historical year common to the book's crops, with no price shock and each of
    ``price_shocks`` (fractions, -0.3 = prices 30 % lower). ``repayment_capacity``: share of gross revenue
    available to repay (1 = the whole harvest value; lower it to leave the household's own needs)."""
    if not 0.0 < repayment_capacity <= 1.0:
        raise InvalidInput(f"repayment_capacity={repayment_capacity} must be in (0, 1]")
    loans = portfolio_loans(offers, decisions)
    if not loans:
        raise InvalidInput(f"no offer with decision in {list(decisions)} carries a loan; nothing to stress")
    for shock in price_shocks:
        if not (math.isfinite(shock) and -1.0 < shock <= 1.0):
            raise InvalidInput(f"price shock {shock} must be a fraction in (-1, 1], e.g. -0.3 for prices 30 % lower")
    book_crops = sorted({loan.crop for loan in loans})
    missing = [c for c in book_crops if c not in crops or c not in weather]
    if missing:
        raise InvalidInput(f"no crop reference or weather history for {', '.join(missing)}; supply both")
    loss_by = {c: dict(zip(weather[c].years, weather[c].loss_by_year, strict=True)) for c in book_crops}
    mean_loss = {c: float(np.mean(weather[c].loss_by_year)) for c in book_crops}
    noise_cv = {
        c: farm_noise_cv(crops[c].yield_cv, float(weather_factors(weather[c]).std()), params) for c in book_crops
    }
    years = sorted(set.intersection(*(set(v) for v in loss_by.values())))
    if not years:
        raise InvalidInput("the weather histories of the book's crops share no year")
    shocks = list(dict.fromkeys([0.0, *price_shocks]))
    principal = np.array([loan.principal for loan in loans])
    lgd = np.array([loan.lgd for loan in loans])
    exposure = float(principal.sum())
    rows = []
    for shock in shocks:
        for year in years:
            p = np.array(
                [
                    default_probability(
                        loan,
                        crops[loan.crop],
                        loss_by[loan.crop][year],
                        shock,
                        params,
                        repayment_capacity,
                        mean_loss=mean_loss[loan.crop],
                        noise_cv=noise_cv[loan.crop],
                    )
                    for loan in loans
                ]
            )
            loss = float((p * lgd * principal).sum())
            rows.append(
                {
                    "year": year,
                    "price_shock": shock,
                    "n_loans": len(loans),
                    "exposure": exposure,
                    "expected_defaults": float(p.sum()),
                    "npl_rate": float(p.mean()),
                    "npl_exposure_rate": float((p * principal).sum() / exposure),
                    "loss": loss,
                    "loss_rate": loss / exposure,
                }
            )
    scenarios = pd.DataFrame(rows)
    booked = float(
        sum(float(o.get("expected_loss") or 0) for o in offers if o.get("plot_id") in {ln.plot_id for ln in loans})
    )
    return StressResult(scenarios, _summarise(scenarios, exposure), len(loans), exposure, booked)


def stress_chart(result: StressResult, path: Path | str) -> Path:
    """PNG: portfolio loss rate and non-performing rate per historical year, one bar series per price shock."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = result.scenarios
    years = sorted(table["year"].unique())
    shocks = list(dict.fromkeys(table["price_shock"]))
    width = 0.8 / len(shocks)
    fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    for k, shock in enumerate(shocks):
        part = table[table["price_shock"] == shock].set_index("year").loc[years]
        x = np.arange(len(years)) + (k - (len(shocks) - 1) / 2) * width
        label = "no price shock" if shock == 0 else f"price {shock:+.0%}"
        axes[0].bar(x, 100 * part["loss_rate"], width, label=label)
        axes[1].bar(x, 100 * part["npl_rate"], width, label=label)
    if result.exposure > 0:
        axes[0].axhline(100 * result.booked_expected_loss / result.exposure, color="k", ls="--", lw=1,
                        label="booked EL (scorecard)")  # fmt: skip
    axes[0].set_ylabel("loss, % of exposure")
    axes[1].set_ylabel("non-performing, % of loans")
    axes[1].set_xticks(np.arange(len(years)), [str(y) for y in years], rotation=90, fontsize=7)
    axes[0].set_title(
        f"Stress test: {result.n_loans} loans, exposure {result.exposure:,.0f}; one scenario per weather year"
    )
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
