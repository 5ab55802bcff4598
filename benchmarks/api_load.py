"""Load test of the API on loopback: N concurrent farmers submitting applications for a fixed time, warm imagery.

Starts the service (uvicorn, one process, SQLite in a temporary state folder) on the sample county, warms the
imagery tiles the test uses, registers the farmers, then each farmer loops until the time is up: draw a plot,
submit an application with consent (timed: the offer latency), read it back. Afterwards every farmer's
application list is compared with the 201 answers they got: nothing may be lost.

    .venv/bin/python benchmarks/api_load.py --farmers 100 --seconds 60 --out out/bench/api_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "load-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pool(region: Path, n_tiles: int) -> list[dict[str, Any]]:
    """Plot outlines from the region's plots in the ``n_tiles`` imagery tiles holding the most plots."""
    from agrisense.geo import read_plots
    from agrisense.region import load_region
    from agrisense.scoring import plan_tiles

    meta = load_region(region)
    plots, _ = read_plots(meta.plots, expected_bbox=meta.bbox_lonlat)
    jobs = sorted(plan_tiles(plots, resolution=meta.resolution), key=lambda j: -len(j.plot_ids))[:n_tiles]
    by_id = {p.plot_id: p for p in plots}
    features = json.loads(meta.plots.read_text())["features"]
    geometry = {f["properties"]["plot_id"]: f for f in features}
    return [
        {"geometry": geometry[pid]["geometry"], "declared_crop": by_id[pid].declared_crop, "tile": job.tile_id}
        for job in jobs
        for pid in job.plot_ids
    ]


async def _login(client: httpx.AsyncClient, phone: str) -> dict[str, str]:
    await client.post("/api/v1/auth/register", json={"phone": phone, "password": PASSWORD, "name": f"Load {phone}"})
    r = await client.post("/api/v1/auth/token", data={"username": phone, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _farmer(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    pool: list[dict[str, Any]],
    start: int,
    stop_at: float,
    stats: dict[str, Any],
    think_s: float = 0.0,
) -> None:
    rng = random.Random(start)
    i = start
    if think_s > 0:  # farmers do not all start at the same instant
        await asyncio.sleep(rng.uniform(0, think_s))
    while time.monotonic() < stop_at:
        plot = pool[i % len(pool)]
        i += 7
        try:
            r = await client.post(
                "/api/v1/plots",
                json={"geometry": plot["geometry"], "declared_crop": plot["declared_crop"]},
                headers=headers,
            )
            if r.status_code != 201:
                stats["errors"].append(f"plot {r.status_code} {r.text[:200]}")
                continue
            plot_id = r.json()["id"]
            t0 = time.perf_counter()
            r = await client.post(
                "/api/v1/applications", json={"plot_ids": [plot_id], "consent": True}, headers=headers
            )
            latency = time.perf_counter() - t0
            if r.status_code == 422 and "farmland" in r.text:  # a sample outline off cropland: a farmer's fix
                stats["refused"] = stats.get("refused", 0) + 1
                await client.delete(f"/api/v1/plots/{plot_id}", headers=headers)
                continue
            if r.status_code != 201:
                stats["errors"].append(f"application {r.status_code} {r.text[:200]}")
                continue
            stats["latencies"].append(latency)
            app_id = r.json()["id"]
            stats["submitted"].setdefault(headers["Authorization"], []).append(app_id)
            r = await client.get(f"/api/v1/applications/{app_id}", headers=headers)
            if r.status_code != 200:
                stats["errors"].append(f"read {r.status_code}")
            if think_s > 0:  # reading the offer card, then drawing the next plot
                await asyncio.sleep(rng.expovariate(1.0 / think_s))
        except httpx.HTTPError as exc:
            stats["errors"].append(f"{type(exc).__name__}: {exc}")


async def _run(
    base: str, farmers: int, seconds: float, pool: list[dict[str, Any]], think_s: float = 0.0
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=farmers + 10, max_keepalive_connections=farmers + 10)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(900.0), limits=limits) as client:
        warm = await _login(client, "13700000000")
        for tile in sorted({p["tile"] for p in pool}):  # warm imagery: score one plot in every tile used
            plot = next(p for p in pool if p["tile"] == tile)
            r = await client.post("/api/v1/plots", json={"geometry": plot["geometry"]}, headers=warm)
            t0 = time.perf_counter()
            r = await client.post(
                "/api/v1/applications", json={"plot_ids": [r.json()["id"]], "consent": True}, headers=warm
            )
            print(f"warm-up {tile}: {r.status_code} in {time.perf_counter() - t0:.1f} s", flush=True)
        sem = asyncio.Semaphore(10)

        async def login(k: int) -> dict[str, str]:
            async with sem:
                return await _login(client, f"137{k:08d}")

        headers = await asyncio.gather(*(login(k) for k in range(1, farmers + 1)))
        stats: dict[str, Any] = {"latencies": [], "errors": [], "submitted": {}}
        t0 = time.monotonic()
        await asyncio.gather(
            *(_farmer(client, h, pool, k, t0 + seconds, stats, think_s) for k, h in enumerate(headers))
        )
        wall = time.monotonic() - t0
        lost = 0
        for h in headers:
            stored = {a["id"] for a in (await client.get("/api/v1/applications", headers=h)).json()}
            lost += len(set(stats["submitted"].get(h["Authorization"], [])) - stored)
    lat = sorted(stats["latencies"])
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else (lambda q: float("nan"))
    return {
        "farmers": farmers,
        "think_s": think_s,
        "window_s": seconds,
        "wall_s": round(wall, 1),
        "applications": len(lat),
        "throughput_per_s": round(len(lat) / wall, 3),
        "errors": len(stats["errors"]),
        "refused_not_cropland": stats.get("refused", 0),
        "error_samples": stats["errors"][:5],
        "lost_applications": lost,
        "offer_latency_s": {
            "p50": round(pct(0.50), 3),
            "p95": round(pct(0.95), 3),
            "max": round(lat[-1], 3) if lat else None,
            "mean": round(statistics.fmean(lat), 3) if lat else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--farmers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--region", type=Path, default=REPO / "data" / "sample_county")
    parser.add_argument("--tiles", type=int, default=1, help="Imagery tiles the plots come from (all warmed first).")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--think-s",
        type=float,
        default=0.0,
        help="Mean pause (exponential) of a farmer between reading an offer and the next plot; 0 = back to back.",
    )
    args = parser.parse_args()

    pool = _pool(args.region, args.tiles)
    port = _free_port()
    state = Path(tempfile.mkdtemp(prefix="agrisense-load-"))
    env = {
        **os.environ,
        "AGRISENSE_REGION_DIR": str(args.region),
        "AGRISENSE_STATE_DIR": str(state),
        "AGRISENSE_RATE_LIMIT_PER_MINUTE": "100000",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "agrisense.app.api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--timeout-keep-alive",
            "75",  # as `agrisense serve`
        ],
        cwd=REPO,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        result = asyncio.run(_run(base, args.farmers, args.seconds, pool, args.think_s))
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(
        {
            "date": datetime.now(UTC).date().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), {platform.python_version()}",
            "database": "sqlite",
            "region": str(args.region),
            "plots_in_pool": len(pool),
        }
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
