import json

import numpy as np
import pytest
import torch

from agrisense.errors import ModelUnavailable
from agrisense.ml.inference import predict_probabilities
from agrisense.ml.registry import ModelBundle, load_model, read_bundle, save_bundle, weights_digest

from .helpers import tiny_bundle, tiny_unet


def test_round_trip(tmp_path):
    model = tiny_unet(tiny_bundle(temperature=1.7, metrics={"test": {"macro_f1": 0.5}}))
    save_bundle(model.module, model.bundle, tmp_path / "landcover_unet")
    loaded = load_model(tmp_path, device="cpu")
    assert loaded.bundle == model.bundle
    assert not loaded.module.training and loaded.device == torch.device("cpu")
    state = torch.load(tmp_path / "landcover_unet" / "model.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    x = np.random.default_rng(0).normal(size=(4, 40, 40)).astype(np.float32)
    a = predict_probabilities(model, x, tile=32, overlap=8)
    b = predict_probabilities(loaded, x, tile=32, overlap=8)
    np.testing.assert_allclose(a, b, atol=5e-3)  # fp16 weights


def test_missing_and_incompatible(tmp_path):
    with pytest.raises(ModelUnavailable, match="agrisense train cropland"):
        load_model(tmp_path / "nowhere")
    model = tiny_unet(tiny_bundle())
    save_bundle(model.module, model.bundle, tmp_path / "m")
    bundle = json.loads((tmp_path / "m" / "bundle.json").read_text())
    (tmp_path / "m" / "bundle.json").write_text(json.dumps({**bundle, "months": [3, 4, 5]}))
    with pytest.raises(ModelUnavailable, match="normalisation channels"):
        load_model(tmp_path, "m")
    other = tiny_bundle(n_bands=3, decoder_channels=(16, 8, 8))
    (tmp_path / "m" / "bundle.json").write_text(json.dumps(other.to_json()))
    with pytest.raises(ModelUnavailable, match="do not match"):
        load_model(tmp_path, "m")
    (tmp_path / "m" / "model.pt").write_bytes(b"garbage")
    with pytest.raises(ModelUnavailable, match="do not match"):
        load_model(tmp_path, "m")
    (tmp_path / "m" / "bundle.json").write_text("{not json")
    with pytest.raises(ModelUnavailable, match="not a valid"):
        read_bundle(tmp_path / "m")


def test_bundle_json_round_trip():
    bundle = tiny_bundle()
    assert ModelBundle.from_json(json.loads(json.dumps(bundle.to_json()))) == bundle


def test_weights_digest_names_the_land_cover_weights_not_the_boundary_head():
    state = tiny_unet(tiny_bundle()).module.state_dict()
    digest = weights_digest(state)
    assert len(digest) == 8 and int(digest, 16) >= 0 and weights_digest(dict(state)) == digest
    other_head = {
        k: (v + 1 if k.startswith("boundary_head.") and v.is_floating_point() else v) for k, v in state.items()
    }
    assert weights_digest(other_head) == digest  # the head is trained later on a frozen network
    key = next(k for k, v in state.items() if not k.startswith("boundary_head.") and v.is_floating_point())
    assert weights_digest({**state, key: state[key] + 0.01}) != digest
