// End to end in Debian's Chromium, driven by playwright-core: the console at `/` and the
// report at `/report`, served by the real binary (tests/e2e/run.sh starts it).
// Usage: node console.mjs BASE_URL SCREENSHOT_DIR FIXTURE_DIR
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shots, fixtures] = process.argv.slice(2);
const origin = new URL(base).origin;
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
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
const requests = [];
page.on("request", (r) => {
  requests.push(r.url());
  const url = new URL(r.url());
  if (!["blob:", "data:"].includes(url.protocol) && url.origin !== origin) outside.push(r.url());
});

// Nothing wider than a 390-pixel phone screen: the page never scrolls sideways.
async function fitsPhone(screen) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `the ${screen} screen fits 390 pixels (scroll width ${width})`);
  await page.screenshot({ path: `${shots}/phone-${screen}.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

// The page loads, with its icon.
await page.goto(`${base}/`);
check((await page.title()) === "clickstream console", "the console loads");
for (const path of ["/favicon.svg", "/favicon.ico"]) {
  const r = await fetch(`${base}${path}`);
  const body = await r.text();
  check(r.status === 200 && r.headers.get("content-type") === "image/svg+xml" && body.startsWith("<svg") &&
    r.headers.get("x-content-type-options") === "nosniff" && (r.headers.get("content-security-policy") || "").includes("default-src 'none'"),
  `${path} is the console's icon, under the console's policy (${r.status})`);
}
check((await page.getAttribute('link[rel="icon"]', "href")) === "/favicon.svg", "the page names its icon");

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
// The probability axis runs 0 to 100%; the clicks are numbered; no text is cut off.
const ticks = async (cls) => page.locator(`#trend text.${cls}`).allTextContents();
check(JSON.stringify(await ticks("y-tick")) === JSON.stringify(["0%", "25%", "50%", "75%", "100%"]), `the probability axis reads 0 to 100% (${await ticks("y-tick")})`);
check(JSON.stringify(await ticks("x-tick")) === JSON.stringify(["1", "2", "3"]), `the clicks are numbered along the bottom (${await ticks("x-tick")})`);
const clipped = await page.evaluate(() => {
  const svg = document.getElementById("trend");
  const [, , w, h] = svg.getAttribute("viewBox").split(" ").map(Number);
  return [...svg.querySelectorAll("text, circle")].map((t) => [t.textContent, t.getBBox()])
    .filter(([, b]) => b.x < 0 || b.y < 0 || b.x + b.width > w || b.y + b.height > h).map(([t]) => t);
});
check(clipped.length === 0, `nothing on the chart is cut off (${clipped.join(", ")})`);

// A bad product code is answered with the API's own words: the allowed form and an example.
await page.fill("#f-product", "Z9");
await page.click("#add-click");
await page.waitForFunction(() => document.getElementById("try-error").textContent.length > 0);
const productError = await page.textContent("#try-error");
check(/expected a product code: one letter A, B, C or P followed by 1 to 3 digits, e\.g\. A13/.test(productError) && productError.includes("product code"),
  `a bad product code shows the API's message (${productError.split("\n").slice(1).join(" ")})`);
check((await page.locator("#clicks tbody tr").count()) === 3, "a refused click is not added");
await page.fill("#f-product", "A13");
await fitsPhone("try");
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
check((await page.locator("#clicks tbody tr").count()) === 3 && (await page.locator("#trend circle").count()) === 3,
  "a refused paste keeps the session built by hand");

// A good pasted session fills the clicks and the chart, one point per click.
const pastedSession = JSON.parse(readFileSync(`${fixtures}/session.json`, "utf8"));
await page.fill("#paste", JSON.stringify(pastedSession));
await page.click("#score-paste");
const pastedClicks = pastedSession.clicks.length;
await page.waitForFunction((n) => document.querySelectorAll("#clicks tbody tr").length === n, pastedClicks, { timeout: 10000 }).catch(() => {});
check((await page.locator("#clicks tbody tr").count()) === pastedClicks && (await page.locator("#trend circle").count()) === pastedClicks,
  `a pasted session shows its ${pastedClicks} clicks and their probabilities`);
check((await page.textContent("#try-error")) === "" && /^\d+\.\d%$/.test(await page.textContent("#answer-probability")), "a pasted session is answered");

// A CSV upload shows the summary and the table; the download is the batch route's CSV.
await page.click("#tab-file");
const good = `${fixtures}/sessions.csv`;
await page.setInputFiles("#csv-file", good);
const before = requests.length;
await page.click("#score-file");
await page.waitForSelector("#sessions-box:not([hidden]) #sessions tbody tr");
const uploads = requests.slice(before).filter((u) => new URL(u).pathname === "/score/batch").length;
check(uploads === 1, `the file is sent once (${uploads} requests)`);
const rows = await page.locator("#sessions tbody tr").count();
const expected = (await (await fetch(`${base}/score/batch`, {
  method: "POST", headers: { "Content-Type": "text/csv", Accept: "text/csv" }, body: readFileSync(good),
})).text());
check(rows === expected.trim().split("\n").length - 1, `the table holds every session (${rows})`);
check((await page.textContent("#file-facts")).includes(`${rows} sessions scored`), "the summary counts the sessions");
const facts = await page.locator("#file-facts li").allTextContents();
const tierLine = facts.find((f) => f.startsWith("Tiers: ")) || "";
const tierOrder = tierLine.slice(7).split(", ").map((t) => ["low", "medium", "high"].indexOf(t.split(" ")[0]));
check(tierOrder.length >= 2 && tierOrder.every((v, i) => v >= 0 && (i === 0 || v > tierOrder[i - 1])), `the tiers read low, medium, high (${tierLine})`);
const total = facts.find((f) => f.startsWith("Total")) || "";
check(/^Total expected revenue: US\$\d{1,3}(,\d{3})*\.\d\d$/.test(total), `money has its unit and separators (${total})`);
const moneyCells = await page.locator("#sessions tbody td:nth-child(4)").allTextContents();
check(moneyCells.every((t) => /^US\$\d{1,3}(,\d{3})*\.\d\d$/.test(t)), `each expected revenue is money (${moneyCells[0]})`);
const barCounts = await page.locator("#histogram text.count").allTextContents();
check(barCounts.length > 0 && barCounts.reduce((a, t) => a + Number(t.replace(/,/g, "")), 0) === rows, `the histogram's bars are labelled with their counts (${barCounts.join(", ")})`);
check((await page.textContent("#sessions-shown")).includes(`All ${rows} sessions`), "the table says it shows every session");
await page.click('#sessions th button[data-key="probability"]');
const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
const downloaded = readFileSync(await download.path(), "utf8");
check(downloaded === expected, "the download returns the same rows as /score/batch");
await page.screenshot({ path: `${shots}/console-file.png`, fullPage: true });
await fitsPhone("file");

// A file of more sessions than the table shows says so; the download still holds them all.
const big = join(mkdtempSync(join(tmpdir(), "console-")), "many.csv");
const header = readFileSync(good, "utf8").split("\n")[0];
const many = 1200;
writeFileSync(big, [header, ...Array.from({ length: many }, (_, i) => `2008;7;3;1;29;s${i};${1 + (i % 4)};A${1 + (i % 40)};${1 + (i % 14)};${1 + (i % 6)};1;${20 + (i % 60)};${1 + (i % 2)};${1 + (i % 5)}`)].join("\n") + "\n");
await page.setInputFiles("#csv-file", big);
await page.click("#score-file");
await page.waitForFunction(() => /of/.test(document.getElementById("sessions-shown").textContent), null, { timeout: 20000 }).catch(() => {});
const shown = await page.textContent("#sessions-shown");
check(shown.includes("Showing 1,000 of 1,200 sessions") && (await page.locator("#sessions tbody tr").count()) === 1000, `a long file's table says how much it shows (${shown})`);
check((await page.textContent("#file-facts")).includes("1,200 sessions scored"), "the summary counts every session of a long file");
const bigTiers = (await page.locator("#file-facts li").allTextContents()).find((f) => f.startsWith("Tiers: ")) || "";
check(/^Tiers: low [\d.]+%, medium [\d.]+%, high [\d.]+%$/.test(bigTiers), `a long file's tiers read low, medium, high (${bigTiers})`);
await page.click('#sessions th button[data-key="tier"]');
const sortedTiers = await page.locator("#sessions tbody td:nth-child(3)").allTextContents();
const rank = sortedTiers.map((t) => ["low", "medium", "high"].indexOf(t));
check(rank.every((v, i) => v >= 0 && (i === 0 || v >= rank[i - 1])), `sorting by tier goes low, medium, high (${[...new Set(sortedTiers)].join(", ")})`);

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
const trained = await page.locator("#model-convert table tr:nth-child(2) td:nth-child(3)").textContent();
check(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/.test(trained), `training dates are shown to the minute (${trained})`);
await page.screenshot({ path: `${shots}/console-models.png`, fullPage: true });
await fitsPhone("models");

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
const liveTiers = await page.locator("#live-tiers tbody tr td:first-child").allTextContents();
check(JSON.stringify(liveTiers) === JSON.stringify(["low", "medium", "high"]), `the live tiers read low, medium, high (${liveTiers.join(", ")})`);
const routes = await page.locator("#live-routes tbody tr td:first-child").allTextContents();
const assets = routes.filter((r) => ["/", "/console.js", "/console.css", "/favicon.ico", "/favicon.svg", "/openapi.json"].includes(r) || r.startsWith("/docs"));
check(routes.includes("/score") && assets.length === 0, `the live table lists the API's routes only (${routes.join(", ")})`);
await page.screenshot({ path: `${shots}/console-live.png`, fullPage: true });
await fitsPhone("live");

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

// /docs: the error table's header cells stand apart, and without API_KEYS (as here) no
// scoring route shows a lock; the admin route does.
const docs = await context.newPage();
await docs.goto(`${base}/docs/`);
await docs.waitForSelector(".info table th", { timeout: 20000 });
const gaps = await docs.evaluate(() => {
  // The extent of a cell's visible words, its trailing spaces left out.
  const extent = (el) => {
    const text = el.firstChild, r = document.createRange();
    r.setStart(text, 0);
    r.setEnd(text, text.textContent.trimEnd().length);
    return r.getBoundingClientRect();
  };
  const th = [...document.querySelectorAll(".info table thead th")];
  return th.slice(1).map((t, i) => Math.round(extent(t).left - extent(th[i]).right));
});
check(gaps.length === 2 && gaps.every((g) => g >= 8), `the error table's header cells stand apart (gaps ${gaps.join(", ")} px)`);
await docs.waitForSelector(".opblock", { timeout: 20000 });
const locks = await docs.evaluate(() => Object.fromEntries([...document.querySelectorAll(".opblock")].map((op) => [
  `${op.querySelector(".opblock-summary-method")?.textContent} ${op.querySelector(".opblock-summary-path")?.getAttribute("data-path")}`,
  op.querySelectorAll(".authorization__btn").length,
])));
check(locks["POST /convert"] === 0 && locks["POST /score/batch"] === 0 && locks["GET /models"] === 0, `no lock on the scoring routes without API_KEYS (${JSON.stringify(locks["POST /convert"])})`);
check(locks["POST /admin/reload"] === 1, `the admin route keeps its lock (${locks["POST /admin/reload"]})`);
await docs.screenshot({ path: `${shots}/docs.png` });

check(errors.length === 0, `no console error (${errors.join("; ")})`);
check(outside.length === 0, `no request leaves ${origin} (${outside.join(", ")})`);
await browser.close();
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
