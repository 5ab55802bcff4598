"""``train_landcover``: region folder in, model bundle (weights, bundle.json, model card, figure) out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agrisense.errors import InvalidInput
from agrisense.ml.dataset import BlockSplit, block_split
from agrisense.ml.features import DEFAULT_BANDS, DEFAULT_INDICES, DEFAULT_MONTHS, standardise
from agrisense.ml.metrics import plot_confusion_matrix
from agrisense.ml.registry import LoadedModel, ModelBundle, load_model, resolve_device, save_bundle, weights_digest
from agrisense.ml.training.boundary import (
    BoundaryConfig,
    boundary_card_section,
    evaluate_fields,
    fit_boundary_head,
    replace_card_section,
)
from agrisense.ml.training.card import write_model_card
from agrisense.ml.training.evaluate import evaluate
from agrisense.ml.training.fit import FitConfig, LabelledRegion, fit_landcover
from agrisense.ml.training.region import (
    check_same_classes,
    load_training_region,
    pooled_statistics,
    region_for_bundle,
)
from agrisense.ml.unet import LandcoverUNet, count_parameters

logger = logging.getLogger("agrisense.ml.training")
EVAL_RESERVE_S = 90.0  # kept back from the time budget for full-region inference, calibration and writing


@dataclass(frozen=True)
class TrainReport:
    """What a training run produced and measured."""

    out_dir: Path
    model_version: str
    device: str
    epochs_run: int
    best_epoch: int
    train_loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    fit_seconds: float
    total_seconds: float
    temperature: float
    metrics: dict[str, Any]
    weights_bytes: int
    n_parameters: int


def train_landcover(
    region_dir: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    epochs: int = 30,
    tile: int = 128,
    device: str = "auto",
    max_minutes: float = 15,
    tiles_per_epoch: int = 128,
    batch_size: int = 8,
    name: str = "landcover_unet",
    bands: Sequence[str] = DEFAULT_BANDS,
    indices: Sequence[str] = DEFAULT_INDICES,
    months: Sequence[int] = DEFAULT_MONTHS,
    use_cache: bool = True,
    boundary_epochs: int = 40,
    more_regions: Sequence[Path] = (),
    log: Callable[[str], None] = logger.info,
) -> TrainReport:
    """Train the land-cover U-Net on a region with truth and write the bundle to ``out_dir``.

    Composites come from ``agrisense.imagery`` (cached under ``Settings.cache_dir``: ``composite_cache_path``);
    the region is split into 4x4 spatial blocks (3 val, 3 test, fields kept whole); the model is trained with
    class-weighted cross-entropy, calibrated by temperature scaling on val and evaluated on test pixels and fields.
    ``max_minutes`` bounds the whole run: epochs stop early when it would be overrun. Then the field-boundary
    head is trained on the frozen network (``boundary_epochs``; 0 = none) and scored on whole test fields.

    ``more_regions`` (regions with the same crops) add training tiles: each has its own block split, so its val
    blocks join validation and temperature scaling and its test blocks stay unseen (scored in
    ``metrics["regions"]``); the normalisation statistics pool every region's training blocks. ``region_dir``
    stays the main region: it names ``trained_on``, its test blocks give the main metrics, and the boundary
    head is trained on it.
    """
    start = time.perf_counter()
    region_dir, out_dir = Path(region_dir), Path(out_dir)
    if epochs < 1 or tile < 16 or max_minutes <= 0:
        raise InvalidInput(f"need epochs >= 1, tile >= 16 and max_minutes > 0; got {epochs}, {tile}, {max_minutes}")
    torch_device = resolve_device(device)
    regions = [
        load_training_region(
            Path(folder), bands=bands, indices=indices, months=months, seed=seed, use_cache=use_cache, log=log
        )
        for folder in (region_dir, *more_regions)
    ]
    main, others = regions[0], regions[1:]
    check_same_classes(main, others)
    meta, features, truth, split = main.meta, main.features, main.truth, main.split
    n_classes = len(truth.classes)
    counts = main.labelled_pixels()
    for region in regions:
        log(f"{region.folder}: features {region.features.shape}, labelled pixels per split {region.labelled_pixels()}")
    log(f"device {torch_device}")
    mean, std = pooled_statistics(regions)

    budget = max_minutes * 60 - (time.perf_counter() - start) - EVAL_RESERVE_S
    config = FitConfig(
        tile=tile,
        epochs=epochs,
        tiles_per_epoch=tiles_per_epoch,
        batch_size=batch_size,
        seed=seed,
        max_seconds=max(budget, 1.0),
    )
    fit = fit_landcover(
        standardise(features, mean.tolist(), std.tolist()),
        truth.labels,
        split,
        n_classes,
        config,
        torch_device,
        log=log,
        more=[
            LabelledRegion(standardise(r.features, mean.tolist(), std.tolist()), r.truth.labels, r.split)
            for r in others
        ],
    )
    version = f"{datetime.now(UTC):%Y.%m.%d}+seed{seed}.{weights_digest(fit.module.state_dict())}"
    bundle = ModelBundle(
        name=name,
        version=version,
        classes=truth.classes,
        bands=tuple(bands),
        indices=tuple(indices),
        months=tuple(int(m) for m in months),
        channel_mean=tuple(float(v) for v in mean),
        channel_std=tuple(float(v) for v in std),
        encoder=config.encoder,
        encoder_depth=config.encoder_depth,
        decoder_channels=config.decoder_channels,
        stem_channels=config.stem_channels,
    )
    log("evaluating on the whole region (calibration on val blocks, metrics on test blocks)")
    loaded = LoadedModel(bundle=bundle, module=fit.module, device=torch_device)
    evaluation = evaluate(
        loaded,
        features,
        truth.labels,
        split,
        truth.field_ids,
        truth.field_classes,
        batch_size=4,
        seed=seed,
        more=others,
    )
    total = time.perf_counter() - start
    trained_on = {
        "region": meta.get("name"),
        "region_seed": meta.get("seed"),
        "generator_version": meta.get("generator_version"),
        "synthetic": bool(meta.get("synthetic", False)),
        "imagery": [meta["imagery_start"], meta["imagery_end"]],
        "shape": list(features.shape[1:]),
        "labelled_pixels": counts,
        "split_blocks": split.blocks.tolist(),
        "training_seed": seed,
        "tile": config.tile,
        "weight_decay": config.weight_decay,
        "input_noise": config.input_noise,
        "stem_dropout": config.stem_dropout,
        "tiles_per_epoch": config.tiles_per_epoch,
        "batch_size": config.batch_size,
        "epochs_requested": epochs,
        "max_minutes": max_minutes,
        "device": str(torch_device),
        "epochs_run": len(fit.train_loss),
        "best_epoch": fit.best_epoch + 1,
        "fit_seconds": round(fit.seconds, 1),
        "total_seconds": round(total, 1),
        "class_weights": [round(w, 4) for w in fit.class_weights],
        **({"regions": [r.describe() for r in regions]} if others else {}),
    }
    bundle = replace(bundle, temperature=evaluation.temperature, trained_on=trained_on, metrics=evaluation.to_json())
    save_bundle(fit.module, bundle, out_dir)
    plot_confusion_matrix(
        evaluation.test.confusion,
        truth.classes,
        out_dir / "confusion_matrix.png",
        title=f"{name} {version}: test blocks (row share, pixels)",
    )
    weights_bytes = (out_dir / "model.pt").stat().st_size
    report = TrainReport(
        out_dir=out_dir,
        model_version=version,
        device=str(torch_device),
        epochs_run=len(fit.train_loss),
        best_epoch=fit.best_epoch + 1,
        train_loss=tuple(fit.train_loss),
        val_loss=tuple(fit.val_loss),
        fit_seconds=fit.seconds,
        total_seconds=total,
        temperature=evaluation.temperature,
        metrics=evaluation.to_json(),
        weights_bytes=weights_bytes,
        n_parameters=count_parameters(fit.module),
    )
    write_model_card(out_dir / "MODEL_CARD.md", bundle, evaluation, report_summary(report))
    if boundary_epochs > 0:
        add_boundary_head(
            replace(loaded, bundle=bundle),  # the saved bundle: temperature, training facts and metrics
            features,
            truth.field_ids,
            split,
            out_dir,
            BoundaryConfig(tile=tile, epochs=boundary_epochs, seed=seed),
            log=log,
        )
    log(
        f"wrote {out_dir}: OA {evaluation.test.overall_accuracy:.3f}, "
        f"macro-F1 {evaluation.test.macro_f1:.3f}, "
        f"T {evaluation.temperature:.3f}, {total:.0f} s"
    )
    return report


def report_summary(report: TrainReport) -> dict[str, Any]:
    """The run facts the model card quotes."""
    return {
        "device": report.device,
        "epochs_run": report.epochs_run,
        "best_epoch": report.best_epoch,
        "fit_seconds": round(report.fit_seconds, 1),
        "total_seconds": round(report.total_seconds, 1),
        "weights_mb": round(report.weights_bytes / 1e6, 2),
        "n_parameters": report.n_parameters,
        "final_train_loss": round(report.train_loss[-1], 4) if report.train_loss else float("nan"),
        "best_val_loss": round(float(np.min(report.val_loss)), 4) if report.val_loss else float("nan"),
    }


def train_boundary(
    model_dir: Path,
    region_dir: Path,
    *,
    out_dir: Path | None = None,
    epochs: int = 40,
    tile: int = 128,
    device: str = "auto",
    use_cache: bool = True,
    log: Callable[[str], None] = logger.info,
) -> dict[str, Any]:
    """Train (or retrain) the field-boundary head of the land-cover bundle in ``model_dir`` on ``region_dir``.

    Uses the bundle's own block split (its training seed), so the test blocks stay unseen; the land-cover
    weights are frozen. Writes the bundle to ``out_dir`` (default: in place) and returns the field metrics.
    """
    model_dir = Path(model_dir)
    model = load_model(model_dir.parent, model_dir.name, device=device)
    bundle = model.bundle
    _, features, truth = region_for_bundle(Path(region_dir), bundle, use_cache=use_cache, log=log)
    seed = int(bundle.trained_on.get("training_seed", 0))
    split = block_split(truth.labels, len(truth.classes), seed=seed, field_ids=truth.field_ids)
    recorded = bundle.trained_on.get("split_blocks")
    if recorded is not None and split.blocks.tolist() != recorded:
        raise InvalidInput(
            "this region's block split differs from the one the model was trained with; train the boundary head "
            "on the region the model was trained on (bundle.json trained_on)"
        )
    target_dir = Path(out_dir) if out_dir is not None else model_dir
    if target_dir != model_dir:
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in ("MODEL_CARD.md", "confusion_matrix.png"):
            if (model_dir / name).is_file():
                (target_dir / name).write_bytes((model_dir / name).read_bytes())
    return add_boundary_head(
        model,
        features,
        truth.field_ids,
        split,
        target_dir,
        BoundaryConfig(tile=tile, epochs=epochs, seed=seed),
        log=log,
    )


def add_boundary_head(
    model: LoadedModel,
    features: np.ndarray,
    field_ids: np.ndarray,
    split: BlockSplit,
    out_dir: Path,
    config: BoundaryConfig,
    log: Callable[[str], None] = logger.info,
) -> dict[str, Any]:
    """Fit the boundary head on ``model`` (raw ``features``), score fields, save the bundle and its card."""
    bundle = model.bundle
    module = model.module
    if not isinstance(module, LandcoverUNet):
        raise InvalidInput(f"model {bundle.name!r} is not a land-cover U-Net; it cannot take a boundary head")
    fit = fit_boundary_head(
        module,
        standardise(features, bundle.channel_mean, bundle.channel_std),
        field_ids,
        split,
        config,
        model.device,
        log=log,
    )
    with_head = replace(bundle, boundary_head=True)
    evaluation = evaluate_fields(replace(model, bundle=with_head), features, field_ids, split)
    result = {
        **evaluation.to_json(),
        "training": {
            "epochs_run": len(fit.train_loss),
            "best_epoch": fit.best_epoch,
            "seconds": round(fit.seconds, 1),
            "pos_weight": round(fit.pos_weight, 3),
            "tile": config.tile,
            "tiles_per_epoch": config.tiles_per_epoch,
            "seed": config.seed,
        },
    }
    final = replace(with_head, boundary_threshold=evaluation.threshold, metrics={**bundle.metrics, "fields": result})
    save_bundle(module, final, out_dir)
    card = out_dir / "MODEL_CARD.md"
    if card.is_file():
        card.write_text(replace_card_section(card.read_text(), boundary_card_section(fit, evaluation, config)))
    log(
        f"boundary head: test field F1 {evaluation.test.f1:.3f} (cropland only {evaluation.test_without_head.f1:.3f}), "
        f"threshold {evaluation.threshold}"
    )
    return result
