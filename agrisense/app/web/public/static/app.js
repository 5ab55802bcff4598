/* agrisense farmer app: log in, draw one plot, agree, see the offer, accept. Three steps, no build step.
   A returning farmer with loans or applications sees "my loans" first. A drawn outline is kept on the phone
   (localStorage draft) and uploaded as a plot when the network is there (queued while offline). */
"use strict";
(function () {
  const API = "/api/v1";
  const MU_PER_HA = 15;
  const DRAFT_KEY = "agrisense.draft";
  const FIRST_VERTEX_PX = 8; // a tap closes the outline only this close to the first corner (else: a new corner)
  const $ = (id) => document.getElementById(id);
  const state = {
    lang: localStorage.getItem("agrisense.lang") || "zh",
    token: sessionStorage.getItem("agrisense.token") || null,
    config: null,
    registering: false,
    layer: null, // the drawn plot (L.Polygon)
    crop: null,
    tileLayers: {},
    activeLayer: "truecolor",
    application: null,
    map: null,
    apiArea: null, // {ha, mu} measured by the service (ellipsoid) once the plot is saved; else the live estimate
    syncing: null, // the plot upload in flight (a Promise)
    home: null, // {loans, apps, warnings, plots} of the "my loans" screen
  };

  /* ---------- text ---------- */
  function t(key, ...args) {
    const v = (I18N[state.lang] || I18N.zh)[key];
    if (v === undefined) return key;
    return typeof v === "function" ? v(...args) : v;
  }
  function applyTexts() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("lang").textContent = t("lang_other");
    $("login-title").textContent = t(state.registering ? "register_title" : "login_title");
    $("login-submit").textContent = t(state.registering ? "register" : "login");
    $("toggle-register").textContent = t(state.registering ? "have_account" : "no_account");
    $("layer").textContent = t(state.activeLayer === "truecolor" ? "layer_ndvi" : "layer_truecolor");
    $("edit").textContent = t(state.map && state.map.pm.globalEditModeEnabled() ? "edit_done" : "edit");
    if (state.config) renderConsentWhen();
    renderCrops();
    updateArea();
    if (state.application) renderOffer(state.application);
    if (state.home) renderHome();
    if (state.map) state.map.attributionControl.setPrefix(false);
    Object.values(state.tileLayers).forEach((l) => state.map && state.map.attributionControl.removeAttribution(l._agriAttr));
    Object.values(state.tileLayers).forEach((l) => { l._agriAttr = t("map_attribution"); });
    if (state.map && state.tileLayers[state.activeLayer]) state.map.attributionControl.addAttribution(t("map_attribution"));
  }

  /* ---------- messages, busy, confirm ---------- */
  function showMessage(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = "message " + (kind || "error");
    box.hidden = !text;
    if (text) box.scrollIntoView({ block: "nearest" });
  }
  function busy(text) {
    $("busy-text").textContent = text || "";
    $("busy").hidden = !text;
  }
  function confirmDialog(text, yesLabel) {
    return new Promise((resolve) => {
      const dlg = $("confirm");
      $("confirm-text").textContent = text;
      $("confirm-yes").textContent = yesLabel || t("yes");
      const done = (answer) => { dlg.close(); $("confirm-yes").onclick = null; $("confirm-no").onclick = null; resolve(answer); };
      $("confirm-yes").onclick = () => done(true);
      $("confirm-no").onclick = () => done(false);
      dlg.oncancel = (e) => { e.preventDefault(); done(false); };
      dlg.showModal();
    });
  }

  /* ---------- API ---------- */
  class ApiError extends Error {
    constructor(status, message, kind) { super(message); this.status = status; this.kind = kind || ""; }
  }
  function errorText(body) {
    if (!body) return "";
    if (typeof body === "string") return body;
    if (body.code && typeof body.message === "string") return body.message; // the API's localised message for the code
    const d = body.detail !== undefined ? body.detail : body.message !== undefined ? body.message : body.error;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((e) => (e.loc ? e.loc.filter((p) => p !== "body").join(".") + ": " : "") + (e.msg || JSON.stringify(e))).join("; ");
    if (d && typeof d === "object") return d.message || d.detail || JSON.stringify(d);
    return JSON.stringify(body);
  }
  async function api(method, path, body, form) {
    const headers = { Accept: "application/json", "Accept-Language": state.lang === "zh" ? "zh-CN" : "en" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let payload;
    if (form) { headers["Content-Type"] = "application/x-www-form-urlencoded"; payload = new URLSearchParams(form).toString(); }
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: payload, cache: "no-store" });
    } catch (e) {
      setOffline(true);
      throw new ApiError(0, t("offline"));
    }
    setOffline(false);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!res.ok) {
      if (res.status === 401 && !form) { logout(); throw new ApiError(401, t("session_expired") + (errorText(data) ? " (" + errorText(data) + ")" : "")); }
      if (res.status >= 500) throw new ApiError(res.status, t("server_error") + (errorText(data) ? " (" + errorText(data) + ")" : ""));
      throw new ApiError(res.status, errorText(data) || res.statusText, data && data.error);
    }
    return data;
  }
  function fail(err) {
    busy(null);
    if (err instanceof ApiError && err.status === 0) return showMessage(err.message);
    const key = "err_" + (err.kind || "");
    const prefix = err.kind && t(key) !== key ? t(key) : t("error_prefix");
    showMessage(prefix + err.message);
  }

  /* ---------- screens ---------- */
  function show(screen) {
    ["login", "home", "draw", "consent", "offer"].forEach((s) => { $("screen-" + s).hidden = s !== screen; });
    $("home").hidden = screen === "login" || screen === "home";
    const step = { draw: 1, consent: 2, offer: 3 }[screen];
    $("steps").hidden = !step;
    $("logout").hidden = screen === "login";
    document.querySelectorAll("#steps li").forEach((li) => {
      li.classList.toggle("active", Number(li.dataset.step) === step);
      li.classList.toggle("done", Number(li.dataset.step) < step);
    });
    document.body.dataset.screen = screen;
    if (screen === "draw") { initMap(); setTimeout(() => state.map.invalidateSize(), 0); }
  }

  /* ---------- log in / register ---------- */
  async function onLogin(ev) {
    ev.preventDefault();
    showMessage("");
    const phone = $("phone").value.trim(), password = $("password").value, name = $("name").value.trim();
    if (!phone) return showMessage(t("need_phone"));
    if (state.registering && !name) return showMessage(t("need_name"));
    if (!password) return showMessage(t("need_password"));
    busy(t("busy_login"));
    try {
      if (state.registering) await api("POST", "/auth/register", { phone, password, name, role: "farmer" });
      const tok = await api("POST", "/auth/token", undefined, { username: phone, password, grant_type: "password" });
      state.token = tok.access_token;
      sessionStorage.setItem("agrisense.token", state.token);
      $("password").value = "";
      await resume();
      busy(null);
    } catch (e) { fail(e); }
  }
  function logout() {
    state.token = null;
    state.home = null;
    sessionStorage.removeItem("agrisense.token");
    show("login");
  }

  /* ---------- map and drawing ---------- */
  function initMap() {
    if (state.map) return;
    const cfg = state.config;
    const [w, s, e, n] = cfg.bbox_lonlat;
    const bounds = L.latLngBounds([s, w], [n, e]);
    const map = L.map("map", { zoomControl: true, maxZoom: cfg.max_zoom || 19, minZoom: 11, maxBounds: bounds.pad(0.5), maxBoundsViscosity: 0.8 });
    state.map = map;
    map.attributionControl.setPrefix(false);
    for (const name of ["truecolor", "ndvi"]) {
      state.tileLayers[name] = L.tileLayer("/tiles/" + name + "/{z}/{x}/{y}.png", { maxZoom: cfg.max_zoom || 19, maxNativeZoom: cfg.max_zoom || 19, bounds: bounds.pad(0.05), tileSize: 256 });
    }
    state.tileLayers.truecolor.addTo(map);
    map.attributionControl.addAttribution(t("map_attribution"));
    L.rectangle(bounds, { color: "#ffd54f", weight: 2, fill: false, dashArray: "6 6", interactive: false }).addTo(map);
    map.fitBounds(bounds, { padding: [8, 8] });
    if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize({ pan: false })).observe($("map"));
    map.pm.setLang(state.lang === "zh" ? "zh" : "en");
    // no snapping and no finishOn: only a tap on the first corner itself (FIRST_VERTEX_PX) or "画好了" closes the outline
    map.pm.setGlobalOptions({ allowSelfIntersection: false, snappable: false, finishOn: null, requireSnapToFinish: false, templineStyle: { color: "#ffeb3b" }, hintlineStyle: { color: "#ffeb3b", dashArray: "5 5" }, pathOptions: { color: "#ffeb3b", weight: 3, fillOpacity: 0.15 } });
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawRectangle: false,
      drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, removalMode: false,
      drawPolygon: true, editMode: true,
    });
    map.on("pm:drawstart", () => {
      $("draw-hint").textContent = t("drawing_hint"); $("draw-hint").hidden = false; setDrawing(true);
      drawer()._layer.on("pm:vertexadded", onVertexAdded);
    });
    map.on("pm:drawend", () => { if (!state.layer) $("draw-hint").textContent = t("draw_hint"); setDrawing(false); });
    map.on("pm:create", (e) => { adoptLayer(e.layer); showMessage(""); syncPlot(); });
    map.on("click", (e) => { if (state.detecting) onDetectAt(e.latlng); });
    map.on("pm:globaleditmodetoggled", () => {
      const editing = map.pm.globalEditModeEnabled();
      $("edit").textContent = t(editing ? "edit_done" : "edit");
      updateArea();
      if (!editing && state.plotDirty) syncPlot();
    });
    restoreDraft();
  }

  /* Geoman closes the outline on a tap within its snap distance (20 px) of the first corner, snapping on or off
     (the first corner is always a snap target), and on any tap on the corner's finger-sized marker. Here only a tap
     on the corner itself (FIRST_VERTEX_PX) or "画好了" closes it; a tap beside it is a new corner. */
  function onVertexAdded(e) {
    if (drawer()._markers.length !== 1) return;
    const marker = e.marker;
    drawer()._otherSnapLayers = [];
    marker.off("click");
    marker.on("click", (ev) => {
      const map = state.map, oe = ev.originalEvent;
      const tap = oe ? map.mouseEventToContainerPoint(oe) : map.latLngToContainerPoint(marker.getLatLng());
      if (tap.distanceTo(map.latLngToContainerPoint(marker.getLatLng())) <= FIRST_VERTEX_PX) onDrawFinish();
      else { drawer()._hintMarker._snapped = false; drawer()._createVertex({ latlng: map.containerPointToLatLng(tap) }); }
    });
  }

  /* ---------- the draft on the phone and its upload ---------- */
  function tokenOwner() {
    try { return String(JSON.parse(atob(state.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub); }
    catch (e) { return ""; }
  }
  /* The draft of the signed-in farmer (a draft of another account on the same phone is not shown). */
  function readDraft() {
    let d = null;
    try { d = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { return null; }
    return d && state.token && d.owner === tokenOwner() ? d : null;
  }
  function saveDraft(extra) {
    if (!state.layer) { localStorage.removeItem(DRAFT_KEY); return; }
    const rings = state.layer.getLatLngs();
    const outer = Array.isArray(rings[0]) ? rings[0] : rings;
    const prev = readDraft() || {};
    const draft = Object.assign({ pending: !!prev.pending }, {
      owner: tokenOwner(), latlngs: outer.map((p) => [p.lat, p.lng]), crop: state.crop, plotId: state.plotId, apiArea: state.apiArea,
    }, extra || {});
    localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  }
  function restoreDraft() {
    const d = readDraft();
    if (state.layer || !d || !Array.isArray(d.latlngs) || d.latlngs.length < 3) return;
    const layer = L.polygon(d.latlngs, state.map.pm.getGlobalOptions().pathOptions).addTo(state.map);
    adoptLayer(layer);
    state.plotId = d.plotId || null;
    state.apiArea = d.apiArea || null;
    state.plotDirty = !!d.pending;
    if (d.crop) { state.crop = d.crop; renderCrops(); }
    saveDraft();
    updateArea();
    showMessage(t("draft_restored"), "info");
    if (d.pending && navigator.onLine) syncPlot(true);
  }
  /* Upload the outline as a plot (create, or change the saved one); offline it waits in the draft (queued). */
  function syncPlot(announce) {
    if (!state.layer || !state.token) return Promise.resolve();
    if (!navigator.onLine) { saveDraft({ pending: true }); showMessage(t("draft_saved"), "info"); return Promise.resolve(); }
    const run = (async () => {
      if (state.syncing) await state.syncing.catch(() => undefined);
      if (!state.layer) return;
      const body = { geometry: plotGeometry() };
      if (state.crop) body.declared_crop = state.crop;
      try {
        const plot = state.plotId ? await api("PATCH", "/plots/" + state.plotId, body) : await api("POST", "/plots", body);
        state.plotId = plot.id;
        state.plotDirty = false;
        state.apiArea = { ha: plot.area_ha, mu: plot.area_mu };
        saveDraft({ pending: false });
        updateArea();
        if (announce) showMessage(t("draft_synced"), "info");
      } catch (e) {
        if (e.status === 0) { saveDraft({ pending: true }); showMessage(t("draft_saved"), "info"); return; }
        saveDraft({ pending: false });
        fail(e);
      }
    })();
    state.syncing = run.finally(() => { if (state.syncing === run) state.syncing = null; });
    return run;
  }
  function setOffline(off) {
    $("offline-banner").hidden = !off;
    document.body.classList.toggle("offline", off);
  }
  function onOnline() {
    setOffline(false);
    const d = readDraft();
    if (d && d.pending && state.layer && state.token) syncPlot(true);
  }

  /* "Locate me": the phone's position (Permissions-Policy allows geolocation for this site only). */
  function onLocate() {
    if (!navigator.geolocation) return showMessage(t("locate_failed"));
    showMessage(t("locating"), "info");
    navigator.geolocation.getCurrentPosition((pos) => {
      const ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
      const [w, s, e, n] = state.config.bbox_lonlat;
      if (!L.latLngBounds([s, w], [n, e]).contains(ll)) return showMessage(t("locate_outside"));
      showMessage("");
      if (state.here) state.here.setLatLng(ll);
      else state.here = L.circleMarker(ll, { radius: 9, color: "#fff", weight: 3, fillColor: "#1e88e5", fillOpacity: 1, interactive: false }).addTo(state.map);
      state.map.setView(ll, Math.max(state.map.getZoom(), 17), { animate: false });
    }, () => showMessage(t("locate_failed")), { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
  }

  /* The plot outline, drawn by hand or suggested by the model: editable the same way. */
  function adoptLayer(layer) {
    const map = state.map;
    if (state.layer) map.removeLayer(state.layer);
    state.layer = layer;
    state.plotId = null;
    state.apiArea = null;
    state.plotDirty = true;
    state.layer.on("pm:edit pm:markerdragend pm:vertexremoved", () => { state.plotDirty = true; state.apiArea = null; updateArea(); saveDraft(); });
    state.layer.on("pm:intersect", () => showMessage(t("self_intersect")));
    map.pm.Toolbar.setButtonDisabled("drawPolygon", true);
    updateArea();
    saveDraft();
  }

  /* "Tap my field": the next tap on the map asks the service for the outline the model sees there. */
  function setDetecting(on) {
    state.detecting = on;
    $("map").classList.toggle("detecting", on);
    $("draw-hint").textContent = t(on ? "detect_hint" : "draw_hint");
    $("draw-hint").hidden = !on && !!state.layer;
  }
  async function onDetectAt(latlng) {
    setDetecting(false);
    busy(t("detecting"));
    try {
      const feature = await api("GET", "/fields/outline?lon=" + latlng.lng.toFixed(7) + "&lat=" + latlng.lat.toFixed(7));
      busy(null);
      const ring = feature.geometry.type === "Polygon" ? feature.geometry.coordinates[0] : feature.geometry.coordinates[0][0];
      const layer = L.polygon(ring.slice(0, -1).map(([lng, lat]) => [lat, lng]), state.map.pm.getGlobalOptions().pathOptions).addTo(state.map);
      adoptLayer(layer);
      const p = feature.properties;
      state.apiArea = { ha: p.area_ha, mu: p.area_mu };
      updateArea();
      syncPlot();
      showMessage(t("detected", p.area_mu.toFixed(2), p.area_ha.toFixed(3)), "info");
    } catch (e) {
      busy(null);
      if (e instanceof ApiError && e.status === 404) return showMessage(t("detect_none"), "info");
      fail(e);
    }
  }

  /* While drawing, the panel offers finish / undo / stop (the same calls as Geoman's own action buttons). */
  function setDrawing(on) {
    $("drawing-actions").hidden = !on;
    $("draw").hidden = on || !!state.layer;
    $("detect").hidden = on || !!state.layer;
  }
  function drawer() { return state.map.pm.Draw.Polygon; }
  function onDrawFinish() {
    const layer = drawer()._layer;
    if (!layer || layer.getLatLngs().length < 3) return showMessage(t("need_three"), "info");
    drawer()._finishShape();
  }
  function onDrawUndo() {
    const layer = drawer()._layer;
    if (layer && layer.getLatLngs().length > 0) drawer()._removeLastVertex();
  }

  /* Geodesic area of a lon/lat ring in m² (spherical excess, the same formula as Leaflet.draw / turf). */
  function ringAreaM2(latlngs) {
    const R = 6378137, rad = Math.PI / 180;
    let sum = 0;
    for (let i = 0; i < latlngs.length; i++) {
      const p1 = latlngs[i], p2 = latlngs[(i + 1) % latlngs.length];
      sum += (p2.lng - p1.lng) * rad * (2 + Math.sin(p1.lat * rad) + Math.sin(p2.lat * rad));
    }
    return Math.abs(sum * R * R / 2);
  }
  function plotGeometry() {
    const gj = state.layer.toGeoJSON(12).geometry;
    return gj;
  }
  function updateArea() {
    const has = !!state.layer;
    $("area").hidden = !has;
    $("draw").hidden = has;
    $("detect").hidden = has;
    $("edit").hidden = !has;
    $("delete").hidden = !has;
    if (!has) { $("draw-hint").hidden = false; $("draw").hidden = !$("drawing-actions").hidden; return; }
    $("draw-hint").hidden = true;
    // one area on screen: the service's (WGS84 ellipsoid) once the plot is saved, else the live estimate (sphere)
    if (state.apiArea) {
      $("area").textContent = t("area", state.apiArea.mu.toFixed(2), state.apiArea.ha.toFixed(3));
      $("area").dataset.ha = state.apiArea.ha.toFixed(6);
      $("area").dataset.source = "api";
      return;
    }
    const rings = state.layer.getLatLngs();
    const outer = Array.isArray(rings[0]) ? rings[0] : rings;
    let m2 = ringAreaM2(outer);
    for (const hole of rings.slice(1)) if (Array.isArray(hole)) m2 -= ringAreaM2(hole);
    const ha = m2 / 10000;
    $("area").textContent = t("area_estimate", (ha * MU_PER_HA).toFixed(2), ha.toFixed(3));
    $("area").dataset.ha = ha.toFixed(6);
    $("area").dataset.source = "estimate";
  }
  async function onDelete() {
    if (!state.layer) return;
    if (!(await confirmDialog(t("confirm_delete"), t("delete")))) return;
    if (state.map.pm.globalEditModeEnabled()) state.map.pm.disableGlobalEditMode();
    if (state.plotId) {
      try { await api("DELETE", "/plots/" + state.plotId); } catch (e) { if (e.status !== 404) return fail(e); }
    }
    state.map.removeLayer(state.layer);
    state.layer = null;
    state.plotId = null;
    state.apiArea = null;
    saveDraft();
    state.map.pm.Toolbar.setButtonDisabled("drawPolygon", false);
    $("draw-hint").textContent = t("draw_hint");
    updateArea();
  }
  function onEdit() {
    state.map.pm.toggleGlobalEditMode({ allowSelfIntersection: false });
  }
  function onToggleLayer() {
    const next = state.activeLayer === "truecolor" ? "ndvi" : "truecolor";
    state.map.removeLayer(state.tileLayers[state.activeLayer]);
    state.tileLayers[next].addTo(state.map);
    state.activeLayer = next;
    $("layer").textContent = t(next === "truecolor" ? "layer_ndvi" : "layer_truecolor");
  }

  /* ---------- crops ---------- */
  function cropName(code) {
    const c = (state.config && state.config.crops || []).find((x) => x.code === code);
    if (c) return state.lang === "zh" ? c.name_zh : c.name_en;
    const k = "crop_" + code;
    return t(k) === k ? code : t(k);
  }
  function renderCrops() {
    const list = $("crop-list");
    if (!state.config) return;
    list.innerHTML = "";
    for (const c of state.config.crops) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "crop big" + (state.crop === c.code ? " selected" : "");
      b.dataset.crop = c.code;
      b.setAttribute("aria-pressed", state.crop === c.code ? "true" : "false");
      b.textContent = cropName(c.code);
      b.onclick = () => { state.crop = c.code; state.plotDirty = true; renderCrops(); showMessage(""); saveDraft(); };
      list.appendChild(b);
    }
  }

  /* ---------- consent ---------- */
  function fmtDate(iso) {
    if (!iso) return "";
    const d = new Date(iso + "T00:00:00");
    return new Intl.DateTimeFormat(state.lang === "zh" ? "zh-CN" : "en-GB", { year: "numeric", month: "long", day: "numeric" }).format(d);
  }
  function renderConsentWhen() {
    const c = state.config;
    // the loan is for the offer's finance season (the season after the imagery's): the same year on every screen
    const season = c.finance_season || c.season + 1;
    $("consent-when").textContent = t("consent_when", fmtDate(c.imagery_start), fmtDate(c.imagery_end), season, c.evidence_season || c.season);
    $("terms-version").textContent = c.terms_version;
  }
  function toConsent() {
    showMessage("");
    if (!state.layer) return showMessage(t("need_plot"));
    if (state.map.pm.globalDrawModeEnabled()) return showMessage(t("need_plot"));
    if (!state.crop) return showMessage(t("need_crop"));
    if (state.map.pm.globalEditModeEnabled()) state.map.pm.disableGlobalEditMode();
    $("consent-check").checked = false;
    $("submit").disabled = true;
    show("consent");
  }

  /* ---------- submit, offer, accept ---------- */
  async function onSubmit() {
    showMessage("");
    if (!$("consent-check").checked) return;
    busy(t("busy_submit"));
    try {
      if (state.syncing) await state.syncing;
      const body = { geometry: plotGeometry(), declared_crop: state.crop };
      if (!state.plotId) state.plotId = (await api("POST", "/plots", body)).id;
      else if (state.plotDirty) await api("PATCH", "/plots/" + state.plotId, body);
      state.plotDirty = false;
      saveDraft({ plotId: state.plotId, pending: false });
      const application = await api("POST", "/applications", {
        plot_ids: [state.plotId],
        consent: true,
        consent_language: state.lang === "zh" ? "zh-CN" : "en", // the statement stored is the one shown
      });
      state.application = application;
      localStorage.removeItem(DRAFT_KEY); // submitted: the plot lives in the application now
      busy(null);
      renderOffer(application);
      show("offer");
    } catch (e) { fail(e); }
  }
  /* The plot's full offer (schedule, reasons) with the application's current limit (an analyst may change it). */
  function offerOf(app) {
    const summary = app.offer || {};
    const plotOffer = (summary.offers || [])[0];
    if (!plotOffer) return null;
    const decided = app.status === "offered" || app.status === "accepted";
    const limit = decided && app.credit_limit !== undefined ? app.credit_limit : plotOffer.credit_limit;
    return Object.assign({}, plotOffer, { credit_limit: limit });
  }
  function money(v, cur) {
    try { return new Intl.NumberFormat(state.lang === "zh" ? "zh-CN" : "en-GB", { style: "currency", currency: cur || "CNY" }).format(v); }
    catch (e) { return v.toFixed(2) + " " + (cur || ""); }
  }
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");
  function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function renderOffer(app) {
    const box = $("offer");
    box.innerHTML = "";
    const o = offerOf(app);
    if (!o) { box.appendChild(el("p", "hint", t("no_offer"))); $("accept").hidden = true; return; }
    const cur = o.currency;
    const status = String(app.status || "").toLowerCase();
    const accepted = status === "accepted";
    // the application's status wins over the engine's decision (an analyst may have approved or declined it)
    const decision = { offered: "approve", accepted: "approve", in_review: "refer", declined: "decline" }[status] || o.decision;
    const card = el("article", "offer-card " + decision);
    card.dataset.decision = decision;
    card.appendChild(el("h2", "decision", t("decision_" + decision)));
    if (decision !== "decline") {
      const lim = el("p", "limit");
      lim.appendChild(el("span", "label", t(decision === "refer" ? "limit_proposed" : "limit")));
      lim.appendChild(el("strong", "amount", money(o.credit_limit, cur)));
      card.appendChild(lim);
    }
    if (decision === "refer") card.appendChild(el("p", "hint", t("refer_note")));
    if (app.finance_season) card.appendChild(el("p", "small season", t("offer_season", app.finance_season)));
    if (o.area_mu !== null && o.area_mu !== undefined) card.appendChild(el("p", "small", t("plot_area", o.area_mu.toFixed(2), o.area_ha.toFixed(3))));
    if (o.crop) card.appendChild(el("p", "small", t("crop_seen", cropName(o.crop), pct(o.crop_probability))));
    if (o.annual_rate !== null && o.annual_rate !== undefined) {
      const dl = el("dl", "offer-terms");
      dl.append(el("dt", "", t("rate")), el("dd", "", pct(o.annual_rate)), el("dt", "", t("apr")), el("dd", "apr", pct(o.apr)));
      if (o.fees && o.fees.length) dl.append(el("dt", "", t("fees")), el("dd", "", o.fees.map((f) => money(f.amount, cur)).join(" + ")));
      card.appendChild(dl);
    }
    if (o.disbursements && o.disbursements.length) {
      card.appendChild(el("h3", "", t("you_receive")));
      const ul = el("ul", "dated in");
      for (const d of o.disbursements) {
        const li = el("li");
        li.append(el("span", "date", fmtDate(d.date)), el("span", "amt", money(d.amount, cur)));
        const notes = [];
        if (d.condition) notes.push(t("condition_" + d.condition) === "condition_" + d.condition ? d.condition : t("condition_" + d.condition));
        if (d.payee && d.payee !== "borrower") notes.push(t("to_supplier"));
        if (notes.length) li.appendChild(el("small", "", notes.join("，")));
        ul.appendChild(li);
      }
      card.appendChild(ul);
    }
    if (o.schedule && o.schedule.length) {
      card.appendChild(el("h3", "", t("you_repay")));
      const ul = el("ul", "dated out");
      let total = 0;
      for (const r of o.schedule) {
        const li = el("li");
        li.append(el("span", "date", fmtDate(r.date)), el("span", "amt", money(r.total, cur)));
        total += r.total;
        ul.appendChild(li);
      }
      card.appendChild(ul);
      card.appendChild(el("p", "total", t("total_repay") + " " + money(total, cur)));
    }
    if (o.reasons && o.reasons.length) {
      // approved after review: the referral reasons were weighed by a loan officer, no longer a warning in red
      const reviewed = decision === "approve" && o.reasons.some((r) => r.kind === "refer" || r.kind === "decline");
      card.appendChild(el("h3", "", t(reviewed ? "reasons_reviewed" : "reasons")));
      const ex = o.explanation; // the one main reason and what would change the decision (computed by the engine)
      if (ex && !reviewed) {
        card.appendChild(el("p", "main-reason", state.lang === "zh" ? ex.main_zh : ex.main_en));
        if (ex.change) card.appendChild(el("p", "what-if", t("what_would_change") + " " + (state.lang === "zh" ? ex.change.message_zh : ex.change.message_en)));
      }
      const ul = el("ul", "reasons" + (reviewed ? " reviewed" : ""));
      for (const r of o.reasons) ul.appendChild(el("li", reviewed && r.kind !== "positive" ? "reviewed" : r.kind, state.lang === "zh" ? r.message_zh : r.message_en));
      card.appendChild(ul);
    }
    if (status) card.appendChild(el("p", "status", t("status") + (t("status_" + status) === "status_" + status ? status : t("status_" + status))));
    if (accepted) card.appendChild(el("p", "accepted", t("accepted")));
    box.appendChild(card);
    $("accept").hidden = status !== "offered" || !(o.credit_limit > 0);
  }
  async function onAccept() {
    const app = state.application, o = offerOf(app);
    if (!(await confirmDialog(t("confirm_accept", money(o.credit_limit, o.currency)), t("accept")))) return;
    busy(t("busy_accept"));
    try {
      state.application = await api("POST", "/applications/" + app.id + "/accept");
      busy(null);
      renderOffer(state.application);
    } catch (e) { fail(e); }
  }
  function newPlot() {
    if (state.layer && state.map) state.map.removeLayer(state.layer);
    state.layer = null; state.plotId = null; state.crop = null; state.application = null; state.apiArea = null;
    if (readDraft() && !(readDraft() || {}).pending) localStorage.removeItem(DRAFT_KEY);
    state.map && state.map.pm.Toolbar.setButtonDisabled("drawPolygon", false);
    renderCrops(); updateArea();
    showMessage("");
    show("draw");
  }
  async function onNewPlot() {
    if (!(await confirmDialog(t("confirm_new"), t("new_plot")))) return;
    newPlot();
  }

  /* ---------- my loans (what a returning farmer with loans or applications sees first) ---------- */
  async function loadHome() {
    const [loans, apps, warnings, plots, consents] = await Promise.all([
      api("GET", "/loans"), api("GET", "/applications"), api("GET", "/me/warnings"), api("GET", "/plots"),
      api("GET", "/me/consents"),
    ]);
    state.home = { loans: loans || [], apps: apps || [], warnings: warnings || [], plots: plots || [], consents: consents || [] };
    renderHome();
    return state.home;
  }
  function loanStateText(s) { const k = "loan_state_" + s; return t(k) === k ? s : t(k); }
  function renderHome() {
    const h = state.home;
    const appById = new Map(h.apps.map((a) => [a.id, a]));
    const seasonOf = (appId) => { const a = appById.get(appId); return a && a.finance_season ? a.finance_season : (state.config.finance_season || ""); };
    const loansBox = $("home-loans");
    loansBox.innerHTML = "";
    if (!h.loans.length) loansBox.appendChild(el("p", "hint", t("no_loans")));
    for (const loan of h.loans) {
      const cur = loan.currency;
      const card = el("article", "home-card loan-card " + loan.state);
      card.dataset.loan = String(loan.id);
      card.dataset.state = loan.state;
      card.appendChild(el("h3", "loan-title", t("loan_title", seasonOf(loan.application_id))));
      card.appendChild(el("p", "status loan-state", t("loan_state") + loanStateText(loan.state)));
      const dl = el("dl", "offer-terms");
      dl.append(el("dt", "", t("loan_limit")), el("dd", "", money(loan.credit_limit, cur)));
      dl.append(el("dt", "", t("loan_repaid")), el("dd", "loan-repaid", money(loan.repaid, cur)));
      dl.append(el("dt", "", t("loan_balance")), el("dd", "loan-balance", money(loan.balance, cur)));
      card.appendChild(dl);
      const next = el("p", "next-due");
      if (loan.next_due_date) next.append(el("span", "label", t("loan_next_due")), el("strong", "", fmtDate(loan.next_due_date) + " · " + money(loan.next_due_amount, cur)));
      else next.textContent = t("loan_no_due");
      card.appendChild(next);
      if (loan.tranches && loan.tranches.length) {
        card.appendChild(el("h4", "", t("loan_tranches")));
        const ul = el("ul", "dated in");
        for (const tr of loan.tranches) {
          const li = el("li");
          li.append(el("span", "date", fmtDate(tr.date)), el("span", "amt", money(tr.amount, cur)), el("small", "", t(tr.disbursed ? "loan_paid_out" : "loan_planned")));
          ul.appendChild(li);
        }
        card.appendChild(ul);
      }
      if (loan.schedule && loan.schedule.length) {
        card.appendChild(el("h4", "", t("loan_schedule")));
        const ul = el("ul", "dated out schedule");
        for (const r of loan.schedule) {
          const li = el("li");
          li.append(el("span", "date", fmtDate(r.date)), el("span", "amt", money(r.total, cur)));
          ul.appendChild(li);
        }
        card.appendChild(ul);
      }
      const loanApp = appById.get(loan.application_id);
      if (loanApp && loanApp.consent && !loanApp.consent.withdrawn_at) card.appendChild(withdrawButton("withdraw-consent", loanApp.consent.id, "loan"));
      loansBox.appendChild(card);
    }
    const booked = new Set(h.loans.map((l) => l.application_id));
    const appsBox = $("home-apps");
    appsBox.innerHTML = "";
    for (const a of h.apps.filter((x) => !booked.has(x.id) && x.status !== "accepted")) {
      const card = el("article", "home-card app-card");
      card.dataset.application = String(a.id);
      card.appendChild(el("h3", "", t("app_title_season", a.finance_season || state.config.finance_season)));
      const st = "status_" + a.status;
      card.appendChild(el("p", "status", t("status") + (t(st) === st ? a.status : t(st))));
      if (a.status === "offered") card.appendChild(el("p", "limit", money(a.credit_limit, a.currency)));
      if (a.status !== "withdrawn") {
        const b = el("button", "secondary big view-offer", t("view_offer"));
        b.type = "button";
        b.onclick = () => { state.application = a; renderOffer(a); show("offer"); };
        card.appendChild(b);
      }
      if (a.status !== "withdrawn" && a.consent && !a.consent.withdrawn_at) {
        card.appendChild(withdrawButton("withdraw-consent", a.consent.id, a.status === "declined" ? "decided" : "open"));
      }
      appsBox.appendChild(card);
    }
    renderConsents(h.consents, appById);
    const wBox = $("home-warnings");
    wBox.innerHTML = "";
    if (!h.warnings.length) wBox.appendChild(el("p", "hint", t("no_warnings")));
    else {
      const ul = el("ul", "warnings");
      for (const w of h.warnings) ul.appendChild(el("li", "warning " + w.severity, state.lang === "zh" ? w.message_zh : w.message_en));
      wBox.appendChild(ul);
    }
    // my plots across seasons: a plot's season is the finance season of the applications it is in
    const seasonsOfPlot = new Map();
    for (const a of h.apps) for (const p of a.plots || []) {
      if (!seasonsOfPlot.has(p.ref)) seasonsOfPlot.set(p.ref, new Set());
      if (a.finance_season) seasonsOfPlot.get(p.ref).add(a.finance_season);
    }
    const groups = new Map();
    for (const p of h.plots) {
      const seasons = [...(seasonsOfPlot.get(p.ref) || [])];
      for (const key of seasons.length ? seasons : [""]) {
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(p);
      }
    }
    const pBox = $("home-plots");
    pBox.innerHTML = "";
    if (!h.plots.length) pBox.appendChild(el("p", "hint", t("no_plots")));
    const keys = [...groups.keys()].sort((x, y) => (x === "" ? -1 : y === "" ? 1 : y - x));
    for (const key of keys) {
      const section = el("div", "plot-season");
      section.dataset.season = String(key);
      section.appendChild(el("h4", "", key === "" ? t("plots_unapplied") : t("plots_season", key)));
      const ul = el("ul", "plots");
      for (const p of groups.get(key)) ul.appendChild(el("li", "", t("plot_line", p.area_mu.toFixed(2), p.area_ha.toFixed(3), p.declared_crop ? cropName(p.declared_crop) : "")));
      section.appendChild(ul);
      pBox.appendChild(section);
    }
  }
  async function onExport() {
    busy(t("busy_login"));
    try {
      const data = await api("GET", "/me/export");
      busy(null);
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "agrisense-my-data.json";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      showMessage(t("exported"), "info");
    } catch (e) { fail(e); }
  }
  /* Withdraw a consent, before or after a decision (PIPL): an open application is cancelled and its plots freed, a
     decided one stays as the record of the decision, an accepted loan keeps the records its contract needs. */
  function withdrawButton(cls, consentId, kind) {
    const w = el("button", "danger " + cls, t("withdraw_consent"));
    w.type = "button";
    w.dataset.consent = String(consentId);
    w.onclick = () => onWithdrawConsent(consentId, kind);
    return w;
  }
  function consentKind(c) {
    if (c.active_loans && c.active_loans.length) return "loan";
    return (c.applications || []).some((a) => a.status === "offered" || a.status === "in_review") ? "open" : "decided";
  }
  function renderConsents(consents, appById) {
    const box = $("home-consents");
    box.innerHTML = "";
    if (!consents.length) { box.appendChild(el("p", "hint", t("no_consents"))); return; }
    const ul = el("ul", "consents");
    for (const c of consents) {
      const li = el("li", "consent " + (c.withdrawn_at ? "withdrawn" : "active"));
      li.dataset.consent = String(c.id);
      const seasons = [...new Set((c.applications || []).map((a) => (appById.get(a.id) || {}).finance_season).filter(Boolean))];
      li.appendChild(el("span", "", t("consent_line", fmtDate(String(c.granted_at || "").slice(0, 10)), seasons.join(", "))));
      li.appendChild(el("small", "consent-state", c.withdrawn_at ? t("consent_withdrawn_on", fmtDate(String(c.withdrawn_at).slice(0, 10))) : t("consent_holds")));
      if (c.withdrawable) li.appendChild(withdrawButton("consent-withdraw", c.id, consentKind(c)));
      ul.appendChild(li);
    }
    box.appendChild(ul);
  }
  async function onWithdrawConsent(consentId, kind) {
    if (!(await confirmDialog(t("confirm_withdraw_" + kind), t("withdraw_consent")))) return;
    try {
      const r = await api("POST", "/me/consents/" + consentId + "/withdraw");
      await loadHome();
      const kept = r && r.active_loans && r.active_loans.length;
      const cancelled = r && r.cancelled_applications && r.cancelled_applications.length;
      showMessage((cancelled ? t("consent_withdrawn") : t("consent_withdrawn_only")) + (kept ? " " + t("consent_withdrawn_loan_kept") : ""), "info");
    } catch (e) { fail(e); } // 409 when it was already withdrawn: the service's message says so
  }
  async function onDeleteMe() {
    if (!(await confirmDialog(t("confirm_delete_me"), t("delete_me")))) return;
    try {
      await api("DELETE", "/me");
      localStorage.removeItem(DRAFT_KEY);
      logout();
      showMessage(t("deleted_me"), "info");
    } catch (e) { fail(e); } // 409 while a loan is active: the service's message says why
  }
  async function goHome() {
    showMessage("");
    try { await loadHome(); show("home"); } catch (e) { fail(e); }
  }

  /* A returning farmer with loans or applications sees "my loans" first; otherwise the draw screen. */
  async function resume() {
    try {
      const home = await loadHome();
      if (home.loans.length || home.apps.length) { show("home"); return; }
    } catch (e) {
      if (e.status === 401) return;
    }
    show("draw");
  }

  /* ---------- start ---------- */
  async function start() {
    $("lang").onclick = () => { state.lang = state.lang === "zh" ? "en" : "zh"; localStorage.setItem("agrisense.lang", state.lang); if (state.map) state.map.pm.setLang(state.lang === "zh" ? "zh" : "en"); applyTexts(); };
    $("logout").onclick = logout;
    $("login-form").onsubmit = onLogin;
    $("toggle-register").onclick = () => { state.registering = !state.registering; $("name-row").hidden = !state.registering; $("password").autocomplete = state.registering ? "new-password" : "current-password"; applyTexts(); };
    $("draw").onclick = () => { setDetecting(false); state.map.pm.enableDraw("Polygon"); };
    $("detect").onclick = () => setDetecting(!state.detecting);
    $("edit").onclick = onEdit;
    $("draw-finish").onclick = onDrawFinish;
    $("draw-undo").onclick = onDrawUndo;
    $("draw-cancel").onclick = () => state.map.pm.disableDraw();
    $("delete").onclick = onDelete;
    $("layer").onclick = onToggleLayer;
    $("to-consent").onclick = toConsent;
    $("back-draw").onclick = () => show("draw");
    $("consent-check").onchange = () => { $("submit").disabled = !$("consent-check").checked; };
    $("submit").onclick = onSubmit;
    $("accept").onclick = onAccept;
    $("new-plot").onclick = onNewPlot;
    $("home").onclick = goHome;
    $("home-new").onclick = newPlot;
    $("export").onclick = onExport;
    $("delete-me").onclick = onDeleteMe;
    $("locate").onclick = onLocate;
    window.addEventListener("online", onOnline);
    window.addEventListener("offline", () => setOffline(true));
    setOffline(!navigator.onLine);
    try {
      const res = await fetch("/app-config.json");
      if (!res.ok) throw new Error(String(res.status));
      state.config = await res.json();
    } catch (e) {
      showMessage(t("offline"));
      return;
    }
    applyTexts();
    if (state.token) await resume(); else show("login");
  }
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  document.addEventListener("DOMContentLoaded", start);
  window.agrisenseApp = { state, ringAreaM2, readDraft };
})();
