"""Re-score benchmark: plots/s and pixels/s, scaling over Dask workers, peak memory per worker, incremental re-run.

Every measured run starts from an empty cache and output folder (cold: imagery reads + model), then the same run
is repeated into the same folder (incremental: nothing changed, so no imagery work).

    python benchmarks/rescore.py --region data/sample_county --workers 1 2 [--json out.json]
    python benchmarks/rescore.py --build-km 2.5 5 --workers 2        # regions of growing size: flat peak memory?
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
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
