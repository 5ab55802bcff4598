"""Credit: policy, limit with haircuts, PD scorecard, risk price, decision and reasons, schedule, Offer."""

from agrisense.credit.engine import CreditEvidence, make_offer, quote
from agrisense.credit.offer import Offer
from agrisense.credit.policy import Policy, load_policy

__all__ = ["CreditEvidence", "Offer", "Policy", "load_policy", "make_offer", "quote"]
