"""Two farmers apply at the same moment for overlapping land (#13): exactly one gets it, the other a 409, and the
land is never under two open applications. The farmers' own locks do not serialise them, so the financed-land
check runs under a land lock (PostgreSQL: a transaction advisory lock; SQLite: the database write lock)."""

from __future__ import annotations

import threading

import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import select

from agrisense.errors import Conflict
from agrisense.store import Application, ApplicationPlot, FarmPlot
from tests.loans.test_service import Bank

pytestmark = pytest.mark.slow  # three rounds of two scored submissions (~10 s on SQLite)
ROUNDS = 3


def _race(bank: Bank, round_: int) -> list[str]:
    farmers = [bank.farmer(10 * round_ + k) for k in (1, 2)]
    dx = 0.005 * round_
    plots = [bank.field(farmers[0], 3.0, dx=dx), bank.field(farmers[1], 3.0, dx=dx + 0.0004)]  # most of one field
    results: list[str] = []
    barrier = threading.Barrier(2)

    def submit(k: int) -> None:
        barrier.wait()
        try:
            results.append(bank.apply(farmers[k], plots[k])["status"])
        except Conflict as exc:
            results.append(f"conflict: {exc}")

    threads = [threading.Thread(target=submit, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_farmers_race_for_overlapping_land(bank: Bank) -> None:
    for round_ in range(ROUNDS):
        results = _race(bank, round_)
        assert len(results) == 2, results
        assert sorted(r.split(":")[0] for r in results) in (["conflict", "offered"], ["conflict", "in_review"]), results
        (refusal,) = [r for r in results if r.startswith("conflict")]
        assert "financed once per season" in refusal or "at the same moment" in refusal
    with bank.db.session(readonly=True) as s:
        live = s.execute(
            select(ApplicationPlot.application_id, FarmPlot.geometry_json)
            .join(FarmPlot, FarmPlot.id == ApplicationPlot.plot_id)
            .join(Application, Application.id == ApplicationPlot.application_id)
            .where(ApplicationPlot.active, Application.status.in_(("offered", "in_review", "accepted")))
        ).all()
    shapes = [shape(g) for _, g in live]
    assert len(shapes) == ROUNDS  # one winner per round
    for i, a in enumerate(shapes):  # and no land financed twice
        for b in shapes[i + 1 :]:
            assert shapely.intersection(a, b).area == 0
