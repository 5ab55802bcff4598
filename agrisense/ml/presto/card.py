"""``MODEL_CARD.md`` of a Presto crop bundle, rendered from the training report in ``bundle.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agrisense.ml.croptype.card import SOURCES, training_facts, write_card

#: the issue's goals (spatially grouped, real samples)
GOALS = {"overall_accuracy": 0.85, "macro_f1": 0.75, "accuracy_at_80": 0.93}


def accuracy_at(scores: dict[str, Any], coverage: float) -> float:
    """Accuracy on the ``coverage`` most confident share, from a stored accuracy-coverage table."""
    return float(next(p["accuracy"] for p in scores["accuracy_coverage"] if abs(p["coverage"] - coverage) < 1e-9))


def _score_rows(cv: dict[str, Any]) -> list[str]:
    rows = [
        "| evaluated on | n | OA | macro-F1 | majority OA | ECE | accuracy on 80 % most confident |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for region, s in cv["scores"].items():
        rows.append(
            f"| {region} | {s['n']} | {s['overall_accuracy']:.3f} | {s['macro_f1']:.3f} | "
            f"{s['majority_accuracy']:.3f} | {s['ece']:.3f} | {accuracy_at(s, 0.8):.3f} |"
        )
    return rows


def _coverage_rows(scores: dict[str, Any]) -> list[str]:
    regions = list(scores)
    rows = ["| coverage | " + " | ".join(f"{r} accuracy (threshold)" for r in regions) + " |"]
    rows.append("|---:|" + "---:|" * len(regions))
    for i, point in enumerate(scores[regions[0]]["accuracy_coverage"]):
        cells = [_cell(scores[r]["accuracy_coverage"][i]) for r in regions]
        rows.append(f"| {point['coverage']:.0%} | " + " | ".join(cells) + " |")
    return rows


def _cell(point: dict[str, Any]) -> str:
    return f"{point['accuracy']:.3f} ({point['threshold']:.2f})"


def _goal_lines(pooled: dict[str, Any]) -> list[str]:
    measured = {
        "overall_accuracy": pooled["overall_accuracy"],
        "macro_f1": pooled["macro_f1"],
        "accuracy_at_80": accuracy_at(pooled, 0.8),
    }
    return [
        f"- {name.replace('_', ' ')}: {measured[name]:.3f} against the goal {goal:.2f} "
        f"({'met' if measured[name] >= goal else 'not met'})"
        for name, goal in GOALS.items()
    ]


def render_presto_card(report: dict[str, Any]) -> str:
    """Markdown: model, data, classes, grouped-CV scores per region, per-class F1, calibration, coverage, limits."""
    trained, cv = report["trained_on"], report["cv"]
    cal, pooled, fit = cv["calibration"], cv["scores"]["pooled"], trained["fit"]
    tuned = f"fine-tuned with the head for {fit['finetune_epochs']} epochs" if fit["finetune_epochs"] else "frozen"
    merged = ", ".join(f"{k} -> {v}" for k, v in trained["merged_rare_classes"].items()) or "none"
    lines = [
        "# Model card: croptype_presto",
        "",
        "Crop type of one pixel's (or one plot's mean) 12-month series of Sentinel-2 composites (10 bands) with",
        "monthly precipitation and temperature: the pretrained Presto encoder (Tseng et al. 2023, MIT; our own",
        f"implementation, weights in `models/presto_encoder/`), {tuned}, and a linear head (multinomial logistic",
        f"regression, C = {fit['c']}) on its 128-d embedding, temperature-scaled. Code: `agrisense/ml/presto/`;",
        "docs: `docs/croptype.md`.",
        "",
        "## Data",
        "",
        SOURCES,
        "",
        f"{trained['n_samples']} samples ({trained['regions']}). Classes with fewer than 5 samples are merged (nothing "
        f"is dropped): {merged}. Label synonyms (Flanders LPIS names -> East Africa groups) are in `bundle.json`.",
        "",
        "## Classes (training counts)",
        "",
        ", ".join(f"`{c}` {n}" for c, n in trained["class_counts"].items()),
        "",
        f"## Spatially grouped {cv['n_folds']}-fold cross-validation",
        "",
        f"Samples closer than {cv['group_distance_m']:.0f} m (chained single linkage) form one group "
        f"({cv['n_groups']} groups); a group never straddles folds. Every number is out-of-fold, with probabilities "
        "calibrated by a temperature fitted on the other folds (cross-fitted). Macro-F1 is over the classes present, "
        "all of which have at least 5 samples after merging.",
        "",
        *_score_rows(cv),
        "",
        "Goals of issue 15 (pooled):",
        *_goal_lines(pooled),
        "",
    ]
    for region, s in cv["scores"].items():
        lines.append(f"Per-class F1, {region}: " + ", ".join(f"{c} {v:.2f}" for c, v in s["f1"].items()))
        lines.append("")
    lines += [
        "## Accuracy-coverage (selective decisions)",
        "",
        "Accuracy on the share of samples with the highest calibrated probability; in brackets the probability",
        "threshold that keeps that share. A lender acts on plots above a threshold and refers the rest.",
        "",
        *_coverage_rows(cv["scores"]),
        "",
        "## Calibration",
        "",
        f"Temperature {cal['temperature']:.3f} (fitted on all out-of-fold logits, used by the shipped model). ECE "
        f"(15 bins) {cal['ece_uncalibrated']:.3f} uncalibrated, {cal['ece_cross_fitted']:.3f} cross-fitted; NLL "
        f"{cal['nll_uncalibrated']:.3f} -> {cal['nll_cross_fitted']:.3f}. `reliability.png`: pooled reliability "
        "diagram (cross-fitted).",
        "",
        "## Limits",
        "",
        "- 401 samples; rare classes (pulses, sunflower, merged other crops) are rarely right. Sorghum vs maize in",
        "  East Africa is the decisive and hardest distinction.",
        "- Trained on 2017 East Africa and 2021 Flanders composites; another season, region or compositing method",
        "  shifts the inputs. Retrain with the bank's own labelled samples.",
        "- Sentinel-1, elevation and Dynamic World are not supplied (masked), so the encoder sees fewer tokens than",
        "  in its pre-training.",
        "- Pixels without any clear Sentinel-2 month get 1/K for every class (no evidence).",
        "",
        "## Retrain",
        "",
        "`agrisense train crop-type --arch presto --samples SAMPLES.parquet --out models/croptype_presto "
        f"--seed {trained['seed']}`",
        "",
        training_facts(report),
        "",
    ]
    return "\n".join(lines)


def write_presto_card(report: dict[str, Any], out_dir: Path) -> Path:
    return write_card(report, out_dir, render_presto_card)
