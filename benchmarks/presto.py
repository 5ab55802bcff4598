"""Speed of the Presto crop model (``models/croptype_presto``): one plot's crop (warm latency), pixel throughput,
the pipeline's inference against a bare forward on the same tensors, and the cost of a per-pixel 256 x 256 tile.

Pixels are the real dev samples' series (``--samples``), repeated to ``--pixels``. On CUDA the pipeline runs under
bf16 autocast and the bare forward in fp32 and bf16 (measured only when a GPU is present).

    .venv/bin/python benchmarks/presto.py --samples ../shared/data/real/crop_samples/dev_samples.parquet \\
        --out out/bench/presto.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from agrisense.ml.presto.inputs import PrestoInputs, presto_inputs, series_from_table
from agrisense.ml.presto.model import PrestoCropModel, load_presto_model

REPO = Path(__file__).resolve().parent.parent
TILE_PIXELS = 256 * 256


def _timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> list[float]:
    fn()  # warm-up
    sync()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - start)
    return out


def _repeat(inputs: PrestoInputs, n: int) -> PrestoInputs:
    index = np.arange(n) % len(inputs)
    return PrestoInputs(
        inputs.x[index], inputs.mask[index], inputs.dynamic_world[index], inputs.latlon[index], inputs.month[index]
    )


def flops_per_pixel(tokens: int, dim: int = 128, depth: int = 2, mlp_ratio: int = 4) -> float:
    """Multiply-adds x 2 of the transformer blocks for ``tokens`` kept tokens (embeddings are negligible)."""
    per_block = tokens * dim * dim * (3 + 1 + 2 * mlp_ratio) + 2 * tokens * tokens * dim
    return 2.0 * depth * per_block


def bench(model: PrestoCropModel, inputs: PrestoInputs, device: torch.device, repeats: int) -> dict[str, Any]:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    model.to(device)
    one = _repeat(inputs, 1)
    latency = _timed(lambda: model.predict_proba_inputs(one, device), repeats * 5, sync)
    batch = inputs.to_batch().to(device)

    @torch.inference_mode()
    def bare(dtype: torch.dtype | None) -> None:
        if dtype is None:
            model.head(model.encoder(batch))
        else:
            with torch.autocast(device.type, dtype=dtype):
                model.head(model.encoder(batch))

    pipeline = _timed(lambda: model.predict_proba_inputs(inputs, device), repeats, sync)
    bare_fp32 = _timed(lambda: bare(None), repeats, sync)
    with torch.inference_mode():
        _, keep = model.encoder.tokens(batch)
    kept = float(keep.sum(dim=1).float().mean())
    result: dict[str, Any] = {
        "device": str(device),
        "pixels": len(inputs),
        "one_plot_latency_ms": {"median": 1000 * statistics.median(latency), "max": 1000 * max(latency)},
        "pipeline_s": statistics.median(pipeline),
        "bare_forward_fp32_s": statistics.median(bare_fp32),
        "pipeline_vs_bare": statistics.median(bare_fp32) / statistics.median(pipeline),
        "pixels_per_s": len(inputs) / statistics.median(pipeline),
        "kept_tokens_per_pixel": kept,
        "gflop_per_pixel": flops_per_pixel(round(kept)) / 1e9,
    }
    result["pipeline_autocast"] = "bf16" if device.type == "cuda" else "none (fp32 on CPU)"
    if device.type == "cuda":
        bare_bf16 = _timed(lambda: bare(torch.bfloat16), repeats, sync)
        result["bare_forward_bf16_s"] = statistics.median(bare_bf16)
        result["gpu"] = torch.cuda.get_device_name(device)
    result["tile_256_per_pixel_s"] = TILE_PIXELS / result["pixels_per_s"]
    result["tile_256_tflop"] = TILE_PIXELS * flops_per_pixel(round(kept)) / 1e12
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, required=True, help="wide sample table (.parquet) for real series")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "croptype_presto")
    parser.add_argument("--pixels", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on the shared machine)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_presto_model(args.model)
    inputs = _repeat(presto_inputs(series_from_table(pd.read_parquet(args.samples))), args.pixels)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads {args.threads}",
        "load_average": os.getloadavg(),
        "results": [bench(model, inputs, device, args.repeats) for device in devices],
        "cuda_available": torch.cuda.is_available(),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
