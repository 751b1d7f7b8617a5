// The warehouse app's service worker: keeps a copy of the app shell (the page, its scripts,
// styles, translations and icons) so the app opens with no network. API calls are never
// cached or answered from here: they go to the network, and the page keeps its own queue.
// The gateway writes this release's version and file list in place of the two markers, so a
// new release is a new worker, which installs the new shell and drops the old one.

const VERSION = "__SHELL_VERSION__";
const SHELL = ["__SHELL_FILES__"];
const CACHE = `kitflow-warehouse-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // Through the HTTP cache: the files the page just loaded are revalidated by ETag (a few
      // hundred bytes each on 2G), not downloaded twice; a changed file comes new.
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("kitflow-warehouse-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate" && url.pathname.startsWith("/warehouse/")) {
    event.respondWith(caches.match("/warehouse/").then((page) => page || fetch(request)));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});
