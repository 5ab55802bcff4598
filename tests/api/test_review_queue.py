"""The queue route over HTTP: each row carries the application's PD and ``pd_min`` / ``pd_max`` filter by it."""

from __future__ import annotations

from tests.api.conftest import World

V1 = "/api/v1"


def test_queue_rows_carry_pd_and_filter_by_it(world: World) -> None:
    c, h, ids = world.client, world.headers, world.ids
    queue = c.get(f"{V1}/review/applications", headers=h["analyst"]).json()
    row = next(r for r in queue if r["id"] == ids["app_a"])
    offers = c.get(f"{V1}/applications/{ids['app_a']}", headers=h["analyst"]).json()["offer"]["offers"]
    pds = [o["pd"] for o in offers if o.get("pd") is not None]
    assert row["pd"] == (round(max(pds), 6) if pds else None)
    if row["pd"] is not None:
        around = {"pd_min": row["pd"], "pd_max": row["pd"]}
        kept = c.get(f"{V1}/review/applications", params=around, headers=h["analyst"]).json()
        assert ids["app_a"] in {r["id"] for r in kept}
    above = {"pd_min": min(1.0, (row["pd"] or 0) + 0.01)}
    kept = c.get(f"{V1}/review/applications", params=above, headers=h["analyst"]).json()
    assert ids["app_a"] not in {r["id"] for r in kept}


def test_bad_pd_filters_are_422_with_the_fix(world: World) -> None:
    c, h = world.client, world.headers
    r = c.get(f"{V1}/review/applications", params={"pd_min": 1.5}, headers=h["analyst"])
    assert r.status_code == 422 and "pd_min" in r.text
    r = c.get(f"{V1}/review/applications", params={"pd_min": 0.3, "pd_max": 0.1}, headers=h["analyst"])
    assert r.status_code == 422 and "swap them" in r.json()["detail"]
