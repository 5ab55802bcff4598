"""The imagery path over real HTTP (loopback, Range requests) with injected faults: transient faults are
retried and give the local-path result; a permanently failing asset fails its scene, never zeros."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import requests
import xarray as xr
from odc.geo.geobox import GeoBox
from shapely.geometry import box

from agrisense.errors import ImageryUnavailable
from agrisense.imagery.cache import build_composites_cached
from agrisense.imagery.catalog import SceneSource, open_source
from agrisense.imagery.timeseries import CompositeResult, build_composites
from agrisense.imagery.zonal import plot_statistics

from .http_faults import Fault, serve_directory
from .s2_fixture import X0, Y0

START, END = date(2026, 3, 1), date(2026, 5, 31)
MARCH_5, MARCH_20 = "S2B_36NXF_20260305_0_L2A", "S2B_36NXF_20260320_0_L2A"
# small timeouts and retry delays keep every test within a few seconds
GDAL_ENV = {"GDAL_HTTP_TIMEOUT": 1, "GDAL_HTTP_MAX_RETRY": 2, "GDAL_HTTP_RETRY_DELAY": 0.1}
pytestmark = pytest.mark.timeout(20)


@pytest.fixture(scope="module")
def local(s2_catalog: Path, fixture_geobox: GeoBox) -> CompositeResult:
    return build_composites(str(s2_catalog), fixture_geobox, START, END)


def _url(base: str, s2_catalog: Path) -> str:
    return f"{base}/{s2_catalog.parent.name}/catalog.json"


def _over_http(url: str, geobox: GeoBox) -> CompositeResult:
    return build_composites(open_source(url, timeout=2, max_retries=3), geobox, START, END, gdal_env=GDAL_ENV)


def test_server_honours_range_requests(s2_catalog: Path) -> None:
    with serve_directory(s2_catalog.parent.parent) as (base, _):
        url = f"{base}/{s2_catalog.parent.name}/sentinel-2-l2a/{MARCH_5}/red.tif"
        part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=5)
    assert part.status_code == 206 and len(part.content) == 100
    assert part.content == (s2_catalog.parent / "sentinel-2-l2a" / MARCH_5 / "red.tif").read_bytes()[:100]


@pytest.mark.parametrize(
    "faults",
    [
        {
            "catalog.json": Fault("status", times=2, status=503),
            f"{MARCH_20}.json": Fault("status", times=1),
            f"{MARCH_5}/red.tif": Fault("status", times=2),
            f"{MARCH_20}/scl.tif": Fault("status", times=1, status=502),
        },
        {f"{MARCH_5}/red.tif": Fault("stall", times=1, delay_s=2.5)},
        {f"{MARCH_5}/nir.tif": Fault("truncate", times=1, keep_bytes=300)},
    ],
    ids=["transient-5xx", "stall-past-timeout", "truncated-body"],
)
def test_transient_faults_are_retried_to_the_local_result(
    faults: dict[str, Fault], s2_catalog: Path, fixture_geobox: GeoBox, local: CompositeResult
) -> None:
    with serve_directory(s2_catalog.parent.parent, faults) as (base, injector):
        remote = _over_http(_url(base, s2_catalog), fixture_geobox)
    assert sum(injector.injected.values()) == sum(f.times or 0 for f in faults.values())  # faults did happen
    xr.testing.assert_identical(remote.composites, local.composites)
    assert [(s.id, s.used, s.failed) for s in remote.scenes] == [(s.id, s.used, s.failed) for s in local.scenes]


class _Without(SceneSource):
    """The local catalog minus some scenes: what the composites must equal when those scenes fail."""

    def __init__(self, inner: SceneSource, drop: set[str]):
        self.inner, self.drop, self.collection = inner, drop, inner.collection

    @property
    def identity(self) -> str:
        return f"{self.inner.identity}-without-{sorted(self.drop)}"

    def search(self, bbox_lonlat, start, end, max_cloud=None) -> list[pystac.Item]:  # type: ignore[no-untyped-def]
        return [it for it in self.inner.search(bbox_lonlat, start, end, max_cloud) if it.id not in self.drop]


def test_missing_asset_fails_its_scene_and_flags_the_plot_it_leaves_uncovered(
    s2_catalog: Path, fixture_geobox: GeoBox
) -> None:
    faults = {f"{MARCH_20}/red.tif": Fault("status", status=404)}
    with serve_directory(s2_catalog.parent.parent, faults) as (base, injector):
        remote = _over_http(_url(base, s2_catalog), fixture_geobox)
    assert injector.injected[f"{MARCH_20}/red.tif"] >= 1
    failed = {s.id: s for s in remote.scenes}[MARCH_20]
    assert failed.failed and not failed.used and "read" in failed.reason
    expected = build_composites(_Without(open_source(str(s2_catalog)), {MARCH_20}), fixture_geobox, START, END)
    xr.testing.assert_identical(remote.composites, expected.composites)  # excluded, not zeros
    march = remote.composites.sel(period="2026-03-01")
    assert np.nanmin(march.red.values) > 0.04 and int(march.n_obs.max()) == 1

    # the 5 March scene is cloudy top-left: a plot there is left without a clear March observation
    plots = gpd.GeoDataFrame(
        {"plot_id": ["under_cloud", "clear"]},
        geometry=[box(X0 + 20, Y0 - 120, X0 + 120, Y0 - 20), box(X0 + 300, Y0 - 500, X0 + 500, Y0 - 300)],
        crs=32636,
    )
    stats = plot_statistics(remote.composites, plots, remote.scenes).set_index(["plot_id", "period_start"])
    cloudy = stats.loc[("under_cloud", np.datetime64("2026-03-01"))]
    assert cloudy.status == "no_clear_observation" and np.isnan(cloudy.ndvi_median)
    assert MARCH_20 in cloudy.reason and "failed" in cloudy.reason
    clear = stats.loc[("clear", np.datetime64("2026-03-01"))]
    assert clear.status == "ok" and clear.n_obs == 1 and clear.scene_ids == [MARCH_5]


def test_unreachable_catalog_is_imagery_unavailable(s2_catalog: Path, fixture_geobox: GeoBox) -> None:
    faults = {"catalog.json": Fault("status", status=500)}
    with (
        serve_directory(s2_catalog.parent.parent, faults) as (base, injector),
        pytest.raises(ImageryUnavailable, match="cannot read the STAC catalog"),
    ):
        source = open_source(_url(base, s2_catalog), max_retries=1, timeout=2)
        build_composites(source, fixture_geobox, START, END)
    assert injector.requests["/" + s2_catalog.parent.name + "/catalog.json"] == 2  # one try + one retry


@pytest.mark.slow  # ~15 s: the offline call waits out the default catalog retries before serving the cache
def test_cached_composites_need_no_reads(
    s2_catalog: Path, fixture_geobox: GeoBox, local: CompositeResult, tmp_path: Path
) -> None:
    with serve_directory(s2_catalog.parent.parent) as (base, injector):
        url = _url(base, s2_catalog)
        cold = build_composites_cached(url, fixture_geobox, START, END, cache_dir=tmp_path, gdal_env=GDAL_ENV)

        def pixel_reads() -> int:
            return sum(n for path, n in injector.requests.items() if path.endswith(".tif"))

        reads = pixel_reads()
        warm = build_composites_cached(url, fixture_geobox, START, END, cache_dir=tmp_path)
        # the warm call only searches the catalog (to notice new scenes); it reads no pixels
        assert pixel_reads() == reads > 0
    offline = build_composites_cached(url, fixture_geobox, START, END, cache_dir=tmp_path)  # server gone
    for result in (cold, warm, offline):
        xr.testing.assert_identical(result.composites, local.composites)
        assert result.scenes == cold.scenes
    with pytest.raises(ImageryUnavailable):  # other dates: a cache miss, and the catalog is unreachable
        source = open_source(url, max_retries=1, timeout=2)
        build_composites_cached(source, fixture_geobox, START, date(2026, 4, 30), cache_dir=tmp_path)
