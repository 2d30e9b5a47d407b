// What the browser tests share: a static file server on 127.0.0.1 (a secure context, which
// WebGPU and service workers need) at a free port, whose `root()` gives the folder to serve at
// each request (so a test can switch the app's version under a running page); Chromium; the
// privacy check of a browser context's requests; the page's DDIM steps; checks.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const MIME = {
  ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css",
  ".png": "image/png", ".svg": "image/svg+xml", ".webmanifest": "application/manifest+json",
  ".daecf": "application/octet-stream",
};

// Serves the files under root(); resolves to the listening server.
export function serve(root) {
  const server = http.createServer((req, res) => {
    const dir = root();
    const url = new URL(req.url, "http://127.0.0.1");
    let file = path.join(dir, decodeURIComponent(url.pathname));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!fs.existsSync(file)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// Launches Debian's chromium (or $CHROMIUM) headless, with WebGPU on SwiftShader.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-quic", "--enable-unsafe-webgpu"],
  });
}

// Collects the requests of a browser context (its pages, workers and service workers) that are
// not a GET to `origin` (or to a data: or blob: URL the page made).
export function foreignRequests(context, origin) {
  const foreign = [];
  context.on("request", (r) => {
    const u = r.url();
    const local = u.startsWith(`${origin}/`) || u.startsWith("data:") || u.startsWith("blob:");
    if (!local || r.method() !== "GET") foreign.push(`${r.method()} ${u}`);
  });
  return foreign;
}

// Checks that every request `foreign` watched (foreignRequests) went to `origin`.
export function checkOwnOrigin(label, foreign, origin) {
  check(foreign.length === 0, `${label}: every request is a GET to ${origin} (${foreign.length} are not: ${foreign.slice(0, 3).join(", ")})`);
}

// Sets the page's DDIM steps (encode, render).
export async function setSteps(page, encode, render) {
  for (const [id, value] of [["#t-encode", encode], ["#t-render", render]]) {
    await page.fill(id, String(value));
    await page.dispatchEvent(id, "change");
  }
}

// Serves root(), launches Chromium, runs `body(browser, origin)` and closes both; prints
// "NAME: passed" or "NAME: FAILED" (an exception fails the run too).
export async function withBrowser(name, root, body) {
  const server = await serve(root);
  const browser = await launch(chromium);
  try {
    await body(browser, `http://127.0.0.1:${server.address().port}`);
  } catch (e) {
    console.error(`FAIL: ${e.stack ?? e}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
    server.close();
  }
  console.log(process.exitCode ? `${name}: FAILED` : `${name}: passed`);
}

// Prints a check's outcome; a failed one fails the run.
export function check(ok, message) {
  console.log(`${ok ? "ok  " : "FAIL"} ${message}`);
  if (!ok) process.exitCode = 1;
}
