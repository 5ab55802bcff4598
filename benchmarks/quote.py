"""Time one what-if quote at a location (the China market's 2,000 亩 Jiangxi rice case and a refer/decline mix),
with and without the "what would change the decision" re-runs (`agrisense.credit.explain`).

    .venv/bin/python benchmarks/quote.py --repeat 50
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime

from agrisense.agronomy.weather import weather_risk
from agrisense.config import Settings
from agrisense.credit.engine import CreditEvidence, make_offer
from agrisense.quotes import QuoteInputs, market_policy, quote_at, resolve, weather_history

CASES = {
    "rice 2000 mu (approve)": {"crop": "rice", "area_ha": 2000 / 15},
    "wheat, crop confidence 0.5 (refer)": {"crop": "wheat", "area_ha": 30.0, "crop_probability": 0.5},
    "rice 1 mu (below the minimum: decline)": {"crop": "rice", "area_ha": 1 / 15},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    settings = Settings(region_dir=tempfile.mkdtemp())
    where = resolve(settings, region="jiangxi")
    results = {}
    for name, inputs in CASES.items():
        offer = quote_at(settings, where, QuoteInputs(season=2027, **inputs))  # warm: weather, tables
        evidence = offer.evidence
        if not isinstance(evidence, CreditEvidence):
            raise SystemExit(f"{name}: the quote carries no evidence")
        crops = where.location.market.crop_table("jiangxi")

        policy = market_policy(settings, where.location.market)
        history, _ = weather_history(where)
        risk = weather_risk(history, crops[inputs["crop"]], inputs["crop"]) if history is not None else None
        timing = {}
        for what_if in (False, True):
            start = time.perf_counter()
            for _ in range(args.repeat):
                make_offer(evidence, crops=crops, weather=risk, policy=policy, what_if=what_if)
            timing["with_change" if what_if else "without_change"] = (time.perf_counter() - start) / args.repeat
        results[name] = {k: round(v * 1000, 2) for k, v in timing.items()} | {"decision": offer.decision}
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "repeat": args.repeat,
        "ms_per_offer": results,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
