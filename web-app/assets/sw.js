// daecf offline cache: on install, keep every file of the app; afterwards answer the app's own
// requests from the cache first, so the page works with the network off. Requests to other
// origins are never made by the app and are not touched here.
const CACHE = "daecf-v1";
const FILES = [
  "./", "index.html", "boot.js", "worker.js", "daecf-web.js", "daecf-web_bg.wasm", "demo.daecf", "style.css",
  "manifest.webmanifest", "icon.svg",
  "samples/vertebra_g0.png", "samples/vertebra_g1.png", "samples/vertebra_g2.png", "samples/vertebra_g3.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith(
    caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || fetch(event.request).then((response) => {
      const copy = response.clone();
      if (response.ok) caches.open(CACHE).then((cache) => cache.put(event.request, copy));
      return response;
    })),
  );
});
