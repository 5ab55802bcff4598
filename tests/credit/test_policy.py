from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agrisense.credit.policy import Ramp, load_policy, parse_policy
from agrisense.errors import NotFound, PolicyError

from_default = Path(__file__).resolve().parents[2] / "agrisense" / "credit" / "policies" / "default.yaml"


def test_default_policy(policy):
    assert policy.version == "2026.6" and policy.currency == "CNY"
    assert policy.pricing.apr_cap == 0.15
    assert [t.share for t in policy.schedule.tranches] == [0.6, 0.4]


@pytest.mark.parametrize(("value", "factor"), [(0.95, 1.0), (0.9, 1.0), (0.7, 0.75), (0.5, 0.5), (0.1, 0.5)])
def test_ramp_higher_is_better(value, factor):
    assert Ramp(good=0.9, bad=0.5, floor=0.5).factor(value) == pytest.approx(factor)


@pytest.mark.parametrize(("value", "factor"), [(0.0, 1.0), (0.1, 1.0), (0.3, 0.75), (0.5, 0.5), (2.0, 0.5)])
def test_ramp_lower_is_better(value, factor):
    assert Ramp(good=0.1, bad=0.5, floor=0.5).factor(value) == pytest.approx(factor)


def _raw() -> dict:
    return yaml.safe_load(from_default.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d["limits"].update(advance_rate=1.5), "limits.advance_rate"),
        (lambda d: d["pricing"].pop("lgd"), "pricing.lgd"),
        (lambda d: d["thresholds"].update(pd_refer=0.01), "pd_refer"),
        (lambda d: d["scorecard"]["coefficients"].pop("leverage"), "leverage"),
        (lambda d: d["schedule"]["tranches"][0].update(share=0.9), "tranche shares"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["haircuts"]["clear_fraction"].update(floor=2), "haircuts.clear_fraction.floor"),
        (lambda d: d["haircuts"].update(crop_probability={"good": 0.9, "bad": 0.5, "floor": 0.5}), "crop_probability"),
        (lambda d: d["scorecard"]["coefficients"].update(crop_uncertainty=2.0), "crop_uncertainty"),
        (lambda d: d["thresholds"].update(pd_approve={"maize": 0.05}), "missing"),
        (lambda d: d["thresholds"]["pd_approve"].update(rice=0.05), "rice"),
    ],
)
def test_bad_policy_names_the_key(edit, key):
    data = _raw()
    edit(data)
    with pytest.raises(PolicyError, match=key):
        parse_policy(data)


def test_bad_files(tmp_path: Path):
    with pytest.raises(NotFound):
        load_policy(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="YAML"):
        load_policy(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(listed)
