import numpy as np
import pytest
import torch

from agrisense.errors import InvalidInput
from agrisense.ml.calibration import scaled_softmax
from agrisense.ml.features import standardise
from agrisense.ml.inference import predict_logits, predict_probabilities
from agrisense.ml.registry import LoadedModel

from .helpers import Pointwise, tiny_bundle, tiny_unet


def _features(c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.5, 2.0, size=(c, h, w)).astype(np.float32)


@pytest.mark.parametrize("shape", [(45, 77), (5, 3), (150, 97)])
def test_probabilities_sum_to_one_for_any_size(shape):
    model = tiny_unet(tiny_bundle())
    probs = predict_probabilities(model, _features(4, *shape), tile=64, overlap=16, batch_size=3)
    assert probs.shape == (5, *shape) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert np.all(probs >= 0)


def test_tiled_blend_equals_full_forward_for_a_pointwise_model():
    bundle = tiny_bundle(classes=("non_crop", "maize", "beans"))
    model = LoadedModel(bundle=bundle, module=Pointwise(4, 3).eval(), device=torch.device("cpu"))
    x = _features(4, 101, 83)
    tiled = predict_logits(model, x, tile=32, overlap=12, batch_size=5)
    with torch.inference_mode():
        z = torch.from_numpy(standardise(x, bundle.channel_mean, bundle.channel_std))[None]
        full = model.module(z)[0].numpy()
    np.testing.assert_allclose(tiled, full, atol=1e-5)


def test_one_tile_covering_the_image_is_a_single_forward_with_reflected_context():
    model = tiny_unet(tiny_bundle())
    x = _features(4, 96, 96, seed=2)
    whole = predict_logits(model, x, tile=128, overlap=32)  # one tile covers everything
    with torch.inference_mode():
        padded = np.pad(
            standardise(x, model.bundle.channel_mean, model.bundle.channel_std),
            ((0, 0), (16, 16), (16, 16)),
            mode="reflect",
        )
        single = model.module(torch.from_numpy(padded)[None])[0, :, 16:-16, 16:-16].numpy()
    np.testing.assert_allclose(whole, single, atol=1e-5)


def test_temperature_is_applied_and_runs_are_deterministic():
    model = tiny_unet(tiny_bundle(temperature=2.5))
    x = _features(4, 40, 50)
    logits = predict_logits(model, x, tile=32, overlap=8)
    probs = predict_probabilities(model, x, tile=32, overlap=8)
    np.testing.assert_allclose(probs, scaled_softmax(logits, 2.5, axis=0), atol=1e-6)
    np.testing.assert_array_equal(probs, predict_probabilities(model, x, tile=32, overlap=8))


def test_bad_requests():
    model = tiny_unet(tiny_bundle())
    with pytest.raises(InvalidInput, match="expects \\(4, H, W\\)"):
        predict_probabilities(model, _features(3, 20, 20))
    with pytest.raises(InvalidInput, match="multiple of 8"):
        predict_probabilities(model, _features(4, 20, 20), tile=30)
    with pytest.raises(InvalidInput, match="overlap"):
        predict_probabilities(model, _features(4, 20, 20), tile=32, overlap=32)
