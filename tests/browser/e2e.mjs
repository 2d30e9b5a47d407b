// End-to-end test of the daecf browser app, driving Debian's /usr/bin/chromium with
// playwright-core (no downloaded browser). It serves web-app/dist on 127.0.0.1, loads the demo
// bundle, explains a sample image on the CPU (wasm) path and on WebGPU (SwiftShader in headless
// Chromium), and checks against the native `daecf explain` output for the same bundle and image:
//   - distance, class and grade, and the binary CE's planned distance, to 1e-3;
//   - the binary CE image, within the tolerances below (8-bit pixels);
//   - that every request of the page, its workers and its service worker is a GET to the app's
//     own origin, and that the Content-Security-Policy blocks a cross-origin fetch;
//   - that file names stay out of the report and download names unless the user asks;
//   - bad input: a corrupt bundle, a bundle of another image size (the image is prepared again
//     for it), a file that is not an image, an image over the pixel limit;
//   - accessibility: axe-core finds no serious or critical violation;
//   - that the page's thread never blocks for 200 ms or more while it explains (Long Tasks);
//   - that the CPU path renders on one worker per core (up to 8), WebGPU on one;
//   - that after the first visit the app loads with the network off (service worker).
// It saves screenshots and a benchmark (browser vs native time) under OUT.
//
// Environment: DIST (built app), NATIVE_DIR (daecf explain's folder for the sample), NATIVE_MS
// (its wall time), SAMPLE (sample button index), STEPS (encode,render), BACKENDS (cpu,webgpu),
// OTHER_BUNDLE (a bundle of another image size), OUT (results folder).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { check, checkOwnOrigin, foreignRequests, launch, serve, setSteps } from "./common.mjs";

const AXE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const DIST = path.resolve(process.env.DIST ?? "web-app/dist");
const NATIVE_DIR = path.resolve(process.env.NATIVE_DIR ?? "out/e2e/native/vertebra_g2");
const NATIVE_MS = Number(process.env.NATIVE_MS ?? "NaN");
const SAMPLE = process.env.SAMPLE ?? "2";
const SAMPLE_FILE = path.join(DIST, "samples", `vertebra_g${SAMPLE}.png`);
const OUT = path.resolve(process.env.OUT ?? "out/e2e");
const RUN_TIMEOUT_MS = Number(process.env.RUN_TIMEOUT_MS ?? 15 * 60 * 1000);
// The binary CE image may differ from the native one by float rounding through the DDIM
// steps: CPU (wasm flex) should match almost exactly; SwiftShader's WebGPU reorders sums.
// Measured with 50/20 steps: CPU identical (max 0), WebGPU mean 0.005, max 1.
const TOLERANCE = {
  cpu: { mean: 0.01, max: 1 },
  webgpu: { mean: 0.1, max: 4 },
};
// DDIM steps (encode, render): the native run must use the same (scripts/e2e.sh).
const [T_ENCODE, T_RENDER] = (process.env.STEPS ?? "10,5").split(",");

// A grey PNG of width x height black pixels: small on disk, large once decoded.
function blankPng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth; colour type 0 (grey), compression, filter, interlace 0
  const rows = zlib.deflateSync(Buffer.alloc((width + 1) * height), { level: 9 });
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", rows), chunk("IEND", Buffer.alloc(0))]);
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
}

// Pixels of two PNG data URLs compared in the page (canvas decoding), as 0-255 values.
async function compareImages(page, a, b) {
  return page.evaluate(async ([a, b]) => {
    const pixels = async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      return { w: c.width, h: c.height, data: ctx.getImageData(0, 0, c.width, c.height).data };
    };
    const [p, q] = [await pixels(a), await pixels(b)];
    if (p.w !== q.w || p.h !== q.h) return { sameSize: false };
    let sum = 0, max = 0, n = 0;
    for (let i = 0; i < p.data.length; i += 4) {
      for (let k = 0; k < 3; k++) {
        const d = Math.abs(p.data[i + k] - q.data[i + k]);
        sum += d; max = Math.max(max, d); n++;
      }
    }
    return { sameSize: true, mean: sum / n, max };
  }, [a, b]);
}

async function runPath(browser, origin, backend, native, nativeCe) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 1800 } });
  const page = await context.newPage();
  // Every request of the browser context: the page's, its workers' and its service worker's.
  const foreign = foreignRequests(context, origin);
  page.on("console", (m) => { if (m.type() === "error") console.log(`  [${backend} console] ${m.text()}`); });
  await page.goto(`${origin}/index.html`);
  await page.waitForSelector("#status.ready", { timeout: 120_000 });
  if (backend === "cpu") {
    await page.selectOption("#backend-select", "cpu");
    await page.waitForFunction(() => document.querySelector("#status.ready")?.textContent.includes("CPU"), null, { timeout: 120_000 });
  }
  const running = await page.textContent("#backend-name");
  check(running === (backend === "cpu" ? "CPU (wasm)" : "WebGPU"), `${backend}: the page says it runs on ${running}`);
  // The CPU path takes the sample button, WebGPU the file picker with the same file.
  if (backend === "cpu") await page.click(`#sample-${SAMPLE}`);
  else await page.setInputFiles("#image-file", SAMPLE_FILE);
  await page.waitForSelector("#preview");
  await setSteps(page, T_ENCODE, T_RENDER);
  // The longest task of the page's thread while it explains (Long Tasks API): the engine runs
  // in a worker, so the page keeps answering.
  await page.evaluate(() => {
    window.longestTask = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.longestTask = Math.max(window.longestTask, entry.duration);
    }).observe({ type: "longtask" });
  });
  const started = Date.now();
  await page.click("#explain");
  await page.waitForSelector("#progress", { timeout: 60_000 });
  await page.waitForSelector("#report-json", { state: "attached", timeout: RUN_TIMEOUT_MS });
  const wallMs = Date.now() - started;
  const longestTask = await page.evaluate(() => window.longestTask);
  check(longestTask < 200, `${backend}: the page's longest task while explaining is ${longestTask.toFixed(0)} ms (under 200 ms)`);
  const report = JSON.parse(await page.textContent("#report-json"));
  const timing = await page.textContent("#timing");
  // The CPU path renders on every core (one helper worker per core beyond the first, at most 8
  // workers, each rendering an equal chunk of the images); WebGPU in the engine worker alone.
  const workers = Number(timing.match(/on (\d+) worker/)?.[1]);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const images = 1 + report.counterfactuals.length + report.progression.length;
  const wantWorkers = backend === "cpu" ? Math.ceil(images / Math.ceil(images / Math.min(Math.max(cores, 1), 8))) : 1;
  check(workers === wantWorkers, `${backend}: the renders ran on ${workers} worker(s) (${cores} cores: ${wantWorkers} wanted)`);
  await page.screenshot({ path: path.join(OUT, `${backend}.png`), fullPage: true });

  const close = (a, b, tol) => Math.abs(a - b) <= tol;
  check(close(report.distance, native.distance, 1e-3), `${backend}: distance ${report.distance} vs native ${native.distance}`);
  check(report.positive === native.positive, `${backend}: class ${report.positive} vs native ${native.positive}`);
  check(report.grade === native.grade, `${backend}: grade ${report.grade} vs native ${native.grade}`);
  check(close(report.grade_continuous, native.grade_continuous, 1e-3), `${backend}: continuous grade ${report.grade_continuous} vs native ${native.grade_continuous}`);
  const [wb, nb] = [report.counterfactuals[0], native.counterfactuals[0]];
  check(wb.name === "binary" && close(wb.distance, nb.distance, 1e-3), `${backend}: binary CE planned at ${wb.distance} vs native ${nb.distance}`);
  check(report.counterfactuals.length === native.counterfactuals.length && report.progression.length === native.progression.length,
    `${backend}: ${report.counterfactuals.length} CEs and ${report.progression.length} frames, as native`);
  const ce = await page.getAttribute("#binary-ce img", "src");
  const diff = await compareImages(page, ce, nativeCe);
  const tol = TOLERANCE[backend];
  check(diff.sameSize && diff.mean <= tol.mean && diff.max <= tol.max,
    `${backend}: binary CE vs native: mean |diff| ${diff.mean?.toFixed(3)}, max ${diff.max} (of 255; allowed ${tol.mean}, ${tol.max})`);
  checkOwnOrigin(backend, foreign, origin);

  let offline = null;
  if (backend === "cpu") {
    // The slider moves through the progression, the toggle shows difference maps, the
    // downloads are there.
    const frameAt = async (i) => {
      await page.$eval("#progression-slider", (el, v) => {
        el.value = v;
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }, String(i));
      return page.getAttribute("#progression-frame", "src");
    };
    const last = String(report.progression.length - 1);
    check((await frameAt(0)) !== (await frameAt(last)), "cpu: the slider changes the progression frame");
    const galleryImage = () => page.getAttribute(".gallery img", "src");
    const before = await galleryImage();
    await page.click("#show-difference");
    check((await galleryImage()) !== before, "cpu: the toggle shows difference maps");
    const gifHref = await page.getAttribute("#download-gif", "href");
    const jsonHref = await page.getAttribute("#download-json", "href");
    check(gifHref.startsWith("data:image/gif;base64,R0lG") && jsonHref.startsWith("data:application/json;base64,"),
      "cpu: the GIF and JSON downloads are there");
    const names = [await page.getAttribute("#download-gif", "download"), await page.getAttribute("#download-json", "download")];
    check(report.image === "image" && names.every((n) => n.startsWith("image_")),
      `cpu: the file name stays out of the report and downloads (${report.image}; ${names.join(", ")})`);
    // Accessibility of the page with its results.
    const axe = await page.evaluate(`${AXE}\n;axe.run(document, { resultTypes: ["violations"] })`);
    const serious = axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    check(serious.length === 0, `cpu: axe-core finds no serious or critical violation (${serious.map((v) => `${v.id}: ${v.nodes.length}`).join(", ") || "none"}; ${axe.violations.length} minor)`);
    // The Content-Security-Policy blocks a request to another origin.
    const blocked = await page.evaluate(() => new Promise((resolve) => {
      document.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective), { once: true });
      fetch("https://example.org/upload", { method: "POST", body: "x" }).catch(() => {});
      setTimeout(() => resolve("not blocked"), 5000);
    }));
    check(blocked === "connect-src", `cpu: the CSP blocks a cross-origin fetch (${blocked})`);
    // Bad input: a file that is not an image, an image over the pixel limit.
    await page.setInputFiles("#image-file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not an image") });
    const notImage = await page.waitForSelector("#status.failed", { timeout: 30_000 }).then((e) => e.textContent(), () => "");
    check(notImage.includes("cannot decode the image") && notImage.includes("give a PNG or JPEG file"), `cpu: a file that is not an image is refused: "${notImage}"`);
    await page.click(`#sample-${SAMPLE}`);
    await page.waitForSelector("#preview");
    await page.setInputFiles("#image-file", { name: "huge.png", mimeType: "image/png", buffer: blankPng(12000, 9000) });
    const huge = await page.waitForFunction(() => document.querySelector("#status.failed")?.textContent.includes("megapixels"), null, { timeout: 60_000 })
      .then(() => page.textContent("#status"), () => page.textContent("#status"));
    check(huge.includes("12000 x 9000") && huge.includes("100 megapixels"), `cpu: an image over the pixel limit is refused before decoding: "${huge}"`);
    // A bundle of another image size: the image on the page is prepared again for it, and
    // Explain runs.
    if (process.env.OTHER_BUNDLE) {
      await page.click(`#sample-${SAMPLE}`);
      await page.waitForSelector("#preview");
      await page.setInputFiles("#bundle-file", path.resolve(process.env.OTHER_BUNDLE));
      const name = path.basename(process.env.OTHER_BUNDLE);
      await page.waitForFunction((n) => document.querySelector("#status.ready")?.textContent.includes(n), name, { timeout: 120_000 });
      await page.waitForFunction(() => document.querySelector("#preview")?.naturalWidth > 0, null, { timeout: 60_000 });
      const size = await page.$eval("#preview", (img) => img.naturalWidth);
      await page.click("#explain");
      const other = await page.waitForSelector("#report-json", { state: "attached", timeout: RUN_TIMEOUT_MS })
        .then(async () => JSON.parse(await page.textContent("#report-json")), () => null);
      check(size === 32 && other !== null && Number.isFinite(other.distance),
        `cpu: after loading ${name}, the image is prepared at ${size} px and explained (distance ${other?.distance})`);
    }
    // A long run can be cancelled.
    await page.selectOption("#preset", "quality");
    await page.click("#explain");
    await page.waitForFunction(() => Number(document.querySelector("#progress")?.value ?? 0) >= 2, null, { timeout: 60_000 });
    await page.click("#cancel");
    const cancelled = await page.waitForSelector("#status.failed", { timeout: 60_000 }).then((e) => e.textContent(), () => "");
    check(cancelled.includes("cancelled"), `cpu: a quality run (250/100) is cancelled: "${cancelled}"`);
    // A file that is not a bundle is refused with a message that says so.
    await page.setInputFiles("#bundle-file", { name: "bad.daecf", mimeType: "application/octet-stream", buffer: Buffer.from("not a model") });
    const refused = await page.waitForSelector("#status.failed", { timeout: 30_000 }).then((e) => e.textContent(), () => "");
    check(refused.includes("bad.daecf") && refused.includes("not a daecf bundle"), `cpu: a bad bundle is refused: "${refused}"`);
    // The service worker has cached the app on this first visit: reload with the network off.
    await page.waitForFunction(async () => (await navigator.serviceWorker?.getRegistration())?.active != null, null, { timeout: 60_000 });
    await context.setOffline(true);
    await page.reload();
    offline = await page.waitForSelector("#status.ready", { timeout: 120_000 }).then(() => true, () => false);
    check(offline, "cpu: the app loads the demo model with the network off (service worker)");
    await page.screenshot({ path: path.join(OUT, "offline.png") });
  }
  await context.close();
  return { backend, wall_ms: wallMs, longest_task_ms: longestTask, workers, timing, steps: report.steps, image_diff: diff, offline };
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const native = JSON.parse(fs.readFileSync(path.join(NATIVE_DIR, "explanation.json"), "utf8"));
  const nativeCe = `data:image/png;base64,${fs.readFileSync(path.join(NATIVE_DIR, "binary.png")).toString("base64")}`;
  const server = await serve(() => DIST);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  const results = [];
  try {
    for (const backend of (process.env.BACKENDS ?? "cpu,webgpu").split(",")) {
      results.push(await runPath(browser, origin, backend, native, nativeCe));
    }
  } catch (e) {
    fail(e.stack ?? String(e));
  } finally {
    await browser.close();
    server.close();
  }
  const bench = { native_ms: NATIVE_MS, steps: native.steps, paths: results.map((r) => ({ ...r, ratio_to_native: r.wall_ms / NATIVE_MS })) };
  fs.writeFileSync(path.join(OUT, "bench.json"), JSON.stringify(bench, null, 2));
  console.log(`benchmark (${native.steps[0]} encode / ${native.steps[1]} render steps, one image, ${native.counterfactuals.length + native.progression.length} CEs):`);
  console.log(`  native daecf explain: ${(NATIVE_MS / 1e3).toFixed(2)} s (process wall time, model load included)`);
  for (const r of results) console.log(`  ${r.backend}: ${(r.wall_ms / 1e3).toFixed(2)} s (${(r.wall_ms / NATIVE_MS).toFixed(2)}x native); ${r.timing}`);
  console.log(process.exitCode ? "e2e: FAILED" : "e2e: passed");
}

main();
