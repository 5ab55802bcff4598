/* agrisense farmer app service worker: the app shell comes from the cache (a second visit needs no network),
   map tiles are cached as they are seen, the API is never cached (personal data, live offers).
   The server fills in the version (a hash of the shell files) and the list of shell URLs. */
"use strict";
const VERSION = "__SHELL_VERSION__";
const SHELL = "agrisense-shell-" + VERSION;
const TILES = "agrisense-tiles-v1";
const MAX_TILES = 400;
const SHELL_URLS = [__SHELL_FILES__];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(SHELL_URLS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("agrisense-shell-") && k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

async function trimTiles(cache) {
  const keys = await cache.keys();
  for (let i = 0; i < keys.length - MAX_TILES; i++) await cache.delete(keys[i]);
}

async function shellFirst(request) {
  const cached = await caches.match(request, { cacheName: SHELL, ignoreSearch: true });
  return cached || fetch(request);
}

async function networkFirst(request) {
  const cache = await caches.open(SHELL);
  try {
    const res = await fetch(request);
    if (res.ok) cache.put(request, res.clone());
    return res;
  } catch (e) {
    const cached = await cache.match(request);
    if (cached) return cached;
    throw e;
  }
}

async function tileStaleWhileRevalidate(event) {
  const cache = await caches.open(TILES);
  const cached = await cache.match(event.request);
  const refresh = fetch(event.request).then((res) => {
    if (res.status === 200) cache.put(event.request, res.clone()).then(() => trimTiles(cache));
    return res;
  });
  if (cached) { event.waitUntil(refresh.catch(() => undefined)); return cached; }
  return refresh;
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (url.pathname.startsWith("/tiles/")) { event.respondWith(tileStaleWhileRevalidate(event)); return; }
  if (url.pathname === "/app-config.json") { event.respondWith(networkFirst(req)); return; }
  if (req.mode === "navigate") { event.respondWith(caches.match("/", { cacheName: SHELL }).then((r) => r || fetch(req))); return; }
  if (SHELL_URLS.includes(url.pathname)) event.respondWith(shellFirst(req));
});
