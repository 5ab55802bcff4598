"""A plot the per-farmer cap cuts below the minimum loan declines, and the farmer's main reason says so."""

from __future__ import annotations

from decimal import Decimal

from agrisense.credit.engine import quote
from agrisense.credit.policy import load_policy
from agrisense.lending.applications import cap_to_farmer
from agrisense.market import load_markets, markets_dir


def test_a_cut_below_the_minimum_becomes_the_main_reason():
    market = load_markets(markets_dir())["sample_county"]
    crops = market.crop_table()
    policy = load_policy(market.policy_file, crops=crops)
    offer = quote("maize", 20.0, season=2027, crops=crops, policy=policy).to_dict()
    assert offer["decision"] == "approve" and offer["explanation"]["main_zh"].startswith("综合来看")
    room = Decimal(str(policy.limits.min_limit - policy.limits.rounding_step))  # one step under the minimum
    exposure = Decimal(str(policy.limits.max_per_farmer)) - room
    (cut,) = cap_to_farmer([offer], exposure, policy, crops)
    assert cut["decision"] == "decline" and cut["reasons"][0]["code"] == "LIMIT_BELOW_MINIMUM"
    assert cut["explanation"]["main_zh"] == cut["reasons"][0]["message_zh"] and cut["explanation"]["change"] is None
    assert "元" in cut["explanation"]["main_zh"] and "CNY" in cut["explanation"]["main_en"]
