// End-to-end test of the browser app's updates and offline cache: a release reaches a browser
// that visited before, and then works offline. It serves build V1, visits it (the service
// worker keeps it), serves build V2 at the same address, reloads, and checks that the page is
// V2 (its footer names V2's build and release), that the service worker keeps V2 only (V1's
// cache is deleted), and that V2 loads and explains with the network off. Every request must be
// a GET to the app's origin.
//
// Environment: V1 and V2 (two builds of scripts/web.sh; V2 built with DAECF_RELEASE=e2e-v2),
// OUT (screenshots).
import fs from "node:fs";
import path from "node:path";
import { check, checkOwnOrigin, foreignRequests, setSteps, withBrowser } from "./common.mjs";

const V1 = path.resolve(process.env.V1 ?? "web-app/dist");
const V2 = path.resolve(process.env.V2 ?? "out/e2e/dist-v2");
const OUT = path.resolve(process.env.OUT ?? "out/e2e");

// The build id scripts/web-stamp.sh wrote into a build's index.html.
function buildOf(dist) {
  const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");
  return html.match(/<meta name="daecf-build" content="([0-9a-f]+)"/)?.[1];
}

async function loaded(page) {
  await page.waitForSelector("#status.ready", { timeout: 120_000 });
  return page.textContent("#version");
}

// The service worker's caches once the one for `build` is the only one and its worker is active
// (or what is there after a minute), asked once a second.
async function cachesOnly(page, build) {
  const state = () => page.evaluate(async () => ({
    keys: await caches.keys(),
    active: (await navigator.serviceWorker.getRegistration())?.active?.state,
  }));
  for (let second = 0; second < 60; second++) {
    const { keys, active } = await state();
    if (keys.join() === `daecf-${build}` && active === "activated") return keys;
    await page.waitForTimeout(1000);
  }
  return (await state()).keys;
}

let root = V1;

await withBrowser("update", () => root, async (browser, origin) => {
  const [v1, v2] = [buildOf(V1), buildOf(V2)];
  if (!v1 || !v2 || v1 === v2) throw new Error(`V1 and V2 must be two stamped builds (${v1}, ${v2})`);
  const context = await browser.newContext();
  const foreign = foreignRequests(context, origin);
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.log(`  [console] ${m.text()}`); });
  await page.goto(`${origin}/`);
  const first = await loaded(page);
  check(first.includes(`build ${v1}`) && !first.includes("e2e-v2"), `update: the first visit shows V1 ("${first}")`);
  check((await cachesOnly(page, v1)).join() === `daecf-${v1}`, `update: the service worker keeps V1 in daecf-${v1}`);

  root = V2;
  await page.reload();
  const second = await loaded(page);
  check(second.includes(`build ${v2}`) && second.includes("release e2e-v2"), `update: after a reload the page is V2 ("${second}")`);
  const kept = await cachesOnly(page, v2);
  check(kept.join() === `daecf-${v2}`, `update: the service worker keeps V2 only (caches: ${kept.join(", ")})`);

  await context.setOffline(true);
  await page.reload();
  const offline = await loaded(page).catch(() => "not loaded");
  check(offline.includes(`build ${v2}`), `update: with the network off the page is V2 and loads its model ("${offline}")`);
  await page.click("#sample-1");
  await page.waitForSelector("#preview", { timeout: 60_000 });
  await setSteps(page, 2, 1);
  await page.click("#explain");
  const explained = await page.waitForSelector("#report-json", { state: "attached", timeout: 300_000 }).then(() => true, () => false);
  check(explained, "update: offline, V2 explains a sample");
  await page.screenshot({ path: path.join(OUT, "update-offline.png") });
  checkOwnOrigin("update", foreign, origin);
  await context.close();
});
