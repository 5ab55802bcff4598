import pytest
import torch

from agrisense.errors import InvalidInput
from agrisense.ml.unet import build_model, count_parameters


def test_forward_shape_and_size():
    model = build_model(126, 5).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 126, 48, 80))
    assert out.shape == (2, 5, 48, 80)
    assert model.input_multiple == 16
    assert not any(name.startswith("unet.encoder.layer4") for name, _ in model.named_parameters())
    assert count_parameters(model) < 4_000_000  # < 8 MB as fp16


def test_without_stem_and_bad_decoder():
    model = build_model(6, 3, encoder_depth=3, decoder_channels=(32, 16, 8), stem_channels=None).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 6, 24, 40)).shape == (1, 3, 24, 40)
    with pytest.raises(InvalidInput, match="one entry per encoder stage"):
        build_model(6, 3, encoder_depth=4, decoder_channels=(32, 16))
