"""Tables, decision checks and re-score run reading (no Streamlit)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from agrisense.app.dashboard.rescore import find_runs, ndvi_by_month, plot_history, read_run
from agrisense.app.dashboard.views import (
    audit_frame,
    group_exposure,
    queue_frame,
    reasons_frame,
    schedule_frame,
    validate_decision,
)
from agrisense.errors import InvalidInput, NotFound

OFFER = {
    "plot_id": "P1",
    "credit_limit": 900.0,
    "expected_loss": 36.0,
    "disbursements": [
        {"date": "2026-05-23", "amount": 540.0, "payee": "borrower", "condition": None},
        {"date": "2026-06-05", "amount": 360.0, "payee": "borrower", "condition": "emergence_confirmed"},
    ],
    "schedule": [{"date": "2026-11-24", "principal": 900.0, "interest": 59.62, "fees": 4.5, "total": 964.12}],
    "reasons": [
        {
            "code": "NO_WEATHER_HISTORY",
            "kind": "info",
            "message_en": "No weather history.",
            "message_zh": "缺少历史气象数据。",
            "effect": {"limit_haircut": 231.39, "pd_points": -18.8},
        }
    ],
}


@pytest.mark.parametrize(
    ("decision", "reason", "limit", "message"),
    [
        ("approve", "", None, "A reason is required"),
        ("decline", " \n\t", None, "A reason is required"),
        ("change_limit", "smaller loan", None, "positive amount"),
        ("change_limit", "smaller loan", 0.0, "positive amount"),
        ("cancel", "why not", None, "decision must be one of"),
    ],
)
def test_decisions_without_what_they_need_are_refused(
    decision: str, reason: str, limit: float | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_decision(decision, reason, limit)


def test_a_valid_decision_returns_the_trimmed_reason() -> None:
    assert validate_decision("change_limit", "  first loan  ", 650.0) == "first loan"


def test_queue_frame_orders_oldest_first_and_lists_codes() -> None:
    rows = [
        {
            "id": 1,
            "farmer_name": "A",
            "plots": ["P1"],
            "crop": "maize",
            "area_ha": 1.0,
            "engine_decision": "refer",
            "credit_limit": 0.0,
            "reasons": ["LOW_CROP_CONFIDENCE", "AREA_MISMATCH"],
            "age_hours": 2.0,
            "status": "in_review",
        },
        {
            "id": 2,
            "farmer_name": "B",
            "plots": ["P2", "P3"],
            "crop": "beans",
            "area_ha": 2.0,
            "engine_decision": "approve",
            "credit_limit": 800.0,
            "reasons": [],
            "age_hours": 30.0,
            "status": "offered",
        },
    ]
    table = queue_frame(rows)
    assert list(table["id"]) == [2, 1]
    assert table.loc[1, "reasons"] == "LOW_CROP_CONFIDENCE, AREA_MISMATCH"
    assert table.loc[0, "plots"] == "P2, P3"
    assert queue_frame([]).empty


def test_reason_and_schedule_tables_from_the_typed_offer() -> None:
    from decimal import Decimal

    from agrisense.agronomy.calendar import load_crop_table
    from agrisense.config import Settings
    from agrisense.credit.engine import quote
    from agrisense.credit.policy import load_policy

    settings = Settings()
    offer = quote(
        "maize",
        1.5,
        season=2027,
        crops=load_crop_table(settings.reference_dir / "crops.csv"),
        policy=load_policy(settings.policy_file),
    )
    reasons = reasons_frame(offer.reasons)
    assert list(reasons["code"]) == [r.code for r in offer.reasons]
    first = offer.reasons[0]
    assert first.detail_zh and reasons.loc[0, "原因"] == first.detail_zh and reasons.loc[0, "reason"] == first.detail_en
    assert reasons.loc[0, "score_points"] == first.effect.pd_points
    flows = schedule_frame(offer)
    assert list(flows["flow"]) == ["disbursement"] * len(offer.disbursements) + ["repayment"] * len(offer.schedule)
    paid_out = -sum(flows.loc[flows["flow"] == "disbursement", "amount"], Decimal(0))
    assert paid_out == sum(flows["principal"].dropna(), Decimal(0)) == offer.credit_limit > 0


def test_group_exposure_sums_per_group() -> None:
    rows = [
        {"crop": "maize", "exposure": 500.0, "expected_loss": 10.0},
        {"crop": "maize", "exposure": 300.0, "expected_loss": 14.0},
        {"crop": None, "exposure": 100.0, "expected_loss": 1.0},
    ]
    table = group_exposure(rows, "crop").set_index("crop")
    assert table.loc["maize", "loans"] == 2 and table.loc["maize", "exposure"] == 800.0
    assert table.loc["maize", "el_rate"] == pytest.approx(24 / 800)
    assert table.loc["(unknown)", "exposure"] == 100.0
    assert group_exposure([], "village").empty


def test_audit_frame_flattens_details() -> None:
    table = audit_frame(
        [
            {
                "at": "t",
                "actor_role": "analyst",
                "actor_id": 3,
                "action": "approve",
                "reason": "ok",
                "details": {"after": {"status": "offered"}},
            }
        ]
    )
    assert table.loc[0, "details"] == '{"after": {"status": "offered"}}'


def _run(folder: Path, season: int | None, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "plots.parquet")
    if season is not None:
        (folder / "run.json").write_text(json.dumps({"run_id": folder.name, "season": season}))


def test_runs_are_found_in_season_order_and_give_a_plot_history(tmp_path: Path) -> None:
    _run(tmp_path / "b", 2026, [{"plot_id": "P1", "ndvi_by_month": json.dumps({"6": 0.5, "7": 0.7})}])
    _run(tmp_path / "a", 2025, [{"plot_id": "P1", "ndvi_by_month": json.dumps({"6": 0.4, "x": 1})}])
    (tmp_path / "not-a-run").mkdir()
    runs = [read_run(p) for p in find_runs(tmp_path)]
    assert [r.season for r in runs] == [2025, 2026]
    assert plot_history(runs, "P1") == {2025: {6: 0.4}, 2026: {6: 0.5, 7: 0.7}}
    assert plot_history(runs, "P9") == {}
    assert find_runs(tmp_path / "a") == [tmp_path / "a"]  # a single run folder is its own run
    assert find_runs(tmp_path / "missing") == []


def test_ndvi_from_an_offer_and_bad_runs() -> None:
    assert ndvi_by_month({"imagery": {"ndvi_by_month": {"3": 0.1, "13": 0.5, "4": None}}}) == {3: 0.1}
    with pytest.raises(NotFound, match="agrisense rescore"):
        read_run(Path("/nonexistent/run"))


def test_a_broken_run_json_says_how_to_fix_it(tmp_path: Path) -> None:
    _run(tmp_path / "r", None, [{"plot_id": "P1"}])
    (tmp_path / "r" / "run.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="re-run `agrisense rescore`"):
        read_run(tmp_path / "r")


def test_filter_queue_by_reason_limit_and_age_and_sorts() -> None:
    from agrisense.app.dashboard.views import filter_queue, queue_reason_codes

    rows = [
        {"id": 1, "age_hours": 50.0, "proposed_limit": 0.0, "reasons": ["LOW_CROP_CONFIDENCE"], "area_ha": 1.0},
        {"id": 2, "age_hours": 5.0, "proposed_limit": 800.0, "reasons": ["AREA_MISMATCH"], "area_ha": 2.0},
        {
            "id": 3,
            "age_hours": 20.0,
            "proposed_limit": 400.0,
            "reasons": ["AREA_MISMATCH", "NO_WEATHER"],
            "area_ha": 0.5,
        },  # fmt: skip
        {"id": 4, "age_hours": 1.0, "proposed_limit": None, "reasons": [], "area_ha": 3.0},
    ]
    table = queue_frame(rows)
    assert queue_reason_codes(table) == ["AREA_MISMATCH", "LOW_CROP_CONFIDENCE", "NO_WEATHER"]
    assert list(filter_queue(table)["id"]) == [1, 3, 2, 4]  # oldest first
    assert list(filter_queue(table, reason="AREA_MISMATCH")["id"]) == [3, 2]
    assert list(filter_queue(table, limit_range=(0.0, 500.0))["id"]) == [1, 3, 4]  # no limit counts as 0
    assert list(filter_queue(table, min_age_h=10.0, max_age_h=30.0)["id"]) == [3]
    assert list(filter_queue(table, sort="largest proposed limit")["id"])[:2] == [2, 3]
    assert list(filter_queue(table, sort="id")["id"]) == [1, 2, 3, 4]
    assert filter_queue(table, reason="NOPE").empty


def test_queue_shows_pd_sorts_by_it_and_maps_the_slider() -> None:
    from agrisense.app.dashboard.views import filter_queue, pd_bounds

    rows = [
        {"id": 1, "age_hours": 3.0, "pd": 0.02, "reasons": []},
        {"id": 2, "age_hours": 2.0, "pd": None, "reasons": []},
        {"id": 3, "age_hours": 1.0, "pd": 0.09, "reasons": []},
    ]
    table = queue_frame(rows)
    assert list(table["pd"].fillna(-1)) == [0.02, -1, 0.09]
    assert list(filter_queue(table, sort="highest PD")["id"]) == [3, 1, 2]  # no PD last
    assert pd_bounds((0.0, 100.0)) == (None, None)
    assert pd_bounds((2.5, 10.0)) == (0.025, 0.1)
    assert pd_bounds((5.0, 100.0)) == (0.05, None)


def test_crop_header_and_offers_frame_show_one_confidence() -> None:
    from agrisense.app.dashboard.views import crop_confidence, crop_header
    from agrisense.credit.offer import Offer

    offer = Offer.model_construct(plot_id="P1", crop="maize", declared_crop="rice", crop_probability=0.614)
    assert crop_confidence(offer) == "61%"
    assert crop_header("rice", [offer]) == {
        "Declared crop": "rice",
        "Verified crop": "maize",
        "Crop confidence": "61%",
    }
    unverified = Offer.model_construct(plot_id="P2", crop=None, declared_crop="rice", crop_probability=None)
    assert crop_header("rice", [offer, unverified])["Verified crop"] == "maize / not verified"
    assert crop_header("wheat", [])["Declared crop"] == "wheat"


def test_queue_villages_filter_and_map_features() -> None:
    from agrisense.app.dashboard.views import filter_queue, queue_map_features, queue_villages

    square = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}
    plots = {
        "P1": {"village": "Dongcun", "geometry": square},
        "P2": {"village": "Xicun", "geometry": square},
        "P3": {"village": None, "geometry": None},
    }
    rows = [
        {"id": 1, "age_hours": 3.0, "plots": ["P1", "P2"], "engine_decision": "refer"},
        {"id": 2, "age_hours": 2.0, "plots": ["P3"], "engine_decision": "decline"},
        {"id": 3, "age_hours": 1.0, "plots": ["P1"], "engine_decision": None},
    ]
    table = queue_frame(rows, plots)
    assert table.loc[0, "village"] == "Dongcun, Xicun" and pd.isna(table.loc[1, "village"])
    assert queue_villages(table) == ["Dongcun", "Xicun"]
    assert list(filter_queue(table, village="Xicun")["id"]) == [1]
    features = queue_map_features(table, plots)
    assert [(f["plot_id"], f["engine_decision"]) for f in features] == [
        ("P1", "refer"),
        ("P2", "refer"),
        ("P1", "(none)"),
    ]
    assert queue_frame(rows)["village"].isna().all()  # no plot views: no village
