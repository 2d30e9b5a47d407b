// daecf offline cache. On install it keeps every file of this build in a cache named after the
// build's hash; on activate it deletes the caches of other builds. The files whose names carry
// a content hash (the wasm module, its JS, boot.js, style.css) never change and are answered
// from the cache; every other file (index.html, which names the hashed files, the model and the
// samples) comes from the network first and from the cache when the network is off, so a new
// release reaches the page on its next load. Requests to other origins are never made by the
// app and are not touched here. scripts/web-stamp.sh fills in the build and its files.
const CACHE = "daecf-__BUILD__";
const FILES = ["./", "index.html", "__FILES__"];
// trunk names them NAME-HASH.ext, and the initializer HASH-boot.js.
const HASHED = /(-[0-9a-f]{16}(_bg)?\.(js|wasm|css)|\/[0-9a-f]{16}-[^/]+\.js)$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(FILES.map((file) => new Request(file, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("daecf-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function cacheFirst(request) {
  const hit = await caches.match(request);
  return hit ?? fetch(request);
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (offline) {
    const hit = await caches.match(request, { ignoreSearch: true });
    if (hit) return hit;
    throw offline;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith(HASHED.test(url.pathname) ? cacheFirst(event.request) : networkFirst(event.request));
});
