/* agrisense farmer app: log in, draw one plot, agree, see the offer, accept. Three steps, no build step. */
"use strict";
(function () {
  const API = "/api/v1";
  const MU_PER_HA = 15;
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
    const d = body.detail !== undefined ? body.detail : body.message !== undefined ? body.message : body.error;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((e) => (e.loc ? e.loc.filter((p) => p !== "body").join(".") + ": " : "") + (e.msg || JSON.stringify(e))).join("; ");
    if (d && typeof d === "object") return d.message || d.detail || JSON.stringify(d);
    return JSON.stringify(body);
  }
  async function api(method, path, body, form) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let payload;
    if (form) { headers["Content-Type"] = "application/x-www-form-urlencoded"; payload = new URLSearchParams(form).toString(); }
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: payload, cache: "no-store" });
    } catch (e) {
      throw new ApiError(0, t("offline"));
    }
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
    ["login", "draw", "consent", "offer"].forEach((s) => { $("screen-" + s).hidden = s !== screen; });
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
    map.pm.setGlobalOptions({ allowSelfIntersection: false, snappable: false, templineStyle: { color: "#ffeb3b" }, hintlineStyle: { color: "#ffeb3b", dashArray: "5 5" }, pathOptions: { color: "#ffeb3b", weight: 3, fillOpacity: 0.15 } });
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawRectangle: false,
      drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, removalMode: false,
      drawPolygon: true, editMode: true,
    });
    map.on("pm:drawstart", () => { $("draw-hint").textContent = t("drawing_hint"); $("draw-hint").hidden = false; setDrawing(true); });
    map.on("pm:drawend", () => { if (!state.layer) $("draw-hint").textContent = t("draw_hint"); setDrawing(false); });
    map.on("pm:create", (e) => { adoptLayer(e.layer); showMessage(""); });
    map.on("click", (e) => { if (state.detecting) onDetectAt(e.latlng); });
    map.on("pm:globaleditmodetoggled", () => { $("edit").textContent = t(map.pm.globalEditModeEnabled() ? "edit_done" : "edit"); updateArea(); });
  }

  /* The plot outline, drawn by hand or suggested by the model: editable the same way. */
  function adoptLayer(layer) {
    const map = state.map;
    if (state.layer) map.removeLayer(state.layer);
    state.layer = layer;
    state.plotId = null;
    state.layer.on("pm:edit pm:markerdragend pm:vertexremoved", () => { state.plotDirty = true; updateArea(); });
    state.layer.on("pm:intersect", () => showMessage(t("self_intersect")));
    map.pm.Toolbar.setButtonDisabled("drawPolygon", true);
    updateArea();
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
    const rings = state.layer.getLatLngs();
    const outer = Array.isArray(rings[0]) ? rings[0] : rings;
    let m2 = ringAreaM2(outer);
    for (const hole of rings.slice(1)) if (Array.isArray(hole)) m2 -= ringAreaM2(hole);
    const ha = m2 / 10000;
    $("area").textContent = t("area", (ha * MU_PER_HA).toFixed(2), ha.toFixed(3));
    $("area").dataset.ha = ha.toFixed(6);
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
      b.onclick = () => { state.crop = c.code; state.plotDirty = true; renderCrops(); showMessage(""); };
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
    $("consent-when").textContent = t("consent_when", fmtDate(c.imagery_start), fmtDate(c.imagery_end), c.season);
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
      const body = { geometry: plotGeometry(), declared_crop: state.crop };
      if (!state.plotId) state.plotId = (await api("POST", "/plots", body)).id;
      else if (state.plotDirty) await api("PATCH", "/plots/" + state.plotId, body);
      state.plotDirty = false;
      const application = await api("POST", "/applications", {
        plot_ids: [state.plotId],
        consent: true,
      });
      state.application = application;
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
      card.appendChild(el("h3", "", t("reasons")));
      const ul = el("ul", "reasons");
      for (const r of o.reasons) ul.appendChild(el("li", r.kind, state.lang === "zh" ? r.message_zh : r.message_en));
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
  async function onNewPlot() {
    if (!(await confirmDialog(t("confirm_new"), t("new_plot")))) return;
    if (state.layer) state.map.removeLayer(state.layer);
    state.layer = null; state.plotId = null; state.crop = null; state.application = null;
    state.map && state.map.pm.Toolbar.setButtonDisabled("drawPolygon", false);
    renderCrops(); updateArea();
    show("draw");
  }

  /* A returning farmer sees their open application (waiting for acceptance or under review) first. */
  async function resume() {
    try {
      const apps = await api("GET", "/applications");
      const open = (apps || []).find((a) => a.status === "offered" || a.status === "in_review");
      if (open) { state.application = open; renderOffer(open); show("offer"); return; }
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
  window.agrisenseApp = { state, ringAreaM2 };
})();
