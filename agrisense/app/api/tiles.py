"""``GET /tiles/{layer}/{z}/{x}/{y}.png``: the region's satellite imagery as web-mercator map tiles.

The pixels come from the same composites cache the scoring path reads (:mod:`agrisense.imagery.tiles`), so the
map a farmer draws on shows what the engine saw. Tiles carry an ``ETag`` and a ``Cache-Control`` header; a tile
outside the imagery's coverage is ``204 No Content`` (the map shows nothing there). The first tile request
starts building the region's imagery cache in the background (:func:`agrisense.imagery.tiles.tiles_ready`); until
it is done, tiles are served with ``Cache-Control: no-store`` so the map fills in as the cache warms.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request, Response

from agrisense.app.api.models import error_responses
from agrisense.config import Settings, get_settings
from agrisense.imagery.tiles import LAYERS, MAX_ZOOM, render_tile, tiles_ready

router = APIRouter(tags=["tiles"])

TILE_MAX_AGE_S = 3600
"""Browsers and the service worker reuse a tile this long before revalidating it with its ETag."""


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "A 256 px PNG tile."},
        204: {"description": "No imagery at this place."},
        304: {"description": "Not modified: the tile matches `If-None-Match`."},
        **error_responses(400, 404, 422, 429, 500),
    },
)
def get_tile(layer: str, z: str, x: str, y: str, request: Request) -> Response:
    """One 256 px PNG tile of ``layer`` (``truecolor`` or ``ndvi``) at web-mercator ``z/x/y``."""
    if layer not in LAYERS:
        raise HTTPException(404, f"Unknown map layer {layer!r}; use one of {', '.join(LAYERS)}.")
    zi, xi, yi = (int(v) if v.isdigit() else -1 for v in (z, x, y))
    if not 0 <= zi <= MAX_ZOOM or not 0 <= xi < 2**zi or not 0 <= yi < 2**zi:
        raise HTTPException(
            400, f"Tile {z}/{x}/{y} does not exist: zoom must be 0..{MAX_ZOOM} and x, y in 0..2^zoom - 1."
        )
    settings = _settings(request)
    # While the region's imagery cache is still being built (in the background, started by the first request),
    # tiles may be incomplete: nobody may keep them.
    ready = tiles_ready(settings)
    headers = {"Cache-Control": f"public, max-age={TILE_MAX_AGE_S}" if ready else "no-store"}
    png = render_tile(layer, zi, xi, yi, settings=settings)  # type: ignore[arg-type]
    if png is None:
        return Response(status_code=204, headers=headers)
    etag = f'"{hashlib.sha256(png).hexdigest()[:20]}"'
    headers["ETag"] = etag
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(png, media_type="image/png", headers=headers)
