"""The first offer and the first "tap my field" after a server start (issue #16: 14.9 s and 8.7 s).

Starts a fresh service process (uvicorn, SQLite in a temporary state folder) on the sample county with the imagery
cache of ``make demo`` (``data/cache``), waits until ``/healthz`` answers, optionally ``--wait`` seconds more (an
analyst or farmer does not hit the first route the instant the server is up), registers a farmer and times one
request: ``offer`` (``POST /applications`` for a plot of the busiest tile) or ``tap`` (``GET /fields/outline`` at
that plot's centre). Each measurement gets its own fresh server, so both are first requests. ``--warm-up``: the
servers' start-up warm-up (``AGRISENSE_SERVE_WARM_UP``), ``off`` (the default setting), ``on`` or both, alternating.

    python benchmarks/first_requests.py [--wait 0 30] [--warm-up off on] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import shapely
from api_load import REPO, _free_port, _pool

PASSWORD = "first-request-password"


def _serve(region: Path, cache: Path, state: Path, port: int, warm_up: str | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **({"AGRISENSE_SERVE_WARM_UP": "1" if warm_up == "on" else "0"} if warm_up else {}),
        "AGRISENSE_REGION_DIR": str(region),
        "AGRISENSE_CACHE_DIR": str(cache),
        "AGRISENSE_STATE_DIR": str(state),
        "AGRISENSE_RATE_LIMIT_PER_MINUTE": "100000",
    }
    command = [sys.executable, "-m", "uvicorn", "agrisense.app.api.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, cwd=REPO, env=env)


def _ready(base: str, timeout: float = 300.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


def _first(
    kind: str, plot: dict[str, Any], region: Path, cache: Path, wait: float, warm_up: str = "off"
) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="agrisense-first-") as state:
        server = _serve(region, cache, Path(state), port, warm_up)
        try:
            base = f"http://127.0.0.1:{port}"
            startup = _ready(base)
            time.sleep(wait)
            with httpx.Client(base_url=base, timeout=600) as c:
                c.post("/api/v1/auth/register", json={"phone": "13700000001", "password": PASSWORD, "name": "F"})
                token = c.post("/api/v1/auth/token", data={"username": "13700000001", "password": PASSWORD})
                h = {"Authorization": f"Bearer {token.json()['access_token']}"}
                if kind == "tap":
                    point = shapely.geometry.shape(plot["geometry"]).representative_point()
                    t0 = time.perf_counter()
                    r = c.get("/api/v1/fields/outline", params={"lon": point.x, "lat": point.y}, headers=h)
                else:
                    body = {"geometry": plot["geometry"], "declared_crop": plot["declared_crop"]}
                    plot_id = c.post("/api/v1/plots", json=body, headers=h).json()["id"]
                    t0 = time.perf_counter()
                    r = c.post("/api/v1/applications", json={"plot_ids": [plot_id], "consent": True}, headers=h)
                seconds = time.perf_counter() - t0
                if r.status_code not in (200, 201, 404):  # 404: no field at the tap (still a full model run)
                    raise SystemExit(f"{kind}: {r.status_code} {r.text[:300]}")
        finally:
            server.terminate()
            server.wait(timeout=60)
    return {"warm_up": warm_up, "startup_s": round(startup, 2), "wait_s": wait, f"first_{kind}_s": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", type=Path, default=REPO / "data" / "sample_county")
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "cache")
    parser.add_argument("--wait", type=float, nargs="+", default=[0.0, 30.0], help="seconds after /healthz")
    parser.add_argument("--warm-up", nargs="+", choices=["off", "on"], default=["off"], help="servers' warm-up")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    plot = _pool(args.region, 1)[0]
    runs = [
        _first(kind, plot, args.region, args.cache, wait, warm_up)
        for wait in args.wait
        for kind in ("offer", "tap")
        for warm_up in args.warm_up
    ]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
        "load_average": round(os.getloadavg()[0], 1),
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
