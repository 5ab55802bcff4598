from __future__ import annotations

import json
from pathlib import Path

import pytest

from agrisense.credit.engine import quote
from agrisense.credit.stress import StressLoan, default_probability, portfolio_loans, stress_chart, stress_test
from agrisense.errors import InvalidInput

from .conftest import make_weather


def book(crops, policy, weather, n: int = 4) -> list[dict]:
    offers = [
        quote(
            "maize",
            0.5 + 0.5 * k,
            season=2026,
            crops=crops,
            policy=policy,
            weather=weather,
            ndvi_anomaly=0.0,
            plot_id=f"P{k}",
        ).to_dict()  # fmt: skip
        for k in range(n)
    ]
    assert all(o["decision"] == "approve" for o in offers)
    return offers


def test_default_probability_is_monotone(crops, policy, weather):
    loan = StressLoan.from_offer(book(crops, policy, weather, 1)[0])
    ref = crops["maize"]
    calm, dry = default_probability(loan, ref, 0.0), default_probability(loan, ref, 0.6)
    assert 0.0 <= calm < dry < 1.0
    assert default_probability(loan, ref, 0.0, -0.5) > calm
    assert default_probability(loan, ref, 1.0) == 1.0
    unknown = StressLoan(**{**loan.__dict__, "condition_z": None})
    assert 0.0 < default_probability(unknown, ref, 0.3) < 1.0


def test_stress_year_is_relative_to_the_average_season(crops, policy, weather):
    """The reference yield is the average season's: an average year (loss = mean loss) defaults like a calm year
    of a history without losses, and a smaller farm noise (the weather carries the rest) narrows the tail."""
    loan = StressLoan.from_offer(book(crops, policy, weather, 1)[0])
    ref = crops["maize"]
    average = default_probability(loan, ref, 0.2, mean_loss=0.2)
    assert average == pytest.approx(default_probability(loan, ref, 0.0))
    assert default_probability(loan, ref, 0.2) > average  # un-centred: weather counted against the reference
    assert default_probability(loan, ref, 0.0, noise_cv=0.05) < default_probability(loan, ref, 0.0)
    with pytest.raises(InvalidInput, match="mean_loss"):
        default_probability(loan, ref, 0.0, mean_loss=1.0)


def test_stress_replays_every_year_and_shock(crops, policy, weather):
    offers = book(crops, policy, weather) + [{"decision": "decline", "credit_limit": 0.0, "schedule": []}]
    result = stress_test(offers, crops, {"maize": weather}, price_shocks=(-0.3, -0.5))
    assert result.n_loans == 4 and len(result.scenarios) == 3 * len(weather.years)
    summary = result.summary.set_index("price_shock")
    assert list(summary.index) == [0.0, -0.3, -0.5]
    assert summary.loc[0.0, "expected_loss"] < summary.loc[-0.3, "expected_loss"] < summary.loc[-0.5, "expected_loss"]
    # the worst year is one of the loss years of the weather history (the last 10 of make_weather)
    assert summary.loc[-0.5, "worst_year"] >= 2010
    assert summary.loc[-0.5, "loss_p99"] <= summary.loc[-0.5, "worst_loss"] + 1e-9
    assert result.booked_expected_loss == pytest.approx(sum(o["expected_loss"] for o in offers[:4]))
    base = result.scenarios[result.scenarios["price_shock"] == 0.0]
    assert (base["npl_rate"] >= 0).all() and (base["loss"] <= result.exposure).all()


def test_lower_repayment_capacity_raises_losses(crops, policy, weather):
    offers = book(crops, policy, weather)
    full = stress_test(offers, crops, {"maize": weather}).summary["expected_loss"].iloc[0]
    half = stress_test(offers, crops, {"maize": weather}, repayment_capacity=0.5).summary["expected_loss"].iloc[0]
    assert half > full


def test_chart(tmp_path: Path, crops, policy, weather):
    result = stress_test(book(crops, policy, weather, 2), crops, {"maize": weather})
    path = stress_chart(result, tmp_path / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"price_shocks": (-1.5,)}, "price shock"),
        ({"decisions": ("decline",)}, "approve and/or refer"),
        ({"weather": {}}, "no crop reference or weather"),
        ({"repayment_capacity": 0.0}, "repayment_capacity"),
    ],
)
def test_bad_inputs(crops, policy, weather, kwargs, message):
    args = {"weather": {"maize": weather}, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        stress_test(book(crops, policy, weather, 1), crops, **args)


def test_no_loans_and_bad_offer(crops, weather):
    with pytest.raises(InvalidInput, match="nothing to stress"):
        stress_test([], crops, {"maize": weather})
    with pytest.raises(InvalidInput, match="not an Offer"):
        portfolio_loans([{"decision": "approve", "credit_limit": 500.0, "schedule": [{"x": 1}], "plot_id": "Q"}])
    json.dumps(make_weather().to_dict())
