"""The farmer app's shell as the service serves it: files, compression, service worker, size budget, config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agrisense.app.api.web import NODE_MODULES, PUBLIC_DIR, SHELL_URLS, mount_web
from agrisense.config import Settings

SHELL_BUDGET_BYTES = 500_000

pytestmark = pytest.mark.skipif(
    not (NODE_MODULES / "leaflet" / "dist" / "leaflet.js").is_file(),
    reason="npm packages missing: run `make web`",
)


@pytest.fixture()
def client(small_region: Path) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(region_dir=small_region, terms_version="2026-11")
    mount_web(app)
    return TestClient(app)


def wire_size(client: TestClient, url: str) -> int:
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200, url
        return sum(len(chunk) for chunk in response.iter_raw())


def test_shell_is_served_compressed_and_within_budget(client: TestClient) -> None:
    sizes = {url: wire_size(client, url) for url in SHELL_URLS}
    total = sum(sizes.values())
    print(f"app shell: {total} bytes compressed over {len(sizes)} files: {sizes}")
    assert total < SHELL_BUDGET_BYTES
    for url in ("/", "/static/app.js", "/vendor/leaflet/leaflet.js", "/vendor/leaflet-geoman/leaflet-geoman.min.js"):
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip", url


def test_index_references_only_local_files(client: TestClient) -> None:
    html = client.get("/").text
    assert 'lang="zh-CN"' in html and "width=device-width" in html
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    for text_file in PUBLIC_DIR.rglob("*"):
        if text_file.suffix in {".html", ".js", ".css", ".webmanifest"}:
            assert not re.search(r"https?://", text_file.read_text(encoding="utf-8").replace("http://www.w3.org", ""))


def test_service_worker_precaches_the_versioned_shell(client: TestClient) -> None:
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.headers["cache-control"] == "no-cache"
    assert "__SHELL_VERSION__" not in sw.text and "__SHELL_FILES__" not in sw.text
    for url in SHELL_URLS:
        assert f'"{url}"' in sw.text
    etag = client.get("/").headers["etag"]
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 304


def test_vendor_serves_only_the_packages_built_files(client: TestClient) -> None:
    assert client.get("/vendor/leaflet/leaflet.css").status_code == 200
    assert client.get("/vendor/leaflet/images/marker-icon.png").status_code == 200
    assert client.get("/vendor/leaflet/../package.json").status_code == 404
    assert client.get("/vendor/lodash/lodash.js").status_code == 404
    assert client.get("/static/../../package.json").status_code == 404


def test_app_config_names_the_regions_crops_and_terms(client: TestClient, small_region: Path) -> None:
    config = client.get("/app-config.json").json()
    assert config["terms_version"] == "2026-11"
    # the loan is for the season after the imagery's: the consent screen names the offer's finance season
    assert config["finance_season"] == config["evidence_season"] + 1 == config["season"] + 1
    assert len(config["bbox_lonlat"]) == 4 and config["layers"] == ["truecolor", "ndvi"]
    codes = [c["code"] for c in config["crops"]]
    assert "maize" in codes
    assert {"code": "maize", "name_zh": "玉米", "name_en": "Maize"} in config["crops"]


def test_app_config_for_a_missing_region_says_how_to_build_it(tmp_path: Path) -> None:
    app = FastAPI()
    app.state.settings = Settings(region_dir=tmp_path / "nowhere")
    mount_web(app)
    from agrisense.errors import NotFound

    with pytest.raises(NotFound, match="sample build"):
        TestClient(app).get("/app-config.json")
