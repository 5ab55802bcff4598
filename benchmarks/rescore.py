"""Re-score benchmark: plots/s and pixels/s, scaling over Dask workers, peak memory per worker, incremental re-run.

Every measured run starts from an empty cache and output folder (cold: imagery reads + model), then the same run
is repeated into the same folder (incremental: nothing changed, so no imagery work).

    python benchmarks/rescore.py --region data/sample_county --workers 1 2 [--json out.json]
    python benchmarks/rescore.py --build-km 2.5 5 --workers 2        # regions of growing size: flat peak memory?

Each result also profiles the tiles phase: busy seconds per worker process, the serial rest (``not_busy_s``:
cluster start-up, driver, the last tile's tail) and the 1-minute load average (the machine may be shared), and the
parallel efficiency of n workers against 1 (``cold_tiles_s(1) / (n * cold_tiles_s(n))``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from agrisense.config import Settings
from agrisense.pipelines.rescore_run import rescore_region


class PeakMemory:
    """Samples the RSS of this process and its children (Dask workers) every ``interval`` seconds."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak_total, self.peak_process = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            rss = []
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss.append(proc.memory_info().rss)
            self.peak_total = max(self.peak_total, sum(rss))
            self.peak_process = max(self.peak_process, max(rss[1:], default=rss[0]))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def profile(tiles: list[dict[str, Any]], tiles_s: float) -> dict[str, Any]:
    """Where the tiles phase's wall time went: busy seconds per worker process (sum of its tiles' ``total_s``), the
    serial rest (cluster start-up, the driver, waiting for the last tile) and the load the machine had."""
    busy: dict[int, float] = {}
    for tile in tiles:
        busy[int(tile.get("pid", 0))] = busy.get(int(tile.get("pid", 0)), 0.0) + float(tile["total_s"])
    longest = max(busy.values(), default=0.0)
    return {
        "busy_s_per_worker": sorted(round(v, 1) for v in busy.values()),
        "mean_tile_s": round(sum(busy.values()) / max(1, len(tiles)), 2),
        "imagery_and_model_s": round(sum(float(t["imagery_and_model_s"]) for t in tiles), 1),
        "not_busy_s": round(tiles_s - longest, 1),
        "load_average_1m": round(psutil.getloadavg()[0], 2),
    }


def measure(region: Path, workers: int, scratch: Path) -> dict[str, Any]:
    cache, out = scratch / f"cache_{region.name}_{workers}", scratch / f"out_{region.name}_{workers}"
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    settings = Settings(region_dir=region, cache_dir=cache, device="cpu")
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        run = rescore_region(settings, out, n_workers=workers)
        cold = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = rescore_region(settings, out, n_workers=workers)
    incremental = time.perf_counter() - t1
    info = run.to_dict()
    tiles_s = info["timings_s"]["tiles_s"]
    return {
        "region": region.name,
        "workers": workers,
        "plots": run.n_plots,
        "tiles": run.n_tiles,
        "pixels": info["pixels_run"],
        "cold_total_s": round(cold, 1),
        "cold_tiles_s": tiles_s,
        "plots_per_s": round(run.n_plots / tiles_s, 2),
        "pixels_per_s": round(info["pixels_run"] / tiles_s),
        "peak_rss_total_mb": round(mem.peak_total / 2**20),
        "peak_rss_largest_process_mb": round(mem.peak_process / 2**20),
        "incremental_s": round(incremental, 1),
        "incremental_tiles_run": len(again.tiles_run),
        **profile(info["tile_summaries"], tiles_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--region", type=Path, action="append", default=[])
    parser.add_argument("--build-km", type=float, nargs="*", default=[], help="Build sample regions of these sizes.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="rescore_bench_"))
    regions = list(args.region)
    for km in args.build_km:
        from agrisense.sample.build import build_region

        root = scratch / f"region_{km:g}km"
        if not (root / "region.json").exists():
            build_region(root, seed=20261122, size_km=km)
        regions.append(root)
    results = []
    for region in regions:
        for workers in args.workers:
            results.append(measure(region, workers, scratch))
            print(json.dumps(results[-1]), flush=True)
        base = next((r for r in results if r["region"] == region.name and r["workers"] == 1), None)
        for r in results:
            if base is not None and r["region"] == region.name and r["workers"] > 1:
                r["parallel_efficiency"] = round(base["cold_tiles_s"] / (r["workers"] * r["cold_tiles_s"]), 2)
                print(f"{region.name}: {r['workers']} workers, parallel efficiency {r['parallel_efficiency']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
