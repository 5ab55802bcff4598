"""PSI and class mix between two re-score runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agrisense.app.dashboard.drift import categorical_psi, class_mix, drift_table, level, psi
from agrisense.errors import InvalidInput


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.1, 5000)
    same = rng.normal(0.5, 0.1, 5000)
    small = rng.normal(0.52, 0.1, 5000)
    big = rng.normal(0.7, 0.1, 5000)
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert psi(base, same) < 0.02
    assert psi(base, same) < psi(base, small) < psi(base, big)
    assert level(psi(base, same)) == "stable"
    assert level(psi(base, big)) == "significant"


def test_psi_matches_the_textbook_formula_on_hand_made_bins() -> None:
    # 100 baseline values 1..100 -> deciles of 10 values; current piles half of its mass into the top decile
    base = np.arange(1, 101, dtype=float)
    cur = np.concatenate([np.arange(1, 51, dtype=float), np.full(50, 100.0)])
    b = np.full(10, 0.1)
    c = np.array([0.1] * 5 + [1e-4] * 4 + [0.5])
    expected = float(np.sum((c - b) * np.log(c / b)))
    assert psi(base, cur) == pytest.approx(expected, rel=1e-6)


def test_a_small_baseline_gets_fewer_wider_bins() -> None:
    # 10 baseline values -> 2 bins (median split); the same spread in the current run is stable
    base = np.linspace(0.4, 0.9, 10)
    assert psi(base, np.linspace(0.41, 0.89, 20)) < 0.01
    # all current values above the baseline median: one bin empties
    b, c = np.array([0.5, 0.5]), np.array([1e-4, 1.0])
    assert psi(base, np.full(20, 0.95)) == pytest.approx(float(np.sum((c - b) * np.log(c / b))))


def test_psi_ignores_missing_values_and_handles_a_constant_baseline() -> None:
    assert psi([0.0, 0.0, np.nan], [0.0, None, 0.0]) == pytest.approx(0.0, abs=1e-9)
    assert psi([0.0] * 10, [0.0] * 5 + [1.0] * 5) > 1.0  # half the book left the only baseline value


def test_psi_refuses_empty_input() -> None:
    with pytest.raises(InvalidInput, match="no numeric values"):
        psi([], [1.0])
    with pytest.raises(InvalidInput, match="at least 2 bins"):
        psi([1.0, 2.0], [1.0], bins=1)


def test_class_mix_shares_and_categorical_psi() -> None:
    mix = class_mix(["maize", "maize", "beans", None], ["maize", "sorghum", "sorghum", "sorghum"])
    table = mix.set_index("class")
    assert table.loc["maize", "baseline_share"] == 0.5
    assert table.loc["sorghum", "current_share"] == 0.75
    assert table.loc["sorghum", "baseline_share"] == 0.0
    assert table.loc["(none)", "baseline_share"] == 0.25
    assert table["baseline_share"].sum() == pytest.approx(1.0)
    assert table["change"].sum() == pytest.approx(0.0)
    assert categorical_psi(["a", "b"], ["a", "b"]) == pytest.approx(0.0)
    assert categorical_psi(["a", "b"], ["a", "a"]) > 0.25


def test_drift_table_lists_the_variables_both_runs_have() -> None:
    base = pd.DataFrame({"pd": [0.05, 0.1, 0.2, 0.08], "crop": ["maize"] * 4, "decision": ["approve"] * 4})
    cur = pd.DataFrame(
        {
            "pd": [0.3, 0.35, 0.4, 0.5],
            "crop": ["maize", "beans", "beans", "beans"],
            "credit_limit": [1.0, 2.0, 3.0, 4.0],
            "decision": ["refer"] * 4,
        }
    )
    table = drift_table(base, cur).set_index("variable")
    assert list(table.index) == ["pd", "crop", "decision"]  # credit_limit is missing from the baseline
    assert table.loc["pd", "level"] == "significant"
    assert table.loc["pd", "current_median"] == pytest.approx(0.375)
    assert table.loc["crop", "kind"] == "class mix"
