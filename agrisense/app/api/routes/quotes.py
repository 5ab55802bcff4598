"""What-if quotes at a location (no plot, no imagery): the place picks the market, its policy and the weather."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query

from agrisense.app.api.deps import ActorDep, SettingsDep
from agrisense.app.api.models import error_responses
from agrisense.credit.offer import Offer
from agrisense.errors import InvalidInput
from agrisense.geo.area import MU_PER_HA
from agrisense.quotes import QuoteInputs, quote_at, resolve

router = APIRouter(tags=["quotes"], responses=error_responses(401, 429, 500))


@router.get("/quote", response_model=Offer, responses=error_responses(404, 422))
async def quote(
    actor: ActorDep,
    settings: SettingsDep,
    crop: Annotated[str, Query(description="Crop code of the location's market (rice, rice_double, wheat, ...).")],
    area_mu: Annotated[float | None, Query(gt=0, le=1e7, description="Plot area in 亩 (or give area_ha).")] = None,
    area_ha: Annotated[float | None, Query(gt=0, le=1e6, description="Plot area in ha (or give area_mu).")] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="Longitude, decimal degrees (WGS84).")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="Latitude, decimal degrees (WGS84).")] = None,
    region: Annotated[str | None, Query(description="Or an area of a market: jiangxi, 江西, henan, ...")] = None,
    season: Annotated[int | None, Query(ge=2000, le=2100, description="Season (sowing year); default next.")] = None,
    crop_probability: Annotated[float, Query(ge=0, le=1, description="Confidence the crop is right.")] = 1.0,
) -> dict[str, Any]:
    """The offer a plot of ``crop`` and this area would get at the location (lon/lat or region): limit, price,
    schedule following the crop's season(s), reasons. 404 where no market covers the place; 422 for bad input."""
    del actor  # any signed-in user; the dependency authenticates
    if (area_mu is None) == (area_ha is None):
        raise InvalidInput("give the plot area once: area_mu (亩) or area_ha (hectares)")
    inputs = QuoteInputs(
        crop=crop,
        area_ha=area_ha if area_ha is not None else float(area_mu or 0) / MU_PER_HA,
        season=season,
        crop_probability=crop_probability,
    )
    where = resolve(settings, region=region, lon=lon, lat=lat, folders=False)  # never a server path
    offer = await anyio.to_thread.run_sync(partial(quote_at, settings, where, inputs))  # weather risk is CPU work
    return offer.to_dict()
