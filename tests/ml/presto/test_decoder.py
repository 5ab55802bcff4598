"""The published decoder loads strictly and, with the encoder, reconstructs hidden Sentinel-2 values; the
reconstruction check tells the shipped embedding order from a wrong one; hiding is per pixel and scored right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agrisense.errors import InvalidInput, ModelUnavailable
from agrisense.ml.presto import encoder_weights_path, load_encoder, presto_inputs, series_from_table
from agrisense.ml.presto.decoder import PrestoDecoder, load_decoder
from agrisense.ml.presto.encoder import CHANNELS, EMBEDDING_ORDER
from agrisense.ml.presto.reconstruction import (
    S2_CHANNELS,
    Hidden,
    hidden_mse,
    hide_months,
    hide_tokens,
    reconstruct,
    visible_mean,
)
from agrisense.resources import resource_path
from tests.ml.croptype.helpers import synthetic_table

WEIGHTS = encoder_weights_path(resource_path("models"))
needs_weights = pytest.mark.skipif(not WEIGHTS.is_file(), reason=f"Presto weights not at {WEIGHTS}")


@pytest.fixture(scope="module")
def inputs():
    table = synthetic_table(n_per_class=8)
    table[[f"precip_mm_m{m:02d}" for m in range(12)]] = 60.0
    table[[f"tmean_c_m{m:02d}" for m in range(12)]] = 24.0
    return presto_inputs(series_from_table(table))


@needs_weights
def test_published_decoder_loads_strictly_and_reconstructs_every_channel(inputs) -> None:
    decoder = load_decoder(WEIGHTS)
    state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    assert set(decoder.state_dict()) == {k.removeprefix("decoder.") for k in state if k.startswith("decoder.")}
    assert torch.equal(decoder.channel_embeddings.weight, state["encoder.channel_embed.weight"])  # shared
    out = reconstruct(load_encoder(WEIGHTS), decoder, inputs)
    assert out.shape == inputs.x.shape == (len(inputs), 12, len(CHANNELS)) and np.isfinite(out).all()


@needs_weights
def test_the_shipped_embedding_order_reconstructs_far_better_than_a_wrong_one(inputs) -> None:
    hidden = hide_tokens(inputs, 0.3, seed=0)
    errors = {}
    for order in (EMBEDDING_ORDER, ("channel", "position", "month")):
        errors[order] = hidden_mse(
            reconstruct(load_encoder(WEIGHTS, order), load_decoder(WEIGHTS, order), hidden.inputs), hidden
        )
    assert errors[EMBEDDING_ORDER] * 3 < errors[("channel", "position", "month")]


def test_hiding_months_hides_whole_months_keeps_one_and_scores_only_what_was_there(inputs) -> None:
    before = inputs.mask.copy()
    hidden = hide_months(inputs, 0.3, seed=1)
    s2 = list(S2_CHANNELS)
    newly = (hidden.inputs.mask[..., s2] == 1) & (inputs.mask[..., s2] == 0)
    assert np.array_equal(newly, hidden.hidden[..., s2])
    per_month = hidden.hidden[..., s2].any(axis=-1)
    assert (per_month.sum(axis=1) >= 1).all()
    still_clear = (hidden.inputs.mask[..., s2] == 0).any(axis=-1)
    assert still_clear.any(axis=1).all()
    assert (hidden.inputs.x[hidden.hidden] == 0).all() and np.array_equal(hidden.truth, inputs.x)
    assert np.array_equal(inputs.mask, before)  # the caller's inputs are untouched


def test_hidden_mse_is_zero_for_the_truth_and_the_baseline_uses_visible_months_only(inputs) -> None:
    hidden = hide_tokens(inputs, 0.5, seed=2)
    assert hidden_mse(hidden.truth, hidden) == 0.0
    guess = visible_mean(hidden)
    visible = hidden.inputs.mask[0, :, 2] == 0
    assert np.isclose(guess[0, 0, 2], inputs.x[0, visible, 2].mean())


def test_bad_fractions_and_nothing_hidden_are_refused(inputs) -> None:
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        hide_months(inputs, 1.0, seed=0)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        hide_tokens(inputs, 0.0, seed=0)
    hidden = hide_months(inputs, 0.3, seed=0)
    empty = Hidden(hidden.inputs, np.zeros_like(hidden.hidden), hidden.truth)
    with pytest.raises(InvalidInput, match="nothing was hidden"):
        hidden_mse(hidden.truth, empty)


def test_a_decoder_that_does_not_fit_is_refused_with_a_hint(tmp_path: Path) -> None:
    state = {f"decoder.{k}": v for k, v in PrestoDecoder().state_dict().items() if k != "mask_token"}
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ModelUnavailable, match="no decoder that fits"):
        load_decoder(tmp_path / "bad.pt")
    with pytest.raises(ModelUnavailable, match="no Presto weights"):
        load_decoder(tmp_path / "missing.pt")
