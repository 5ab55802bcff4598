"""Dashboard benchmark: the first Application page render (Streamlit AppTest run time, service calls included).

Builds the test region (2 km, seed 7, as ``tests/conftest.py``), scores the plots of its busiest imagery tile
(warm-up, not timed), seeds a fresh SQLite database with them, logs an analyst in, then times:

* ``first``: the first render of the Application page in a fresh AppTest (cold chart, map and tile caches),
  ``--pause`` seconds after the log-in (an analyst reads the queue first; the dashboard warms up meanwhile),
* ``another``: picking another application in the same session,
* ``revisit``: the first application again (warm caches).

The log-in starts the outline checks of the queue's first applications in the background (``data.PREFETCH``);
``--stored-checks`` computes every application's checks in the set-up instead (as an earlier view stores them).

``--submitted N``: the case of an application a farmer has just submitted. Each round starts the API (uvicorn, a
separate process over the same database, as in production), where ``--submissions`` new farmers each draw a plot
not seeded yet and submit an application over HTTP, one after the other (each ``POST /applications`` timed: the
farmer's submit latency; the first is the server's first scoring); ``N`` seconds after the last one the analyst
logs in and opens it (``first``), then another application and back. The seeded applications' checks are stored in
the set-up, so only the new one's can be missing; ``stored_at_open`` says whether its checks were stored when the
page opened (the API computes them after each submission, ``agrisense.lending.outline_queue``).

    python benchmarks/dashboard_first_page.py [--repeat 3] [--pause 0] [--stored-checks] [--json out.json]
    python benchmarks/dashboard_first_page.py --repeat 2 --submitted 10 [--submissions 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOME = Path(__file__).resolve().parents[1] / "agrisense" / "app" / "dashboard" / "Home.py"
REGION_KM, REGION_SEED, N_PLOTS = 2.0, 7, 10  # tests/conftest.py and tests/dashboard/conftest.py
FARMER_PASSWORD = "first-page-password"


def _prepare(root: Path, stored_checks: bool = False) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The seeded database and the dashboard's environment, and the region's plots not seeded (for submissions:
    the busiest tile's first, as GeoJSON ``geometry`` + ``declared_crop``)."""
    from agrisense import services
    from agrisense.config import Settings
    from agrisense.geo import read_plots
    from agrisense.lending import seed_sample_county
    from agrisense.sample.build import build_region
    from agrisense.scoring import plan_tiles
    from agrisense.store import open_database

    region = root / "small_county"
    build_region(region, seed=REGION_SEED, size_km=REGION_KM)
    cache = root / "cache"
    settings = Settings(region_dir=region, cache_dir=cache)
    plots, _ = read_plots(region / "plots.geojson")
    busiest = max(plan_tiles(plots), key=lambda job: len(job.plot_ids))
    chosen = [p for p in plots if p.plot_id in set(busiest.plot_ids)][:N_PLOTS]
    offers = [o.to_dict() for o in services.score_plots(chosen, settings=settings).offers]
    url = f"sqlite:///{root / 'agrisense.db'}"
    db = open_database(Settings(region_dir=region, state_dir=root / "state", database_url=url))
    seeded = Settings(region_dir=region, state_dir=root / "state", cache_dir=cache, database_url=url)
    seed_sample_county(db, seeded, offers)
    if stored_checks:
        _store_checks(db, seeded)
    db.dispose()
    env = {
        "AGRISENSE_REGION_DIR": str(region),
        "AGRISENSE_STATE_DIR": str(root / "state"),
        "AGRISENSE_CACHE_DIR": str(cache),
        "AGRISENSE_DATABASE_URL": url,
        "AGRISENSE_DASHBOARD_RESCORE_DIR": str(root / "rescore"),
    }
    seeded_ids = {p.plot_id for p in chosen}
    order = [pid for job in sorted(plan_tiles(plots), key=lambda j: -len(j.plot_ids)) for pid in job.plot_ids]
    features = {f["properties"]["plot_id"]: f for f in json.loads((region / "plots.geojson").read_text())["features"]}
    free = [
        {"geometry": features[pid]["geometry"], "declared_crop": features[pid]["properties"]["declared_crop"]}
        for pid in order
        if pid not in seeded_ids and pid in features
    ]
    return env, free


def _store_checks(db: Any, settings: Any) -> None:
    from agrisense.lending import authenticate, list_review_queue
    from agrisense.lending.outline_checks import application_outline_checks
    from agrisense.lending.seed import DEMO_ANALYST_PASSWORD

    analyst = authenticate(db, "13900000001", DEMO_ANALYST_PASSWORD)
    for row in list_review_queue(db, analyst):
        application_outline_checks(db, analyst, row["id"], settings=settings)


def _submit(plots: list[dict[str, Any]], first_phone: int) -> tuple[list[float], int, subprocess.Popen[bytes]]:
    """Start the API over the benchmark's database, let one new farmer per plot submit an application, one after
    the other; the seconds of each ``POST /applications``, the last application's id and the running server (it
    goes on computing the outline checks; the caller stops it)."""
    import httpx
    from first_requests import _free_port, _ready, _serve

    port = _free_port()
    env = os.environ
    server = _serve(
        Path(env["AGRISENSE_REGION_DIR"]), Path(env["AGRISENSE_CACHE_DIR"]), Path(env["AGRISENSE_STATE_DIR"]), port
    )
    seconds: list[float] = []
    app_id = 0
    try:
        base = f"http://127.0.0.1:{port}"
        _ready(base)
        with httpx.Client(base_url=base, timeout=600) as c:
            for i, plot in enumerate(plots):
                phone = str(first_phone + i)
                c.post("/api/v1/auth/register", json={"phone": phone, "password": FARMER_PASSWORD, "name": "F"})
                token = c.post("/api/v1/auth/token", data={"username": phone, "password": FARMER_PASSWORD}).json()
                h = {"Authorization": f"Bearer {token['access_token']}"}
                plot_id = c.post("/api/v1/plots", json=plot, headers=h).json()["id"]
                t0 = time.perf_counter()
                r = c.post("/api/v1/applications", json={"plot_ids": [plot_id], "consent": True}, headers=h)
                seconds.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    raise SystemExit(f"submission: {r.status_code} {r.text[:300]}")
                app_id = int(r.json()["id"])
    except BaseException:
        server.terminate()
        raise
    return seconds, app_id, server


def _one_round(pause: float = 0.0, submit: list[dict[str, Any]] | None = None, round_no: int = 0) -> dict[str, Any]:
    from streamlit.testing.v1 import AppTest

    from agrisense.lending import list_review_queue
    from agrisense.lending.seed import DEMO_ANALYST_PASSWORD
    from agrisense.store import Application, Database

    database = Database(os.environ["AGRISENSE_DATABASE_URL"])
    times: dict[str, Any] = {}
    server = None
    if submit:
        submit_s, new_id, server = _submit(submit, 13700000100 + 100 * round_no)
        times["submit_s"] = [round(s, 2) for s in submit_s]
        time.sleep(pause)
    at = AppTest.from_file(str(HOME), default_timeout=600)
    at.run()
    at.text_input(key="login_phone").input("13900000001")
    at.text_input(key="login_password").input(DEMO_ANALYST_PASSWORD)
    at.button[0].click()
    at.run()
    actor = at.session_state["actor"]
    queue = list_review_queue(database, actor)
    first, second = queue[0]["id"], queue[1]["id"]
    if submit:
        first, second = new_id, queue[0]["id"]
        with database.session(readonly=True) as session:
            times["stored_at_open"] = bool(session.get(Application, new_id).outline_checks)
    at.query_params["app"] = str(first)
    if not submit:
        time.sleep(pause)
    t0 = time.perf_counter()
    at.switch_page("pages/2_Application.py").run()
    times["first"] = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    t0 = time.perf_counter()
    at.selectbox(key="application_pick").set_value(second).run()
    times["another"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    at.selectbox(key="application_pick").set_value(first).run()
    times["revisit"] = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    if server is not None:
        server.terminate()
        server.wait(timeout=120)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh AppTest sessions (the first is the cold one)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between log-in and the first page")
    parser.add_argument("--stored-checks", action="store_true", help="store every outline check in the set-up")
    parser.add_argument(
        "--submitted", type=float, help="open an application submitted over the API this many seconds before"
    )
    parser.add_argument("--submissions", type=int, default=2, help="with --submitted: farmers submitting, in turn")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agrisense-dashboard-bench-") as tmp:
        t0 = time.perf_counter()
        env, free = _prepare(Path(tmp), args.stored_checks or args.submitted is not None)
        os.environ.update(env)
        setup = time.perf_counter() - t0
        if args.submitted is None:
            rounds = [_one_round(args.pause) for _ in range(args.repeat)]
        else:
            k = args.submissions
            if len(free) < k * args.repeat:
                raise SystemExit(f"only {len(free)} unseeded plots: lower --submissions or --repeat")
            rounds = [_one_round(args.submitted, free[i * k : (i + 1) * k], i) for i in range(args.repeat)]
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
        "load_average": os.getloadavg()[0],
        "setup_s": round(setup, 1),
        "pause_s": args.pause,
        "stored_checks": args.stored_checks,
        "submitted_s": args.submitted,
        "rounds": [{k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in rounds],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
