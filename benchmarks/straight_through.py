"""Straight-through benchmark: how many applications the engine decides without a person, against the truth.

Scores every plot of a region once (``agrisense demo``'s scoring, Dask, cached composites), then re-runs only the
credit engine (``build_offers`` on the same evidence) for each policy variant of the sweep. Against the region's
truth (``truth/plots_truth.parquet`` ``kind``):

* automatic: share of all applications (unusable outlines included) approved or declined, goal >= 80 %;
* genuine approved: share of ``good`` plots (true field, right outline) approved, goal >= 50 %;
* bad approved: share of ``noncrop``, ``wrong_crop`` and ``overlapping`` plots approved, goal <= 1 %
  (``shifted`` outlines of real fields are reported apart);
* genuine below minimum: genuine plots declined with LIMIT_BELOW_MINIMUM, the cost of the minimum loan;
* genuine contradicted: genuine plots declined with DECLARED_CROP_CONTRADICTED (the satellite sure of another
  crop) or DECLARED_CROP_RULED_OUT (the declared crop's own probability too low, policy 2026.6), the cost of the
  mismatch declines.

The sweep (the trade-off curve) sets three knobs in a copy of the policy, everything else as configured:
``thresholds.min_crop_probability`` (the refer threshold on crop confidence), ``limits.min_limit`` (the minimum
loan) and the PD refer band (``none``: ``pd_refer`` = ``pd_approve`` per crop and ``uncovered_price_action:
decline``, policy 2026.5; a number: ``pd_refer`` for every crop and ``refer``, as 2026.4 with 0.15); with
``--mismatch-decline`` also ``thresholds.mismatch_decline_probability`` (``none``: every mismatch refers, 2026.5;
default: the configured value only; a value below the refer threshold is skipped, the loader refuses it). It also
prints how often the satellite's crop is right against the truth, by calibrated probability, apart for plots
whose declared crop agrees with it and for mismatches (the evidence behind the refer threshold).

    .venv/bin/python benchmarks/straight_through.py [--region data/sample_county] [--policy FILE]
        [--refer 0.5 --refer 0.7 ...] [--min-loan 200 --min-loan 500 ...] [--pd-band none --pd-band 0.15]
        [--mismatch-decline none --mismatch-decline 0.95 ...]
        [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import yaml

from agrisense import services
from agrisense.config import settings_with
from agrisense.credit.offer import Offer
from agrisense.credit.policy import load_policy
from agrisense.pipelines.demo import dask_runner
from agrisense.region import load_region
from agrisense.scoring.offers import build_offers

BAD_KINDS = ("noncrop", "wrong_crop", "overlapping")


@dataclass(frozen=True)
class Outcome:
    """One policy variant's straight-through numbers."""

    refer_threshold: float
    min_loan: float
    pd_band: str
    mismatch_decline: str
    applications: int
    approve: int
    refer: int
    decline: int
    automatic: float
    genuine: int
    genuine_approved: float
    genuine_below_minimum: int
    genuine_contradicted: int
    bad: int
    bad_approved: float
    shifted_approved: float
    approved_exposure: float
    refer_reasons: dict[str, int]


def outcome(
    offers: Sequence[Offer],
    kinds: Mapping[str, str],
    refer_threshold: float,
    min_loan: float,
    pd_band: str,
    mismatch_decline: str,
) -> Outcome:
    """The straight-through numbers of ``offers`` against the truth ``kinds`` (plot id -> truth kind)."""
    decisions = Counter(o.decision for o in offers)
    by_kind: dict[str, list[Offer]] = {}
    for o in offers:
        by_kind.setdefault(kinds.get(o.plot_id, "unknown"), []).append(o)
    genuine = by_kind.get("good", [])
    bad = [o for kind in BAD_KINDS for o in by_kind.get(kind, [])]
    shifted = by_kind.get("shifted", [])

    def approved(group: Sequence[Offer]) -> float:
        return sum(o.decision == "approve" for o in group) / len(group) if group else 0.0

    return Outcome(
        refer_threshold=refer_threshold,
        min_loan=min_loan,
        pd_band=pd_band,
        mismatch_decline=mismatch_decline,
        applications=len(offers),
        approve=decisions["approve"],
        refer=decisions["refer"],
        decline=decisions["decline"],
        automatic=(decisions["approve"] + decisions["decline"]) / len(offers),
        genuine=len(genuine),
        genuine_approved=approved(genuine),
        genuine_below_minimum=_declined_for(genuine, "LIMIT_BELOW_MINIMUM"),
        genuine_contradicted=_declined_for(genuine, "DECLARED_CROP_CONTRADICTED", "DECLARED_CROP_RULED_OUT"),
        bad=len(bad),
        bad_approved=approved(bad),
        shifted_approved=approved(shifted),
        approved_exposure=float(sum(o.credit_limit for o in offers if o.decision == "approve")),
        refer_reasons=dict(
            Counter(
                r.code for o in offers if o.decision == "refer" for r in o.reasons if r.kind == "refer"
            ).most_common(4)
        ),
    )


def _declined_for(offers: Sequence[Offer], *codes: str) -> int:
    return sum(o.decision == "decline" and any(r.code in codes for r in o.reasons) for o in offers)


def mismatch_of(policy: dict) -> str:
    """The policy's mismatch decline threshold as the sweep names it: ``none`` or the number."""
    value = policy["thresholds"].get("mismatch_decline_probability")
    return "none" if value is None else f"{value:g}"


def band_of(policy: dict) -> str:
    """The policy's PD refer band as the sweep names it: ``none`` or the one ``pd_refer`` of every crop."""
    t = policy["thresholds"]
    if t["pd_refer"] == t["pd_approve"] and policy["pricing"]["uncovered_price_action"] == "decline":
        return "none"
    return str(t["pd_refer"])


def policy_variant(
    policy: dict, refer_threshold: float, min_loan: float, pd_band: str, mismatch: str, folder: Path
) -> Path:
    """A copy of the policy with the refer threshold, minimum loan, PD band and mismatch decline set, validated by
    the loader."""
    data = json.loads(json.dumps(policy))
    t = data["thresholds"]
    t["min_crop_probability"] = refer_threshold
    t["mismatch_decline_probability"] = None if mismatch == "none" else float(mismatch)
    data["limits"]["min_limit"] = min_loan
    if pd_band == "none":
        t["pd_refer"], data["pricing"]["uncovered_price_action"] = t["pd_approve"], "decline"
    else:
        t["pd_refer"], data["pricing"]["uncovered_price_action"] = float(pd_band), "refer"
    path = folder / f"policy_{refer_threshold:.2f}_{min_loan:g}_{pd_band}_{mismatch}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    load_policy(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", type=Path, default=Path("data/sample_county"))
    parser.add_argument("--policy", type=Path, default=None, help="policy YAML (default: the configured one)")
    parser.add_argument("--refer", type=float, action="append", help="refer thresholds on crop confidence")
    parser.add_argument("--min-loan", type=float, action="append", help="minimum loans (CNY)")
    parser.add_argument("--pd-band", action="append", help="'none' (pd_refer = pd_approve) or a pd_refer")
    parser.add_argument(
        "--mismatch-decline", action="append", help="'none' (mismatches refer) or a mismatch_decline_probability"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = settings_with(region_dir=args.region)
    if args.policy:
        settings = settings.model_copy(update={"policy_file": args.policy})
    region = load_region(args.region)
    kinds = pd.read_parquet(args.region / "truth" / "plots_truth.parquet").set_index("plot_id")["kind"].to_dict()
    t0 = time.perf_counter()
    plots, errors = services.read_region_plots(region.plots, settings)
    run = services.score_plots(plots, errors=errors, settings=settings, runner=dask_runner(settings))
    scored_s = time.perf_counter() - t0
    unusable = [o for o in run.offers if o.plot_id not in run.evidence]
    credit = services.credit_inputs(settings, region)  # the region's market's policy (China: china.yaml)
    policy = yaml.safe_load(credit.policy_file.read_text(encoding="utf-8"))
    base = outcome(
        run.offers,
        kinds,
        policy["thresholds"]["min_crop_probability"],
        policy["limits"]["min_limit"],
        band_of(policy),
        mismatch_of(policy),
    )
    raw_credit = replace(credit, plot_calibration=None)
    raw = outcome(
        list(build_offers(run.plots, run.evidence, raw_credit).values()) + unusable,
        kinds,
        base.refer_threshold,
        base.min_loan,
        base.pd_band,
        base.mismatch_decline,
    )
    rows = []
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        grid = [
            (band, refer, min_loan, mismatch)
            for mismatch in args.mismatch_decline or [base.mismatch_decline]
            for band in args.pd_band or ["none", "0.15"]
            for refer in args.refer or [0.5, 0.6, 0.7, 0.8]
            for min_loan in args.min_loan or [100, 200, 300, 500]
            if mismatch == "none" or float(mismatch) >= refer
        ]
        for band, refer, min_loan, mismatch in grid:
            file = policy_variant(policy, refer, min_loan, band, mismatch, Path(tmp))
            offers = list(
                build_offers(run.plots, run.evidence, replace(credit, policy_file=file), what_if=False).values()
            )
            rows.append(outcome(offers + unusable, kinds, refer, min_loan, band, mismatch))
    sweep_s = time.perf_counter() - t1
    print(
        f"{platform.node()} {platform.machine()}, {region.name}: scoring {scored_s:.1f} s, "
        f"{len(rows)} policy variants {sweep_s:.1f} s"
    )
    print(_table([base], "as configured"))
    print(
        _table(
            [raw], "as configured, without the plot calibration (raw crop probability, the market's reference curves)"
        )
    )
    print(_table(rows, "sweep (trade-off curve; * meets all three goals)"))
    truth = pd.read_parquet(args.region / "truth" / "plots_truth.parquet").set_index("plot_id")["true_crop"]
    print(_agreement(run.offers, truth.to_dict()))
    for r in (base, *rows):
        where = f"{r.pd_band} / {r.refer_threshold:.2f} / {r.min_loan:g} / {r.mismatch_decline}"
        print(f"refer reasons at {where}: {r.refer_reasons}")
    if args.json:
        body = {"configured": asdict(base), "uncalibrated": asdict(raw), "sweep": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def _table(rows: Sequence[Outcome], title: str) -> str:
    lines = [
        f"{title}:",
        "| PD band | refer below p | min loan | mismatch declines at | approve / refer / decline | automatic "
        "| genuine approved | genuine below min | genuine contradicted | bad approved | shifted approved "
        "| exposure CNY |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        goals = r.automatic >= 0.8 and r.genuine_approved >= 0.5 and r.bad_approved <= 0.01
        lines.append(
            f"| {r.pd_band}{' *' if goals else ''} | {r.refer_threshold:.2f} | {r.min_loan:g} | {r.mismatch_decline} "
            f"| {r.approve} / {r.refer} / {r.decline} | {r.automatic:.1%} "
            f"| {r.genuine_approved:.1%} of {r.genuine} | {r.genuine_below_minimum} | {r.genuine_contradicted} "
            f"| {r.bad_approved:.1%} of {r.bad} "
            f"| {r.shifted_approved:.1%} | {r.approved_exposure:,.0f} |"
        )
    return "\n".join(lines)


def _agreement(offers: Sequence[Offer], true_crop: Mapping[str, object]) -> str:
    """How often the satellite's crop is the true crop, by calibrated probability, for plots whose declared crop
    agrees with it and for mismatches (plots off any true field count as wrong)."""
    bins = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)
    counts: Counter[tuple[bool, int]] = Counter()
    right: Counter[tuple[bool, int]] = Counter()
    for o in offers:
        if o.crop is None:
            continue
        key = (o.crop == o.declared_crop, next(i for i in range(len(bins) - 1) if o.crop_probability < bins[i + 1]))
        counts[key] += 1
        right[key] += o.crop == true_crop.get(o.plot_id)
    lines = [
        "satellite's crop = true crop, by calibrated probability:",
        "| probability | agrees with the declaration: plots | right | mismatch: plots | right |",
        "|---|---|---|---|---|",
    ]
    for i in range(len(bins) - 1):
        cells = [
            f"{counts[a, i]} | {right[a, i] / counts[a, i]:.0%}" if counts[a, i] else "0 | -" for a in (True, False)
        ]
        lines.append(f"| {bins[i]:.2f}-{min(bins[i + 1], 1.0):.2f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
