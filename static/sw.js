/* Kirana service worker. Served at /sw.js (scope "/"); the server replaces
   the version token below with the build version, so every deploy gets a
   fresh cache and old ones are dropped on activate. */
"use strict";

const CACHE = "kirana-__KIRANA_VERSION__";
const OFFLINE_URL = "/offline";
const SHELL = [
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/vendor/htmx/htmx.min.js",
  "/static/js/camera-scanner.js",
  "/static/js/menu.js",
  "/static/js/offline.js",
  "/static/vendor/barcode-detector/3.2.2/ponyfill.js",
  "/static/vendor/barcode-detector/zxing-wasm-3.1.3/zxing_reader.wasm",
  "/static/icons/icon-192.png",
  "/static/manifest.webmanifest",
  OFFLINE_URL,
];

self.addEventListener("install", (event) => {
  // cache: "reload" bypasses the HTTP cache so a new version never
  // precaches stale files. No skipWaiting here: the page asks for it.
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })))
    )
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

// The page posts this when the user accepts the "new version" banner.
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return; // writes always go to the network
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  // API and sync traffic must never be served from or stored in a cache.
  if (path.startsWith("/api/") || path === "/sync" || path.startsWith("/sync/")) return;

  if (path.startsWith("/static/")) {
    event.respondWith(cacheFirst(req));
  } else if (req.mode === "navigate") {
    event.respondWith(networkFirstPage(req));
  }
  // Anything else (e.g. htmx partials) goes straight to the network.
});

async function cacheFirst(req) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(req);
  if (hit) return hit;
  const res = await fetch(req);
  // Only store complete, same-origin successes (not 206/opaque/errors).
  if (res.status === 200 && res.type === "basic") cache.put(req, res.clone());
  return res;
}

async function networkFirstPage(req) {
  try {
    return await fetch(req); // pages are per-user and live: never cached
  } catch (err) {
    const cache = await caches.open(CACHE);
    const offline = await cache.match(OFFLINE_URL);
    return offline || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  }
}
