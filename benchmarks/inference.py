"""Inference benchmark: pipeline throughput of ``predict_probabilities`` vs a bare forward on the same tiles.

Pipeline: raw features ``(C, H, W)`` in host memory → standardise, pad, cut tiles, batched forward
(inference_mode, bf16 autocast on CUDA), blend, calibrated softmax → ``(K, H, W)`` probabilities on the host.
Raw: the model alone on the same tiles (same tile size, count and batch size), already standardised and already
on the device, timed with the device synchronised. Goal: pipeline >= 0.8x raw. A third number, "raw from host",
includes the host→device copy of the tiles, the least any pipeline has to do.

    python benchmarks/inference.py [--size 1024] [--batch-size 4] [--repeat 2] [--device auto] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from agrisense.ml.features import standardise
from agrisense.ml.inference import _round_up, _starts, predict_probabilities
from agrisense.ml.registry import load_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--size", type=int, default=1024, help="square input side in pixels")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    model = load_model(args.models, "landcover_unet", device=args.device)
    device, bundle = model.device, model.bundle
    rng = np.random.default_rng(0)
    mean, std = np.array(bundle.channel_mean), np.array(bundle.channel_std)
    features = mean[:, None, None] + std[:, None, None] * rng.standard_normal(
        (bundle.in_channels, args.size, args.size)
    )
    features = features.astype(np.float32)
    features[:, rng.random((args.size, args.size)) < 0.05] = np.nan  # some cloud gaps
    pixels = args.size * args.size

    # the pipeline's tiles: same geometry as predict_logits
    margin = args.overlap // 2
    side = min(args.tile, _round_up(args.size + 2 * margin, 32))
    padded = np.pad(
        standardise(features, bundle.channel_mean, bundle.channel_std),
        ((0, 0), (margin,) * 2, (margin,) * 2),
        mode="reflect",
    )
    starts = _starts(padded.shape[1], side, args.overlap)
    tiles = [padded[:, r : r + side, c : c + side] for r in starts for c in starts]
    host_batches = [
        torch.from_numpy(np.stack(tiles[i : i + args.batch_size])) for i in range(0, len(tiles), args.batch_size)
    ]
    dev_batches = [b.to(device) for b in host_batches]

    def raw(batches: list[torch.Tensor]) -> float:
        _sync(device)
        t = time.perf_counter()
        with torch.inference_mode():
            for b in batches:
                b = b.to(device, non_blocking=False)
                if device.type == "cuda":
                    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                        model.module(b)
                else:
                    model.module(b)
        _sync(device)
        return time.perf_counter() - t

    def pipeline() -> float:
        _sync(device)
        t = time.perf_counter()
        predict_probabilities(model, features, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size)
        _sync(device)
        return time.perf_counter() - t

    raw(dev_batches[:1])  # warm-up (cuDNN autotune, allocator)
    pipeline()
    results: dict[str, list[float]] = {"pipeline": [], "raw": [], "raw_from_host": []}
    for _ in range(args.repeat):
        results["pipeline"].append(pipeline())
        results["raw"].append(raw(dev_batches))
        results["raw_from_host"].append(raw(host_batches))
    best = {k: min(v) for k, v in results.items()}
    report = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "input": [bundle.in_channels, args.size, args.size],
        "tiles": len(tiles),
        "tile": side,
        "batch_size": args.batch_size,
        "seconds_best_of": args.repeat,
        "seconds": {k: round(v, 4) for k, v in best.items()},
        "megapixels_per_s": {k: round(pixels / v / 1e6, 3) for k, v in best.items()},
        "pipeline_vs_raw": round(best["raw"] / best["pipeline"], 3),
        "pipeline_vs_raw_from_host": round(best["raw_from_host"] / best["pipeline"], 3),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
