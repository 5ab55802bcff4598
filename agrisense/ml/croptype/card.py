"""``MODEL_CARD.md`` for a crop-type bundle, rendered from the training report in ``bundle.json``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

SOURCES = """\
Training table: `dev_samples.parquet` (see `shared/data/real/PROVENANCE.md`, section 1). Labels from WorldCereal
Reference Data Module collections (`2017_UGA_WFP-field-survey_POLY_111`, `2017_SSD_WFP-field-survey_POLY_111`,
`2017_SSD_ESA-project-Sen2Agri_POLY_111`, `2017_SSD_ESA-project-Sen2Agri_POINT_100`,
`2017_UGA_RadiantEarth-01_POLY_110`, `2017_AF_One-Acre-Fund-MEL_POINT_110`, `2021_BEL_LPIS-Flanders_POLY_110`),
via `WorldCereal/worldcereal-classification` (MIT) test resources; each RDM collection carries its own licence
(https://rdm.esa-worldcereal.org) - check it before redistributing these weights beyond this project. Inputs:
Copernicus Sentinel-2 L2A monthly composites (free and open)."""


def _row(name: str, s: dict[str, Any]) -> str:
    return f"| {name} | {s['n']} | {s['overall_accuracy']:.3f} | {s['macro_f1']:.3f} | {s['majority_accuracy']:.3f} |"


def _temperature_reading(cal: dict[str, Any]) -> str:
    t = cal["temperature"]
    if abs(t - 1) < 0.1:
        return "The blend is already close to calibrated, so T is near 1."
    return f"T {'>' if t > 1 else '<'} 1: the raw blend was {'over' if t > 1 else 'under'}-confident."


def _margin(scores: dict[str, Any]) -> str:
    region = next((r for r in scores if r.startswith("east_africa")), "pooled")
    s = scores[region]["blend"]
    gain = 100 * (s["overall_accuracy"] - s["majority_accuracy"])
    return f"{gain:.0f} points of accuracy above always predicting the majority class ({region}, spatial CV);"


def render_card(report: dict[str, Any]) -> str:
    """Markdown: data, classes, CV metrics per region and model part, calibration, limits, how to retrain."""
    trained, cv = report["trained_on"], report["cv"]
    scores, cal = cv["scores"], cv["calibration"]
    lines = [
        "# Model card: croptype_tcnn",
        "",
        "Crop type of a point sample from 12 monthly Sentinel-2 composites (10 bands, 10 normalised-difference",
        "indices, the same indices minus their per-sample seasonal mean, and a clear-month flag): the mean",
        f"log-probability of a seeded ensemble of {trained['fit']['members']} TempCNNs (flatten head) and a "
        f"{trained['fit']['forest']['n_trees']}-tree random forest, temperature-scaled. "
        "Code: `agrisense/ml/croptype/`; docs: `docs/croptype.md` (experiments and their grouped-CV numbers).",
        "",
        "## Data",
        "",
        SOURCES,
        "",
        f"{trained['n_samples']} samples used ({trained['regions']}); {trained['n_dropped_rare']} samples of classes "
        f"with fewer than 3 samples dropped: {', '.join(trained['dropped_classes']) or 'none'}. Label synonyms "
        "(Flanders LPIS names -> East Africa groups) are listed in `bundle.json` and `docs/croptype.md`.",
        "",
        "## Classes (training counts)",
        "",
        ", ".join(f"`{c}` {n}" for c, n in trained["class_counts"].items()),
        "",
        f"## Spatially grouped {cv['n_folds']}-fold cross-validation",
        "",
        f"Samples closer than {cv['group_distance_m']:.0f} m (chained) form one group ({cv['n_groups']} groups); a "
        "group never straddles folds. Every number is out-of-fold. Majority = always predicting the region's most "
        "frequent class.",
        "",
        "| evaluated on / model | n | OA | macro-F1 | majority OA |",
        "|---|---:|---:|---:|---:|",
    ]
    for region, parts in scores.items():
        for part, s in parts.items():
            lines.append(_row(f"{region} / {part}", s))
    for region, parts in scores.items():
        f1 = parts["blend"]["f1"]
        lines += ["", f"Per-class F1, {region} (blend): " + ", ".join(f"{c} {v:.2f}" for c, v in f1.items())]
    lines += [
        "",
        "`confusion_matrix.png`: East Africa out-of-fold predictions.",
        "",
        "## Calibration",
        "",
        f"Temperature {cal['temperature']:.3f}, fitted on the out-of-fold log-probabilities. ECE (15 bins) "
        f"{cal['ece_before']:.3f} before, {cal['ece_after_in_sample']:.3f} after (same data), "
        f"{cal['ece_after_cross_fitted']:.3f} after with T fitted on the other folds; NLL {cal['nll_before']:.3f} "
        f"-> {cal['nll_after_in_sample']:.3f} / {cal['nll_after_cross_fitted']:.3f}. {_temperature_reading(cal)}",
        "",
        "## Limits",
        "",
        "- Little data: classes with < 20 samples (pulses, sunflower, fibre, root crops) are essentially never "
        "right; macro-F1 is low. Sorghum vs maize is learned with some skill, oilseeds and trees a little.",
        f"- {_margin(scores)} do not use a single prediction as proof of a crop - use the probability, and verify "
        "low-probability plots.",
        "- Trained on 2017 East Africa and 2021 Flanders composites; another season, region or compositing "
        "method shifts the inputs. Retrain on the bank's own labelled samples.",
        "- Samples with no clear month get the most frequent training class with probability 1/K (no evidence).",
        "- `potatoes` pools East Africa sweet potatoes with Flanders potatoes (WorldCereal's grouping); with 3 "
        "samples it is not learned.",
        "",
        "## Retrain",
        "",
        "`agrisense train crop-type --samples SAMPLES.parquet --out models/croptype_tcnn --seed 20261122`",
        "",
        training_facts(report),
        "",
    ]
    return "\n".join(lines)


def training_facts(report: dict[str, Any]) -> str:
    """The card's last line: seed, device and training time."""
    trained, timing = report["trained_on"], report["timing_s"]
    return (
        f"Training facts: seed {trained['seed']}, device {trained['device']}, total {timing['total']} s "
        f"(cross-validation {timing['cv']} s)."
    )


def write_card(report: dict[str, Any], out_dir: Path, render: Callable[[dict[str, Any]], str] | None = None) -> Path:
    """``out_dir/MODEL_CARD.md`` rendered by ``render`` (default: the TempCNN card)."""
    path = out_dir / "MODEL_CARD.md"
    path.write_text((render or render_card)(report))
    return path
