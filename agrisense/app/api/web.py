"""The farmer web app: the app shell from ``agrisense/app/web/public`` at ``/`` and its npm packages under ``/vendor/``.

Nothing comes from a CDN: Leaflet and Leaflet-Geoman are installed into ``agrisense/app/web/node_modules`` by
``make web`` (``npm ci``) and served from here. Text assets are gzip-compressed; ``sw.js`` carries a version
derived from the shell's bytes, so a changed shell replaces the service worker's cache and an unchanged one
loads offline.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from agrisense.agronomy.calendar import CropReference
from agrisense.config import Settings, get_settings
from agrisense.errors import NotFound
from agrisense.imagery.tiles import LAYERS, MAX_ZOOM
from agrisense.region import load_region
from agrisense.resources import PACKAGE_DIR, RESOURCES
from agrisense.services import region_crops

WEB_DIR = PACKAGE_DIR / RESOURCES["web"].installed  # agrisense/app/web, in the wheel too (package data)
PUBLIC_DIR = WEB_DIR / "public"
NODE_MODULES = WEB_DIR / "node_modules"

VENDOR_PACKAGES = {
    "leaflet": "leaflet/dist",
    "leaflet-geoman": "@geoman-io/leaflet-geoman-free/dist",
}
"""URL folder under ``/vendor/`` -> folder inside ``node_modules`` (only the packages' built files)."""

SHELL_URLS = (
    "/",
    "/static/app.js",
    "/static/app.css",
    "/static/i18n.js",
    "/static/icon.svg",
    "/manifest.webmanifest",
    "/app-config.json",
    "/vendor/leaflet/leaflet.js",
    "/vendor/leaflet/leaflet.css",
    "/vendor/leaflet-geoman/leaflet-geoman.min.js",
    "/vendor/leaflet-geoman/leaflet-geoman.css",
)
"""What the service worker pre-caches: everything the app needs to start without the network."""

_TOP_LEVEL = {
    "index.html": "text/html; charset=utf-8",
    "sw.js": "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class _Asset:
    raw: bytes
    gz: bytes
    etag: str
    media_type: str


def _local_path(url: str) -> Path | None:
    """The file behind a shell URL (``/static/app.js``, ``/vendor/leaflet/leaflet.js``); None if generated."""
    if url == "/app-config.json":
        return None
    if url == "/":
        return PUBLIC_DIR / "index.html"
    if url.startswith("/vendor/"):
        folder, _, rest = url.removeprefix("/vendor/").partition("/")
        return NODE_MODULES / VENDOR_PACKAGES[folder] / rest
    return PUBLIC_DIR / url.lstrip("/")


def _shell_paths() -> list[Path]:
    return [p for p in (_local_path(u) for u in SHELL_URLS) if p is not None]


def missing_vendor_files() -> list[Path]:
    """The map library files the app shell loads from ``/vendor/`` that are not installed (empty when all are)."""
    paths = [_local_path(u) for u in SHELL_URLS if u.startswith("/vendor/")]
    return [p for p in paths if p is not None and not p.is_file()]


def check_web_assets() -> None:
    """Refuse to serve a farmer app without its map library (it would answer 500s, "L is not defined").

    Raises ``NotFound`` naming the missing files and the command that installs them."""
    missing = missing_vendor_files()
    if missing:
        names = ", ".join(p.name for p in missing)
        raise NotFound(
            f"The farmer app's map library is not installed ({names} missing under {NODE_MODULES}). "
            "Run `make install` (or `make web`, i.e. `npm ci` in agrisense/app/web) and start again."
        )


def shell_version() -> str:
    """A short hash of every shell file's bytes (changes whenever any of them changes)."""
    digest = hashlib.sha256()
    for path in _shell_paths():
        digest.update(str(path.relative_to(WEB_DIR)).encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()[:12]


@lru_cache(maxsize=16)
def _asset(name: str, mtime_ns: int) -> _Asset:
    raw = (PUBLIC_DIR / name).read_bytes()
    if name == "sw.js":
        shell = ", ".join(f'"{u}"' for u in SHELL_URLS)
        raw = raw.replace(b"__SHELL_VERSION__", shell_version().encode()).replace(b"__SHELL_FILES__", shell.encode())
    etag = f'"{hashlib.sha256(raw).hexdigest()[:20]}"'
    return _Asset(raw, gzip.compress(raw, 9, mtime=0), etag, _TOP_LEVEL[name])


def _serve(name: str, request: Request) -> Response:
    path = PUBLIC_DIR / name
    if not path.is_file():
        return Response(
            f"The farmer app file {name} is missing from {PUBLIC_DIR}; reinstall the app.",
            status_code=404,
            media_type="text/plain; charset=utf-8",
        )
    stamp = path.stat().st_mtime_ns
    if name == "sw.js":  # its version hashes the whole shell
        stamp += sum(p.stat().st_mtime_ns for p in _shell_paths() if p.is_file())
    asset = _asset(name, stamp)
    # The shell revalidates every time (cheap 304s); the service worker is what makes it work offline.
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gz, media_type=asset.media_type, headers=headers)
    return Response(asset.raw, media_type=asset.media_type, headers=headers)


def _crop_entry(code: str, ref: CropReference | None) -> dict[str, str]:
    """A crop as the farmer app lists it: code, Chinese and English name (the region market's local names)."""
    english = ref.display_en if ref is not None else code.replace("_", " ")
    return {
        "code": code,
        "name_zh": ref.name_zh if ref is not None else code,
        "name_en": english[:1].upper() + english[1:],
    }


def app_config(settings: Settings) -> dict[str, Any]:
    """What the farmer app needs to know about the region: where it is, its crops, the consent terms."""
    region = load_region(settings.region_dir)
    references = region_crops(settings, region)
    return {
        "region": region.name,
        "bbox_lonlat": list(region.bbox_lonlat),
        "season": region.season,
        # the imagery's season is the evidence; the loan is for the next one (agrisense.services.credit_inputs)
        "evidence_season": region.season,
        "finance_season": region.season + 1,
        "imagery_start": region.imagery_start.isoformat(),
        "imagery_end": region.imagery_end.isoformat(),
        "currency": region.currency,
        "crops": [_crop_entry(c, references.get(c)) for c in region.crops],
        "terms_version": settings.terms_version,
        "layers": list(LAYERS),
        "max_zoom": min(MAX_ZOOM, 19),
    }


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def mount_web(app: FastAPI) -> None:
    """Serve the farmer app at ``/`` (index, service worker, manifest, ``/static/``) and its npm packages at
    ``/vendor/``. Independent of route order: no catch-all mount shadows the API."""

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        return _serve("index.html", request)

    @app.get("/index.html", include_in_schema=False)
    def index_html(request: Request) -> Response:
        return _serve("index.html", request)

    @app.get("/sw.js", include_in_schema=False)
    def service_worker(request: Request) -> Response:
        return _serve("sw.js", request)

    @app.get("/manifest.webmanifest", include_in_schema=False)
    def manifest(request: Request) -> Response:
        return _serve("manifest.webmanifest", request)

    @app.get("/app-config.json", include_in_schema=False)
    def config(request: Request) -> JSONResponse:
        return JSONResponse(app_config(_settings(request)), headers={"Cache-Control": "no-cache"})

    app.mount(
        "/static",
        GZipMiddleware(StaticFiles(directory=PUBLIC_DIR / "static", check_dir=False), minimum_size=512),
        name="web-static",
    )
    for url_folder, package_dir in VENDOR_PACKAGES.items():
        app.mount(
            f"/vendor/{url_folder}",
            GZipMiddleware(StaticFiles(directory=NODE_MODULES / package_dir, check_dir=False), minimum_size=512),
            name=f"vendor-{url_folder}",
        )
