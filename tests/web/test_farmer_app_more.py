"""The farmer app beyond the first application (issue #16), in headless Chromium at a 360 x 740 phone viewport.

"My loans" (loans with schedule, paid, next due; field alerts; plots by season; export and delete), offline (a
notice; the drawn outline kept on the phone across a reload and uploaded when the network is back), drawing (a tap
beside the first corner is a new corner, not the end; one area on screen: the service's once known), "locate me"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, PHONE_VIEWPORT, LiveService
from tests.web.test_farmer_app import draw, field_outline, geodesic_area_ha, register, screen_xy, wait_js


@pytest.fixture()
def context(browser: Any, live_service: LiveService) -> Iterator[Any]:
    ctx = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN")
    errors: list[str] = []
    ctx.on("page", lambda pg: pg.on("pageerror", lambda e: errors.append(str(e))))
    yield ctx
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture()
def page(context: Any) -> Any:
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    return pg


def zoom_to(page: Any, corners: list[tuple[float, float]]) -> None:
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    page.evaluate(
        "([s, w, n, e]) => agrisenseApp.state.map.fitBounds([[s, w], [n, e]], "
        " {paddingTopLeft: [72, 24], paddingBottomRight: [24, 24], animate: false})",
        [min(lats), min(lons), max(lats), max(lons)],
    )
    wait_js(page, "document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0")


def server_plots(page: Any) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            """async () => (await fetch('/api/v1/plots', {headers: {Authorization: 'Bearer ' +
                agrisenseApp.state.token}})).json()"""
        )
    )


def test_offline_notice_draft_survives_reload_and_is_uploaded_when_online(
    context: Any, page: Any, live_service: LiveService
) -> None:
    corners, crop = field_outline(live_service.settings.region_dir)
    register(page, live_service.url, "13700000011")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    wait_js(  # the shell is cached: the app reloads without the network
        page,
        """async () => { for (const k of await caches.keys())
            if (k.startsWith('agrisense-shell-') && (await (await caches.open(k)).keys()).length >= 11) return true;
            return false; }""",
    )
    zoom_to(page, corners)
    assert page.is_hidden("#offline-banner")

    context.set_offline(True)
    page.wait_for_selector("#offline-banner:not([hidden])")
    assert "网络断了" in (page.text_content("#offline-banner") or "")
    draw(page, corners)
    assert "保存在手机上" in (page.text_content("#message") or "")
    page.click(f"#crop-list [data-crop='{crop}']")
    draft = page.evaluate("agrisenseApp.readDraft()")
    assert draft["pending"] and len(draft["latlngs"]) == len(corners) and draft["crop"] == crop
    assert page.get_attribute("#area", "data-source") == "estimate" and "估算" in (page.text_content("#area") or "")

    page.reload()  # offline: the shell from the service worker, the outline from the phone
    page.wait_for_selector("#screen-draw:not([hidden])")
    page.wait_for_selector("#offline-banner:not([hidden])")
    page.wait_for_selector("#area:not([hidden])")
    ring = page.evaluate("agrisenseApp.state.layer.getLatLngs()[0].map((p) => [p.lng, p.lat])")
    assert [[lat, lon] for lon, lat in ring] == draft["latlngs"]  # the outline as drawn before the reload
    assert [v for p in ring for v in p] == pytest.approx([v for c in corners for v in c], abs=5e-5)  # pixel taps
    assert page.is_visible(f"#crop-list [data-crop='{crop}'][aria-pressed='true']")

    context.set_offline(False)  # back online: the queued outline is uploaded as a plot
    page.wait_for_selector("#area[data-source='api']")
    page.wait_for_selector("#offline-banner", state="hidden")
    assert "已上传" in (page.text_content("#message") or "")
    plots = server_plots(page)
    assert len(plots) == 1 and plots[0]["declared_crop"] == crop
    assert plots[0]["id"] == page.evaluate("agrisenseApp.state.plotId")
    assert not page.evaluate("agrisenseApp.readDraft().pending")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "farmer_app_offline_uploaded.png"), full_page=True)


def test_a_tap_beside_the_first_corner_is_a_corner_and_one_area_is_shown(page: Any, live_service: LiveService) -> None:
    corners, _ = field_outline(live_service.settings.region_dir)
    register(page, live_service.url, "13700000012")
    zoom_to(page, corners)
    page.click(".leaflet-pm-toolbar .leaflet-pm-icon-polygon")
    for lon, lat in corners[:3]:
        page.mouse.click(*screen_xy(page, lon, lat))
        page.wait_for_timeout(60)
    # 10 px from the first corner, towards the inside: on the corner's finger-sized marker, but not the corner
    cx = sum(screen_xy(page, *c)[0] for c in corners[:3]) / 3
    cy = sum(screen_xy(page, *c)[1] for c in corners[:3]) / 3
    first = screen_xy(page, *corners[0])
    dx, dy = cx - first[0], cy - first[1]
    norm = (dx * dx + dy * dy) ** 0.5
    page.mouse.click(first[0] + 10 * dx / norm, first[1] + 10 * dy / norm)
    page.wait_for_timeout(100)
    assert page.evaluate("agrisenseApp.state.map.pm.globalDrawModeEnabled()"), "the outline was closed early"
    assert page.evaluate("agrisenseApp.state.map.pm.Draw.Polygon._layer.getLatLngs().length") == 4
    assert page.is_hidden("#area")
    page.click("#draw-undo")  # take the extra corner back, draw the rest, close on the first corner itself
    for lon, lat in corners[3:]:
        page.mouse.click(*screen_xy(page, lon, lat))
        page.wait_for_timeout(60)
    page.mouse.click(*screen_xy(page, *corners[0]))
    page.wait_for_selector("#area:not([hidden])")
    assert len(page.evaluate("agrisenseApp.state.layer.getLatLngs()[0]")) == len(corners)

    # one area: the service's (WGS84 ellipsoid) once the plot is saved; the live one was labelled an estimate
    page.wait_for_selector("#area[data-source='api']")
    text = page.text_content("#area") or ""
    assert "估算" not in text and text.count("亩") == 1
    shown = float(page.get_attribute("#area", "data-ha") or 0)
    assert shown == pytest.approx(geodesic_area_ha(corners), rel=2e-3)
    assert page.locator("#screen-draw:not([hidden]) :text('公顷')").count() == 1


def test_locate_me_centres_the_map_on_the_phone(browser: Any, live_service: LiveService) -> None:
    corners, _ = field_outline(live_service.settings.region_dir)
    lon = sum(c[0] for c in corners) / len(corners)
    lat = sum(c[1] for c in corners) / len(corners)
    ctx = browser.new_context(
        viewport=PHONE_VIEWPORT,
        locale="zh-CN",
        geolocation={"latitude": lat, "longitude": lon},
        permissions=["geolocation"],
    )
    try:
        page = ctx.new_page()
        register(page, live_service.url, "13700000013")
        assert page.text_content("#locate") == "我的位置"
        page.click("#locate")
        wait_js(page, "agrisenseApp.state.map.getZoom() >= 17")
        centre = page.evaluate("(() => { const c = agrisenseApp.state.map.getCenter(); return [c.lng, c.lat]; })()")
        assert centre == pytest.approx([lon, lat], abs=1e-4)
        ctx.set_geolocation({"latitude": 39.9, "longitude": 116.4})  # Beijing: outside the county
        page.click("#locate")
        wait_js(page, "document.getElementById('message').textContent.includes('不在')")
    finally:
        ctx.close()


LOANS = [
    {
        "id": 7,
        "application_id": 3,
        "farmer_id": 1,
        "state": "disbursed",
        "currency": "CNY",
        "credit_limit": 5000,
        "annual_rate": 0.08,
        "arrangement_fee": 50,
        "as_of": "2027-05-01",
        "drawn": 3000,
        "undrawn": 2000,
        "principal_outstanding": 2500,
        "interest_accrued": 12.5,
        "fees_due": 0,
        "balance": 2512.5,
        "repaid": 600,
        "next_due_date": "2027-07-15",
        "next_due_amount": 1300.25,
        "tranches": [
            {
                "index": 0,
                "date": "2027-04-01",
                "amount": 3000,
                "payee": "borrower",
                "condition": None,
                "disbursed": True,
            },
            {
                "index": 1,
                "date": "2027-06-01",
                "amount": 2000,
                "payee": "Seed shop",
                "condition": "emergence_confirmed",
                "disbursed": False,
            },
        ],
        "schedule": [
            {"date": "2027-07-15", "principal": 1250, "interest": 50.25, "fees": 0, "total": 1300.25},
            {"date": "2027-10-15", "principal": 1250, "interest": 25.0, "fees": 0, "total": 1275.0},
        ],
        "postings": [],
    },
    {
        "id": 2,
        "application_id": 1,
        "farmer_id": 1,
        "state": "repaid",
        "currency": "CNY",
        "credit_limit": 3000,
        "annual_rate": 0.08,
        "arrangement_fee": 30,
        "as_of": "2027-05-01",
        "drawn": 3000,
        "undrawn": 0,
        "principal_outstanding": 0,
        "interest_accrued": 0,
        "fees_due": 0,
        "balance": 0,
        "repaid": 3150,
        "next_due_date": None,
        "next_due_amount": None,
        "tranches": [],
        "schedule": [],
        "postings": [],
    },
]
REFERRED_THEN_APPROVED = {
    "id": 5,
    "status": "offered",
    "engine_decision": "refer",
    "finance_season": 2027,
    "credit_limit": 4000,
    "currency": "CNY",
    "plots": [{"ref": "P-D"}],
    "offer": {
        "offers": [
            {
                "decision": "refer",
                "credit_limit": 4000,
                "currency": "CNY",
                "reasons": [
                    {"kind": "refer", "message_zh": "卫星看到的作物不太确定", "message_en": "Crop uncertain"},
                    {"kind": "positive", "message_zh": "往年长势好", "message_en": "Good past seasons"},
                ],
            }
        ]
    },
}
APPS = [
    REFERRED_THEN_APPROVED,
    {
        "id": 4,
        "status": "in_review",
        "finance_season": 2027,
        "credit_limit": 0,
        "currency": "CNY",
        "plots": [{"ref": "P-C"}],
        "consent": {"id": 44, "terms_version": "2026-11", "language": "zh-CN", "withdrawn_at": None},
    },
    {
        "id": 3,
        "status": "accepted",
        "finance_season": 2027,
        "credit_limit": 5000,
        "currency": "CNY",
        "plots": [{"ref": "P-A"}],
        "consent": {"id": 33, "terms_version": "2026-11", "language": "zh-CN", "withdrawn_at": None},
    },
    {
        "id": 1,
        "status": "accepted",
        "finance_season": 2026,
        "credit_limit": 3000,
        "currency": "CNY",
        "plots": [{"ref": "P-A"}, {"ref": "P-B"}],
    },
]
CONSENTS = [
    {
        "id": 44,
        "granted_at": "2027-03-02T08:00:00+00:00",
        "withdrawn_at": None,
        "applications": [{"id": 4, "status": "in_review"}],
        "active_loans": [],
        "withdrawable": True,
    },
    {
        "id": 33,
        "granted_at": "2027-02-01T08:00:00+00:00",
        "withdrawn_at": None,
        "applications": [{"id": 3, "status": "accepted"}],
        "active_loans": [3],
        "withdrawable": True,
    },
    {
        "id": 11,
        "granted_at": "2026-02-01T08:00:00+00:00",
        "withdrawn_at": "2026-12-01T08:00:00+00:00",
        "applications": [{"id": 1, "status": "accepted"}],
        "active_loans": [],
        "withdrawable": False,
    },
]
WARNINGS = [
    {"message_zh": "地块 P-A 长势比往年弱", "message_en": "Field P-A grows weaker than usual", "severity": "high"}
]
PLOTS = [
    {"ref": "P-A", "area_mu": 30.0, "area_ha": 2.0, "declared_crop": "maize"},
    {"ref": "P-B", "area_mu": 15.0, "area_ha": 1.0, "declared_crop": "maize"},
    {"ref": "P-C", "area_mu": 7.5, "area_ha": 0.5, "declared_crop": None},
    {"ref": "P-D", "area_mu": 3.0, "area_ha": 0.2, "declared_crop": None},
    {"ref": "P-E", "area_mu": 1.5, "area_ha": 0.1, "declared_crop": None},
]


def test_my_loans_shows_schedule_paid_next_due_alerts_plots_by_season_export_and_delete(
    page: Any, live_service: LiveService
) -> None:
    register(page, live_service.url, "13700000014")
    fixtures = {
        "/api/v1/loans": LOANS,
        "/api/v1/applications": APPS,
        "/api/v1/me/warnings": WARNINGS,
        "/api/v1/plots": PLOTS,
        "/api/v1/me/consents": CONSENTS,
    }

    withdrawals: list[str] = []

    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(live_service.url).partition("?")[0]
        if route.request.method == "GET" and path in fixtures:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(fixtures[path]))
        elif route.request.method == "POST" and path == "/api/v1/me/consents/44/withdraw":
            withdrawals.append(path)
            body = {"consent": {}, "cancelled_applications": [4], "active_loans": [], "message": "withdrawn"}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
        elif route.request.method == "POST" and path == "/api/v1/me/consents/33/withdraw":
            withdrawals.append(path)
            body = {"consent": {}, "cancelled_applications": [], "active_loans": [3], "message": "kept"}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    page.route("**/api/v1/**", answer)  # the screen's data (a disbursed loan, a repaid one, an alert), served here
    page.click("#home")
    page.wait_for_selector("#screen-home:not([hidden]) .loan-card")
    cards = page.locator(".loan-card")
    assert cards.count() == 2
    first = cards.nth(0).text_content() or ""
    assert "2027 年这一季的贷款" in first and "已放款，正在还款" in first
    assert "¥600.00" in first and "¥2,512.50" in first  # paid so far, still owed
    assert "2027年7月15日" in first and "¥1,300.25" in first  # next due date and amount
    assert cards.nth(0).locator(".schedule li").count() == 2 and "已发放" in first and "待发放" in first
    second = cards.nth(1).text_content() or ""
    assert "2026 年这一季的贷款" in second and "已还清" in second and "没有要还的钱了" in second
    assert page.locator(".app-card").count() == 2 and "审核中" in (page.text_content("#home-apps") or "")
    assert "长势比往年弱" in (page.text_content("#home-warnings") or "")
    seasons = page.eval_on_selector_all("#home-plots .plot-season", "els => els.map((e) => e.dataset.season)")
    assert seasons == ["", "2027", "2026"]
    assert page.locator(".plot-season[data-season='2026'] li").count() == 2
    assert page.locator(".plot-season[data-season='2027'] li").count() == 3  # P-A again, P-C, P-D
    assert page.locator(".plot-season[data-season=''] li").count() == 1  # P-E: never applied for
    page.click("#lang")
    assert "Loan for the 2027 season" in (cards.nth(0).text_content() or "")
    assert "Next payment" in (cards.nth(0).text_content() or "") and "Field alerts" in page.inner_text("#screen-home")
    page.click("#lang")
    # withdraw consent wherever PIPL expects it: on the open application (4), on the loan (application 3), and in
    # "my consents" for every consent not yet withdrawn (11 is: no button)
    assert page.locator(".withdraw-consent").count() == 2
    assert page.locator(".loan-card .withdraw-consent[data-consent='33']").count() == 1
    assert page.locator("#home-consents li.consent").count() == 3
    assert page.locator("#home-consents .consent-withdraw").count() == 2
    assert "已于 2026年12月1日 撤回" in (page.text_content("#home-consents li[data-consent='11']") or "")
    page.click(".app-card[data-application='4'] .withdraw-consent")
    page.wait_for_selector("#confirm[open]")
    assert "撤回" in (page.text_content("#confirm-text") or "")
    page.click("#confirm-no")
    assert withdrawals == []
    page.click(".app-card[data-application='4'] .withdraw-consent")
    page.click("#confirm-yes")
    page.wait_for_selector("#message.info:not([hidden])")
    assert withdrawals == ["/api/v1/me/consents/44/withdraw"] and "已撤回同意" in (page.text_content("#message") or "")
    # after the decision, with a loan: the dialog says which records the loan keeps, then the service withdraws it
    page.click("#home-consents li[data-consent='33'] .consent-withdraw")
    page.wait_for_selector("#confirm[open]")
    assert "放款和还款记录" in (page.text_content("#confirm-text") or "")
    page.click("#confirm-yes")
    page.wait_for_function("() => document.querySelector('#message').textContent.includes('贷款不受影响')")
    assert withdrawals[-1] == "/api/v1/me/consents/33/withdraw"
    assert (page.text_content("#message") or "").startswith("已撤回同意。")  # nothing was cancelled
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "farmer_app_my_loans_fixture.png"), full_page=True)

    # referred, then approved by an analyst: the referral reasons are not shown in red under 可以贷款
    page.click(".app-card[data-application='5'] .view-offer")
    page.wait_for_selector("#screen-offer:not([hidden]) .offer-card[data-decision='approve']")
    assert page.locator(".reasons li.refer, .reasons li.decline").count() == 0
    assert page.locator(".reasons li.reviewed").count() == 1 and page.locator(".reasons li.positive").count() == 1
    offer = page.text_content(".offer-card") or ""
    assert "审核时看过的情况" in offer and "贷款季：2027 年" in offer
    page.click("#home")
    page.wait_for_selector("#screen-home:not([hidden])")
    page.unroute("**/api/v1/**")

    with page.expect_download() as download:  # export: everything held about the farmer, as a JSON file
        page.click("#export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["account"]["phone"] == "13700000014"

    page.click("#delete-me")  # asks first
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-no")
    assert page.is_visible("#screen-home")
    page.click("#delete-me")
    page.click("#confirm-yes")
    page.wait_for_selector("#screen-login:not([hidden])")
    assert "已删除" in (page.text_content("#message") or "")
