"""End-to-end: the farmer app in real headless Chromium at a 360 x 740 phone viewport, against the real service.

Register, draw a field on the satellite map with Geoman (mouse clicks at the field's corners), pick the crop,
consent, submit, read the offer (zh-CN, then English), accept. "Tap my field": the model's outline, submitted.
Plus: destructive actions ask first, API errors are shown, and a second visit loads without the network."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from pyproj import Geod
from shapely.geometry import Polygon

from tests.web.conftest import ARTIFACTS, PHONE_VIEWPORT, LiveService

SCORING_TIMEOUT_MS = 240_000


def field_outline(region: Path) -> tuple[list[tuple[float, float]], str]:
    """Corners (lon, lat) of a large, normally growing field of the region, 10 m inside its edge, and its crop."""
    fields = gpd.read_parquet(region / "truth" / "fields.parquet")
    utm = fields.to_crs(fields.crs)
    utm = utm[(utm["status"] == "normal") & (utm["crop"] == "maize") & ~utm["large_farm"].astype(bool)]
    utm = utm.assign(area=utm.area)
    best = utm.sort_values(["area", "field_id"], ascending=[False, True]).iloc[0]
    inner = best.geometry.buffer(-10).simplify(8)
    corners = gpd.GeoSeries([Polygon(inner.exterior.coords)], crs=fields.crs).to_crs(4326).iloc[0]
    return [(x, y) for x, y in corners.exterior.coords[:-1]], str(best["crop"])


def wait_js(page: Any, expression: str, timeout_s: float = 20) -> Any:
    """Poll a JavaScript expression until it is truthy. (``page.wait_for_function`` evaluates its predicate with
    ``eval``, which the app's Content-Security-Policy refuses; ``page.evaluate`` goes through the debugger.)"""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def geodesic_area_ha(lonlat: list[tuple[float, float]]) -> float:
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter([p[0] for p in lonlat], [p[1] for p in lonlat])
    return abs(area) / 10_000


@pytest.fixture()
def page(browser: Any, live_service: LiveService) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN")
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    pg = context.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(20_000)
    pg.requests = requests  # type: ignore[attr-defined]
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()
    external = [u for u in requests if not u.startswith(live_service.url) and not u.startswith("data:")]
    assert not external, f"the app made requests outside the service: {external[:5]}"
    assert not errors, f"JavaScript errors: {errors}"


def register(page: Any, url: str, phone: str) -> None:
    page.goto(url)
    page.wait_for_selector("#screen-login:not([hidden])")
    page.click("#toggle-register")
    page.fill("#phone", phone)
    page.fill("#name", "王小明")
    page.fill("#password", "wheat-field-2026")
    page.click("#login-submit")
    page.wait_for_selector("#screen-draw:not([hidden])")


def screen_xy(page: Any, lon: float, lat: float) -> tuple[float, float]:
    x, y = page.evaluate(
        """([lat, lon]) => {
            const p = agrisenseApp.state.map.latLngToContainerPoint([lat, lon]);
            const r = document.getElementById('map').getBoundingClientRect();
            return [p.x + r.left, p.y + r.top];
        }""",
        [lat, lon],
    )
    return float(x), float(y)


def draw(page: Any, corners: list[tuple[float, float]]) -> None:
    """Zoom the map to the corners, then draw them with Geoman's polygon tool, closing on the first corner."""
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    page.evaluate(
        "([s, w, n, e]) => agrisenseApp.state.map.fitBounds([[s, w], [n, e]], "
        " {paddingTopLeft: [72, 24], paddingBottomRight: [24, 24], animate: false})",
        [min(lats), min(lons), max(lats), max(lons)],
    )
    wait_js(page, "document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0")
    page.click(".leaflet-pm-toolbar .leaflet-pm-icon-polygon")
    for lon, lat in [*corners, corners[0]]:
        page.mouse.click(*screen_xy(page, lon, lat))
        page.wait_for_timeout(60)
    try:
        page.wait_for_selector("#area:not([hidden])", timeout=5000)
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "draw_failed.png"))
        raise


def approve_as_analyst(service: LiveService, app_id: int) -> None:
    import httpx

    from agrisense.lending import register_user
    from agrisense.store import open_database

    register_user(
        open_database(service.settings), phone="13900000009", password="analyst-pass-1", name="Analyst", role="analyst"
    )
    with httpx.Client(base_url=service.url) as http:
        token = http.post("/api/v1/auth/token", data={"username": "13900000009", "password": "analyst-pass-1"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        decided = http.post(
            f"/api/v1/review/applications/{app_id}/decision",
            json={"decision": "approve", "reason": "Field visited; crop confirmed."},
            headers=headers,
        )
        assert decided.status_code == 200, decided.text


def test_farmer_registers_draws_submits_and_accepts(page: Any, live_service: LiveService) -> None:
    t0 = time.perf_counter()
    corners, crop = field_outline(live_service.settings.region_dir)
    register(page, live_service.url, "13700000001")
    assert page.text_content("header h1") == "农田贷款"  # zh-CN by default
    assert page.is_visible("#steps li.active[data-step='1']")

    draw(page, corners)
    shown_ha = float(page.get_attribute("#area", "data-ha") or 0)
    assert shown_ha == pytest.approx(geodesic_area_ha(corners), rel=0.03)
    assert "亩" in (page.text_content("#area") or "")

    page.click("#to-consent")  # no crop chosen yet: a clear message, still on step 1
    assert page.is_visible("#message") and "作物" in (page.text_content("#message") or "")
    page.click(f"#crop-list [data-crop='{crop}']")
    page.click("#to-consent")
    page.wait_for_selector("#screen-consent:not([hidden])")
    assert page.is_disabled("#submit")  # consent is explicit
    assert "2026-11" in (page.text_content("#terms-version") or "")
    season = page.evaluate("agrisenseApp.state.config.finance_season")
    assert f"用于 {season} 年这一季的贷款" in (page.text_content("#consent-when") or "")
    page.check("#consent-check")
    page.click("#submit")
    page.wait_for_selector("#screen-offer:not([hidden]) .offer-card", timeout=SCORING_TIMEOUT_MS)

    card = page.text_content(".offer-card") or ""
    decision = page.get_attribute(".offer-card", "data-decision")
    assert decision in {"approve", "refer", "decline"}
    assert "原因" in card and page.locator(".reasons li").count() >= 1
    page.click("#lang")  # English: the same offer, reasons in English
    assert page.text_content("header h1") == "Farm loan"
    assert page.locator(".reasons li").first.text_content().isascii()
    page.click("#lang")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "farmer_app_offer.png"), full_page=True)
    if decision == "refer":  # an analyst reviews and approves; the farmer comes back to the app and sees it
        approve_as_analyst(live_service, page.evaluate("agrisenseApp.state.application.id"))
        page.reload()  # "my loans" first: the approved application, opened from there
        page.wait_for_selector("#screen-home:not([hidden]) .app-card .view-offer")
        page.click(".app-card .view-offer")
        page.wait_for_selector("#screen-offer:not([hidden]) .offer-card[data-decision='approve']")
        card = page.text_content(".offer-card") or ""
        assert page.locator(".reasons li.refer, .reasons li.decline").count() == 0  # approved: no reasons in red
    assert decision != "decline", f"the field should get an offer to accept: {card}"
    assert "¥" in card and page.locator(".dated.out li").count() >= 1  # limit and a dated repayment schedule
    page.click("#accept")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-yes")
    page.wait_for_selector(".offer-card .accepted")
    assert "已接受" in (page.text_content(".offer-card") or "")
    assert page.is_hidden("#accept")
    assert f"贷款季：{season} 年" in card  # the offer's finance season, as on the consent screen
    page.screenshot(path=str(ARTIFACTS / "farmer_app_accepted.png"), full_page=True)

    # logging in again: "my loans" with the booked loan's schedule, next due date and amount, the plot by season
    page.reload()
    page.wait_for_selector("#screen-home:not([hidden]) .loan-card")
    loan = page.text_content(".loan-card") or ""
    assert f"{season} 年这一季的贷款" in loan and "已还" in loan and "下次还款" in loan and "¥" in loan
    assert page.locator(".loan-card .schedule li").count() >= 1
    assert page.locator(f"#home-plots .plot-season[data-season='{season}'] li").count() == 1
    page.click("#delete-me")  # refused while the loan is active: the service's message is shown
    page.click("#confirm-yes")
    page.wait_for_selector("#message.error:not([hidden])")
    assert "正在进行的贷款" in (page.text_content("#message") or "")  # ACTIVE_LOAN_KEEPS_DATA, in the farmer's language
    page.click("#lang")
    assert f"Loan for the {season} season" in (page.text_content(".loan-card") or "")
    page.click("#lang")
    page.screenshot(path=str(ARTIFACTS / "farmer_app_my_loans.png"), full_page=True)
    print(f"e2e register -> draw -> submit -> accept: {time.perf_counter() - t0:.1f} s")


def test_tap_my_field_outlines_it_and_the_outline_is_submitted(page: Any, live_service: LiveService) -> None:
    """Tap my field (点一下自动勾画): one tap inside a field gives an editable outline close to it, then submitted."""
    fields = gpd.read_parquet(live_service.settings.region_dir / "truth" / "fields.parquet")
    fields = fields[(fields["status"] == "normal") & ~fields["large_farm"].astype(bool)]
    fields = fields.assign(area=fields.area).sort_values(["area", "field_id"], ascending=[False, True])
    register(page, live_service.url, "13700000003")
    assert (page.text_content("#detect") or "") == "点一下自动勾画"
    for _, field in fields.head(5).iterrows():
        truth = gpd.GeoSeries([field.geometry], crs=fields.crs).to_crs(4326).iloc[0]
        west, south, east, north = truth.bounds
        page.evaluate(
            "([s, w, n, e]) => agrisenseApp.state.map.fitBounds([[s, w], [n, e]], {padding: [40, 40], animate: false})",
            [south, west, north, east],
        )
        page.click("#detect")
        assert page.is_visible("#map.detecting")
        tap = truth.representative_point()
        page.mouse.click(*screen_xy(page, tap.x, tap.y))
        page.wait_for_selector("#message:not([hidden])", timeout=SCORING_TIMEOUT_MS)
        if page.is_visible("#area"):
            break
        assert "手动画" in (page.text_content("#message") or "")  # no field found: the farmer is told what to do
    else:
        pytest.fail("none of five tapped fields was outlined")
    assert "亩" in (page.text_content("#message") or "") and page.is_visible("#edit")
    ring = page.evaluate("agrisenseApp.state.layer.getLatLngs()[0].map((p) => [p.lng, p.lat])")
    outline = Polygon(ring)
    assert outline.intersection(truth).area / outline.union(truth).area > 0.4  # the tapped field, roughly
    shown_ha = float(page.get_attribute("#area", "data-ha") or 0)
    assert shown_ha == pytest.approx(geodesic_area_ha([tuple(p) for p in ring]), rel=0.03)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "farmer_app_tap_my_field.png"), full_page=True)

    page.click(f"#crop-list [data-crop='{field['crop']}']")
    page.click("#to-consent")
    page.wait_for_selector("#screen-consent:not([hidden])")
    page.check("#consent-check")
    page.click("#submit")
    page.wait_for_selector(
        "#screen-offer:not([hidden]) .offer-card, #message.error:not([hidden])", timeout=SCORING_TIMEOUT_MS
    )
    page.screenshot(path=str(ARTIFACTS / "farmer_app_tap_my_field_offer.png"), full_page=True)
    assert page.is_visible(".offer-card"), page.text_content("#message")
    assert page.get_attribute(".offer-card", "data-decision") in {"approve", "refer", "decline"}


def test_delete_asks_first_and_api_errors_are_shown(page: Any, live_service: LiveService) -> None:
    corners, _ = field_outline(live_service.settings.region_dir)
    register(page, live_service.url, "13700000002")
    page.click("#to-consent")
    assert "地块" in (page.text_content("#message") or "")  # nothing drawn yet

    draw(page, corners[:3])
    page.click("#delete")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-no")
    assert page.is_visible("#area") and page.locator("#map path.leaflet-interactive").count() >= 1
    page.click("#delete")
    page.click("#confirm-yes")
    page.wait_for_selector("#area", state="hidden")
    assert page.is_visible("#draw")

    # a field far outside the county: the service refuses it and the farmer reads why
    _, s, e, _ = page.evaluate("agrisenseApp.state.config.bbox_lonlat")
    outside = [(e + 0.003, s), (e + 0.005, s), (e + 0.004, s + 0.002)]
    draw(page, outside)
    page.click("#crop-list button >> nth=0")
    page.click("#to-consent")
    page.check("#consent-check")
    page.click("#submit")
    page.wait_for_selector("#message:not([hidden])")
    assert page.is_visible("#screen-consent")
    message = page.text_content("#message") or ""
    assert message.startswith("地块边界有问题") and "卫星影像范围" in message, message  # OUTSIDE_IMAGERY


def test_second_visit_loads_without_network(browser: Any, live_service: LiveService) -> None:
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(live_service.url)
        page.wait_for_selector("#screen-login:not([hidden])")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        wait_js(
            page,
            """async () => { const keys = await caches.keys();
                for (const k of keys) {
                    const cached = await (await caches.open(k)).keys();
                    if (k.startsWith('agrisense-shell-') && cached.length >= 11) return true;
                }
                return false; }""",
        )
        context.set_offline(True)
        page.reload()
        page.wait_for_selector("#screen-login:not([hidden])")
        assert page.text_content("header h1") == "农田贷款"
        assert page.evaluate("typeof L !== 'undefined' && typeof L.PM !== 'undefined'")
    finally:
        context.close()
