"""GET /api/v1/quote: a what-if offer at a location (the place picks the market, policy and weather)."""

from __future__ import annotations

from agrisense.credit.offer import SCHEMA_VERSION
from tests.api.conftest import World

URL = "/api/v1/quote"


def test_quote_at_a_jiangxi_point(world: World) -> None:
    params = {"crop": "rice", "area_mu": 2000, "lon": 115.9, "lat": 28.7, "season": 2027}
    r = world.client.get(URL, params=params, headers=world.headers["a"])
    assert r.status_code == 200, r.text
    offer = r.json()
    assert offer["location"]["area"] == "jiangxi" and offer["currency"] == "CNY"
    assert offer["decision"] in ("approve", "refer") and 100_000 <= offer["credit_limit"] < 1_000_000
    assert offer["schedule"] and offer["schema_version"] == SCHEMA_VERSION


def test_quote_by_area_name(world: World) -> None:
    r = world.client.get(URL, params={"crop": "wheat", "area_ha": 3, "region": "河南"}, headers=world.headers["a"])
    assert r.status_code == 200, r.text
    assert r.json()["location"]["area"] == "henan" and r.json()["assessed_crop"] == "wheat"


def test_quote_errors(world: World) -> None:
    h = world.headers["a"]
    assert world.client.get(URL, params={"crop": "rice", "area_mu": 5, "region": "henan"}).status_code == 401
    both = world.client.get(URL, params={"crop": "rice", "area_mu": 5, "area_ha": 1, "region": "henan"}, headers=h)
    assert both.status_code == 422 and "area_mu" in both.text
    ocean = world.client.get(URL, params={"crop": "rice", "area_mu": 5, "lon": -30, "lat": 10}, headers=h)
    assert ocean.status_code == 404 and "no market covers" in ocean.text
    folder = str(world.settings.region_dir)  # a server folder is never read through the API
    r = world.client.get(URL, params={"crop": "maize", "area_mu": 5, "region": folder}, headers=h)
    assert r.status_code == 404 and "neither a region folder" in r.text
