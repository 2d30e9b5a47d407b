// End-to-end test of a new task on the page: label images, fit a head in the browser, explain
// with it, keep it. It serves the built app, switches to the CPU path, adds the folder TASK_DIR
// (phantoms written by `daecf phantom`, labels in its labels.csv) to the "New task" panel, and
// checks:
//   - that the folder picker lists the folder's images (not labels.csv) in name order;
//   - that a fit before labelling (every label 0) is refused with a message;
//   - that the samples alone (one image labelled 0) are refused, and that a head on two images
//     of each class comes with a warning;
//   - that the head fitted on the labelled images has the cross-validated ROC-AUC and grade MAE
//     of `daecf fit --folds 5` on the same images (CLI_FIT: its output folder), within 0.02, and
//     the same hyperplane (cosine of the normals over 0.999, biases within 0.02);
//   - that Explain runs with the new head;
//   - that the head downloads as a head file that loads back, that a head file of another latent
//     size is refused, and that the bundle with the new head downloads (saved to OUT for
//     `daecf inspect`);
//   - that every request of the browser context is a GET to the app's origin.
//
// Environment: DIST (built app), TASK_DIR, CLI_FIT, OUT.
import fs from "node:fs";
import path from "node:path";
import { check, checkOwnOrigin, foreignRequests, setSteps, withBrowser } from "./common.mjs";

const DIST = path.resolve(process.env.DIST ?? "web-app/dist");
const TASK_DIR = path.resolve(process.env.TASK_DIR ?? "out/e2e/task");
const CLI_FIT = path.resolve(process.env.CLI_FIT ?? "out/e2e/task-fit");
const OUT = path.resolve(process.env.OUT ?? "out/e2e");

// (file, label) rows of labels.csv, in file order (the CLI reads a folder in that order).
function labelled() {
  const [, ...lines] = fs.readFileSync(path.join(TASK_DIR, "labels.csv"), "utf8").trim().split("\n");
  return lines.map((l) => l.split(",")).map(([file, label]) => ({ file, label: Number(label) }))
    .sort((a, b) => (a.file < b.file ? -1 : 1));
}

function cosine(a, b) {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return dot / (norm(a) * norm(b));
}

async function status(page, cls) {
  return page.waitForSelector(`#status.${cls}`, { timeout: 120_000 }).then((e) => e.textContent(), () => "");
}

await withBrowser("new task", () => DIST, async (browser, origin) => {
  const rows = labelled();
  const cli = JSON.parse(fs.readFileSync(path.join(CLI_FIT, "report", "report.json"), "utf8")).tasks[0];
  const cliHead = JSON.parse(fs.readFileSync(path.join(CLI_FIT, "head.json"), "utf8")).heads[0];
  const context = await browser.newContext({ viewport: { width: 1200, height: 1800 }, acceptDownloads: true });
  const foreign = foreignRequests(context, origin);
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") console.log(`  [console] ${m.text()}`); });
  await page.goto(`${origin}/`);
  await status(page, "ready");
  await page.selectOption("#backend-select", "cpu");
  await page.waitForFunction(() => document.querySelector("#status.ready")?.textContent.includes("CPU"), null, { timeout: 120_000 });

  // The folder picker: its PNGs in name order, labels.csv left out.
  await page.setInputFiles("#task-folder", TASK_DIR);
  await page.waitForFunction((n) => document.querySelectorAll(".task-item.encoded").length === n, rows.length, { timeout: 300_000 })
    .catch(() => {});
  const listed = await page.$$eval(".task-item td:first-child", (cells) => cells.map((c) => c.textContent));
  check(listed.join() === rows.map((r) => r.file).join(), `task: the folder's ${listed.length} images are listed in name order and their z_sem computed`);
  await page.click("#fit");
  const refused = await status(page, "failed");
  check(refused.includes("labelled above 0"), `task: a fit with one class is refused: "${refused}"`);

  for (const [i, r] of rows.entries()) {
    await page.fill(`#task-label-${i}`, String(r.label));
    await page.dispatchEvent(`#task-label-${i}`, "change");
  }
  await page.fill("#task-name", "task");
  await page.click("#fit");
  await page.waitForSelector("#fit-result", { timeout: 120_000 });
  const auc = Number(await page.getAttribute("#fit-result", "data-auc"));
  const mae = Number(await page.getAttribute("#fit-result", "data-mae"));
  const cv = cli.cross_validation;
  check(Math.abs(auc - cv.auc.mean) <= 0.02, `task: cross-validated ROC-AUC ${auc.toFixed(4)} vs daecf fit --folds 5 ${cv.auc.mean.toFixed(4)}`);
  check(cv.mae && Math.abs(mae - cv.mae.mean) <= 0.02, `task: cross-validated grade MAE ${mae.toFixed(4)} vs daecf fit ${cv.mae?.mean.toFixed(4)}`);
  const headHref = await page.getAttribute("#download-head", "href");
  const headJson = Buffer.from(headHref.split(",")[1], "base64").toString("utf8");
  const head = JSON.parse(headJson).heads[0];
  const cos = cosine(head.hyperplane.normal, cliHead.hyperplane.normal);
  const bias = Math.abs(head.hyperplane.bias - cliHead.hyperplane.bias);
  check(cos > 0.999 && bias <= 0.02, `task: the head's hyperplane is daecf fit's (cosine ${cos.toFixed(6)}, bias difference ${bias.toFixed(4)})`);

  const selected = await page.$eval("#head-select", (s) => s.options[s.selectedIndex]?.textContent);
  check(selected === "task", `task: the new head is the task chosen for Explain ("${selected}")`);
  await page.click("#sample-3");
  await page.waitForSelector("#preview");
  await setSteps(page, 4, 2);
  await page.click("#explain");
  const report = await page.waitForSelector("#report-json", { state: "attached", timeout: 300_000 })
    .then(async () => JSON.parse(await page.textContent("#report-json")), () => null);
  check(report?.task === "task" && Number.isFinite(report?.distance), `task: Explain runs with the new head (task ${report?.task}, distance ${report?.distance})`);

  await page.setInputFiles("#head-file", { name: "small.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify({ ...JSON.parse(headJson), heads: [{ ...head, hyperplane: { normal: [1, 0, 0], bias: 0 }, directions: null, standardizer: null, ce_direction: "normal" }] })) });
  const small = await status(page, "failed");
  check(small.includes("latents of 3 values"), `task: a head file of another latent size is refused: "${small}"`);
  await page.setInputFiles("#head-file", { name: "task.head.json", mimeType: "application/json", buffer: Buffer.from(headJson) });
  await page.waitForFunction(() => document.querySelector("#status.ready")?.textContent.includes("added task"), null, { timeout: 60_000 });
  const heads = await page.$$eval("#head-select option", (o) => o.map((x) => x.textContent));
  check(heads.filter((h) => h === "task").length === 2, `task: the downloaded head loads back (${heads.join(", ")})`);

  await page.click("#export");
  await page.waitForSelector("#download-bundle", { timeout: 60_000 });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-bundle")]);
  await download.saveAs(path.join(OUT, "with-heads.daecf"));
  const bundle = fs.readFileSync(path.join(OUT, "with-heads.daecf"));
  check(bundle.length > 1e6, `task: the bundle with the new heads downloads (${bundle.length} bytes, saved to ${OUT}/with-heads.daecf)`);
  checkOwnOrigin("task", foreign, origin);
  await page.screenshot({ path: path.join(OUT, "new-task.png"), fullPage: true });

  // A fresh page with the four samples (grades 0 to 3): one image labelled 0 is too few; two
  // are enough to fit, with a warning that the figures are rough.
  await page.reload();
  await status(page, "ready");
  await page.selectOption("#backend-select", "cpu");
  await page.waitForFunction(() => document.querySelector("#status.ready")?.textContent.includes("CPU"), null, { timeout: 120_000 });
  await page.click("#task-samples");
  await page.waitForFunction(() => document.querySelectorAll(".task-item.encoded").length === 4, null, { timeout: 120_000 });
  await page.click("#fit");
  const few = await status(page, "failed");
  check(few.includes("there are 1 and 3"), `task: the samples alone (one image labelled 0) are refused: "${few}"`);
  // Labels 0, 0, 1, 1: binary (grades must not skip one).
  for (const [i, label] of [[1, 0], [2, 1], [3, 1]]) {
    await page.fill(`#task-label-${i}`, String(label));
    await page.dispatchEvent(`#task-label-${i}`, "change");
  }
  await page.click("#fit");
  const warning = await page.waitForSelector("#fit-warning", { timeout: 120_000 }).then((e) => e.textContent(), () => "");
  check(warning.includes("only 2 images of the smaller class"), `task: a head on 2 + 2 images comes with a warning: "${warning}"`);
  await context.close();
});
