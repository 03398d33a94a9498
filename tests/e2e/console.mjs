// End to end in Debian's Chromium, driven by playwright-core: the console at `/` and the
// report at `/report`, served by the real binary (tests/e2e/run.sh starts it).
// Usage: node console.mjs BASE_URL SCREENSHOT_DIR FIXTURE_DIR
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const [base, shots, fixtures] = process.argv.slice(2);
const origin = new URL(base).origin;
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const errors = [];
const outside = [];
// A refused request (the 422 of a bad file, on purpose below) is an answer, not an error
// of the page; Chromium logs each on the console all the same.
const refused = /Failed to load resource: the server responded with a status of 4\d\d/;
page.on("console", (m) => { if (m.type() === "error" && !refused.test(m.text())) errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(String(e)));
page.on("request", (r) => {
  const url = new URL(r.url());
  if (!["blob:", "data:"].includes(url.protocol) && url.origin !== origin) outside.push(r.url());
});

// The page loads.
await page.goto(`${base}/`);
check((await page.title()) === "clickstream console", "the console loads");

// A session typed click by click gets a prediction after each click.
const clicks = [
  { category: "1", product: "A13", price: "28", page: "1" },
  { category: "2", product: "B4", price: "52", page: "1" },
  { category: "4", product: "P2", price: "20", page: "2" },
];
let seen = 0;
for (const c of clicks) {
  await page.selectOption("#f-category", c.category);
  await page.fill("#f-product", c.product);
  await page.fill("#f-price", c.price);
  await page.selectOption("#f-page", c.page);
  await page.click("#add-click");
  await page.waitForFunction((n) => document.querySelectorAll("#clicks tbody tr").length === n, seen + 1);
  seen += 1;
  const probability = await page.textContent("#answer-probability");
  const tier = await page.textContent("#answer-tier");
  check(/^\d+\.\d%$/.test(probability) && /tier$/.test(tier), `a prediction after click ${seen}: ${probability}, ${tier}`);
}
check((await page.locator("#trend polyline").count()) === 1 && (await page.locator("#trend circle").count()) === 3, "the chart shows the probability after each of the 3 clicks");
check((await page.locator("#drivers tbody tr, #drivers tr").count()) > 1, "the top drivers are listed");
await page.screenshot({ path: `${shots}/console-try.png`, fullPage: true });

// A pasted session with an impossible date is refused with its field named.
await page.click("#try details summary");
await page.fill("#paste", JSON.stringify({ session_id: "pasted", clicks: [{
  year: 2008, month: 6, day: 31, order: 1, country: 29, page1_main_category: 1,
  page2_clothing_model: "A13", colour: 3, location: 1, model_photography: 1, price: 28,
  price_2: 2, page: 1 }] }));
await page.click("#score-paste");
await page.waitForFunction(() => document.getElementById("try-error").textContent.length > 0);
check((await page.textContent("#try-error")).includes("clicks[0].day"), "a bad pasted session names its field");

// A CSV upload shows the summary and the table; the download is the batch route's CSV.
await page.click("#tab-file");
const good = `${fixtures}/sessions.csv`;
await page.setInputFiles("#csv-file", good);
await page.click("#score-file");
await page.waitForSelector("#sessions:not([hidden]) tbody tr");
const rows = await page.locator("#sessions tbody tr").count();
const expected = (await (await fetch(`${base}/score/batch`, {
  method: "POST", headers: { "Content-Type": "text/csv", Accept: "text/csv" }, body: readFileSync(good),
})).text());
check(rows === expected.trim().split("\n").length - 1, `the table holds every session (${rows})`);
check((await page.textContent("#file-facts")).includes(`${rows} sessions scored`), "the summary counts the sessions");
await page.click('#sessions th button[data-key="probability"]');
const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
const downloaded = readFileSync(await download.path(), "utf8");
check(downloaded === expected, "the download returns the same rows as /score/batch");
await page.screenshot({ path: `${shots}/console-file.png`, fullPage: true });

// A bad CSV shows its line and column.
await page.setInputFiles("#csv-file", `${fixtures}/bad.csv`);
await page.click("#score-file");
await page.waitForFunction(() => document.getElementById("file-error").textContent.length > 0);
const problem = await page.textContent("#file-error");
check(/line 3, column (day|price)/.test(problem), `a bad file names its line and column: ${problem.split("\n")[1]}`);

// The models screen lists each model's versions.
await page.click("#tab-models");
await page.waitForSelector("#model-convert table tr:nth-child(2)");
check((await page.textContent("#model-convert")).includes("ROC-AUC"), "the models screen shows validation figures");
check((await page.getAttribute("#model-convert a.report-link", "href")) === "/models/convert/1/report", "each version links to its report");
await page.screenshot({ path: `${shots}/console-models.png`, fullPage: true });

// The live screen reads the metrics: rates by route, tiers, drift.
await page.click("#tab-live");
await page.waitForFunction(() => document.querySelectorAll("#live-tiers tbody tr").length > 0 || document.getElementById("live-error").textContent, null, { timeout: 15000 });
// Traffic while the screen is open shows in the tier and persona shares.
const session = readFileSync(`${fixtures}/session.json`, "utf8");
for (let i = 0; i < 5; i++) {
  await fetch(`${base}/score`, { method: "POST", headers: { "Content-Type": "application/json" }, body: session });
}
await page.waitForFunction(() => [...document.querySelectorAll("#live-tiers tbody tr td:nth-child(2)")]
  .some((td) => Number(td.textContent) > 0), null, { timeout: 15000 }).catch(() => {});
check((await page.locator("#live-routes tbody tr").count()) > 0, "the live screen shows requests by route");
const answered = await page.evaluate(() => [...document.querySelectorAll("#live-tiers tbody tr td:nth-child(2)")]
  .reduce((sum, td) => sum + Number(td.textContent), 0));
check(answered >= 5, `the live screen counts the answers by tier (${answered})`);
await page.screenshot({ path: `${shots}/console-live.png`, fullPage: true });

// The report renders every chart: the latest run's, and the one a version links to.
const report = await context.newPage();
report.on("console", (m) => { if (m.type() === "error") errors.push(`report: ${m.text()}`); });
await report.goto(`${base}/models/convert/1/report`);
check((await report.locator("figure svg[role=img]").count()) >= 17, "a version's report renders its charts");
await report.goto(`${base}/report`);
const figures = await report.locator("figure").count();
const charts = await report.evaluate(() => [...document.querySelectorAll("figure svg[role=img]")]
  .filter((s) => s.getBoundingClientRect().width > 100 && s.querySelector("rect, path, polyline")).length);
const tables = await report.locator("figure table caption").count();
check(figures >= 19 && charts + tables === figures, `the report renders every chart (${charts} charts, ${tables} tables, ${figures} figures)`);
await report.screenshot({ path: `${shots}/report.png` });

check(errors.length === 0, `no console error (${errors.join("; ")})`);
check(outside.length === 0, `no request leaves ${origin} (${outside.join(", ")})`);
await browser.close();
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
