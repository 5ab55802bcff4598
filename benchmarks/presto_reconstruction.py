"""Is our Presto right? The pretrained decoder's reconstruction of hidden real Sentinel-2 values under each
plausible input convention (docs/croptype.md, *Is our Presto right?*).

For every variant (the order of month / channel-group / position embeddings, precipitation units, month index,
weather, reflectance offset) the real dev samples are converted, part of each series is hidden (whole months, or
single tokens), encoded, decoded, and the mean squared error on the hidden Sentinel-2 values is compared with the
baseline "the pixel's mean of that band over its visible months". The encoder and decoder were pre-trained
together, so only the conventions they were trained with give a low error. About 2 min on one CPU thread.

    .venv/bin/python benchmarks/presto_reconstruction.py --samples ../shared/data/real/crop_samples/dev_samples.parquet
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from agrisense.ml.presto import encoder_weights_path, load_encoder, presto_inputs, series_from_table
from agrisense.ml.presto.decoder import load_decoder
from agrisense.ml.presto.encoder import EMBEDDING_ORDER
from agrisense.ml.presto.inputs import DAYS_IN_MONTH, MonthlySeries, PrestoInputs
from agrisense.ml.presto.reconstruction import hidden_mse, hide_months, hide_tokens, reconstruct, visible_mean

REPO = Path(__file__).resolve().parent.parent
Convert = Callable[[MonthlySeries], PrestoInputs]


def _monthly_totals(series: MonthlySeries) -> PrestoInputs:
    """The README's literal reading: the month's total precipitation in metres / 0.03."""
    if series.precip_mm is None:
        raise SystemExit("the sample table has no precip_mm_mXX columns; the precipitation variants need them")
    months = (series.first_month[:, None] + np.arange(series.s2.shape[1])[None, :]) % 12
    return presto_inputs(replace(series, precip_mm=series.precip_mm * DAYS_IN_MONTH[months]))


def _conversions() -> dict[str, Convert]:
    return {
        "as shipped: daily-mean precipitation": presto_inputs,
        "monthly-total precipitation (README literally)": _monthly_totals,
        "no weather (masked)": lambda s: presto_inputs(replace(s, precip_mm=None, tmean_c=None)),
        "month index 1-based (January = 1)": lambda s: presto_inputs(replace(s, first_month=(s.first_month + 1) % 12)),
        "reflectance + 1,000 DN (BOA offset not removed)": lambda s: presto_inputs(replace(s, s2=s.s2 + 1000)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, required=True)
    parser.add_argument("--fraction", type=float, default=0.3, help="share of months / tokens hidden")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    weights = encoder_weights_path(REPO / "models")
    series = series_from_table(pd.read_parquet(args.samples))
    runs = [(name, EMBEDDING_ORDER, convert) for name, convert in _conversions().items()]
    runs += [
        (f"embedding order {'-'.join(order)}", order, presto_inputs)
        for order in itertools.permutations(EMBEDDING_ORDER)
        if order != EMBEDDING_ORDER
    ]
    start = time.perf_counter()
    rows = []
    for name, order, convert in runs:
        encoder, decoder = load_encoder(weights, order), load_decoder(weights, order)
        inputs = convert(series)
        row: dict[str, object] = {"variant": name}
        for strategy, hide in (("months", hide_months), ("tokens", hide_tokens)):
            hidden = hide(inputs, args.fraction, args.seed)
            error = hidden_mse(reconstruct(encoder, decoder, hidden.inputs), hidden)
            row[f"{strategy}_mse"] = round(error, 5)
            row[f"{strategy}_ratio"] = round(error / hidden_mse(visible_mean(hidden), hidden), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"samples": len(series.lat), "fraction": args.fraction, "wall_s": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
