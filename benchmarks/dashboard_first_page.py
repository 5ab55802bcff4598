"""Dashboard benchmark: the first Application page render (Streamlit AppTest run time, service calls included).

Builds the test region (2 km, seed 7, as ``tests/conftest.py``), scores the plots of its busiest imagery tile
(warm-up, not timed), seeds a fresh SQLite database with them, logs an analyst in, then times:

* ``first``: the first render of the Application page in a fresh AppTest (cold chart, map and tile caches),
  ``--pause`` seconds after the log-in (an analyst reads the queue first; the dashboard warms up meanwhile),
* ``another``: picking another application in the same session,
* ``revisit``: the first application again (warm caches).

The log-in starts the outline checks of the queue's first applications in the background (``data.PREFETCH``);
``--stored-checks`` computes every application's checks in the set-up instead (as an earlier view stores them).

    python benchmarks/dashboard_first_page.py [--repeat 3] [--pause 0] [--stored-checks] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HOME = Path(__file__).resolve().parents[1] / "agrisense" / "app" / "dashboard" / "Home.py"
REGION_KM, REGION_SEED, N_PLOTS = 2.0, 7, 10  # tests/conftest.py and tests/dashboard/conftest.py


def _prepare(root: Path, stored_checks: bool = False) -> dict[str, str]:
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
    return {
        "AGRISENSE_REGION_DIR": str(region),
        "AGRISENSE_STATE_DIR": str(root / "state"),
        "AGRISENSE_CACHE_DIR": str(cache),
        "AGRISENSE_DATABASE_URL": url,
        "AGRISENSE_DASHBOARD_RESCORE_DIR": str(root / "rescore"),
    }


def _store_checks(db: Any, settings: Any) -> None:
    from agrisense.lending import authenticate, list_review_queue
    from agrisense.lending.outline_checks import application_outline_checks
    from agrisense.lending.seed import DEMO_ANALYST_PASSWORD

    analyst = authenticate(db, "13900000001", DEMO_ANALYST_PASSWORD)
    for row in list_review_queue(db, analyst):
        application_outline_checks(db, analyst, row["id"], settings=settings)


def _one_round(pause: float = 0.0) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    from agrisense.lending import list_review_queue
    from agrisense.lending.seed import DEMO_ANALYST_PASSWORD
    from agrisense.store import Database

    at = AppTest.from_file(str(HOME), default_timeout=600)
    at.run()
    at.text_input(key="login_phone").input("13900000001")
    at.text_input(key="login_password").input(DEMO_ANALYST_PASSWORD)
    at.button[0].click()
    at.run()
    actor = at.session_state["actor"]
    queue = list_review_queue(Database(os.environ["AGRISENSE_DATABASE_URL"]), actor)
    first, second = queue[0]["id"], queue[1]["id"]
    times: dict[str, float] = {}
    at.query_params["app"] = str(first)
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
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh AppTest sessions (the first is the cold one)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between log-in and the first page")
    parser.add_argument("--stored-checks", action="store_true", help="store every outline check in the set-up")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agrisense-dashboard-bench-") as tmp:
        t0 = time.perf_counter()
        os.environ.update(_prepare(Path(tmp), args.stored_checks))
        setup = time.perf_counter() - t0
        rounds = [_one_round(args.pause) for _ in range(args.repeat)]
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
        "load_average": os.getloadavg()[0],
        "setup_s": round(setup, 1),
        "pause_s": args.pause,
        "stored_checks": args.stored_checks,
        "rounds": [{k: round(v, 2) for k, v in r.items()} for r in rounds],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
