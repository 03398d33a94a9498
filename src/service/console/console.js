// The console: plain JavaScript over the service's public endpoints (/score, /score/batch,
// /models, /metrics, /report), with nothing fetched from anywhere else.
"use strict";

const codes = JSON.parse(document.getElementById("codes").textContent);
const $ = (id) => document.getElementById(id);

// ---- talking to the service -------------------------------------------------------

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = $("api-key").value.trim();
  if (key) h["X-Api-Key"] = key;
  return h;
}

// The problem document of a refused request, as lines a person can act on.
function problemText(p) {
  if (!p || typeof p !== "object") return String(p);
  const lines = [p.detail || p.title || "the request was refused"];
  for (const e of p.errors || []) lines.push(`${fieldName(e.path)}: ${e.message}`);
  return lines.join("\n");
}

// A problem's field path as the session form names it: `clicks[2].page2_clothing_model`
// is "click 3, product code"; other paths are shown as the API gives them.
const FORM_NAMES = {
  page2_clothing_model: "product code", page1_main_category: "category", price: "price",
  price_2: "above its category's average price", colour: "colour", location: "photo location",
  model_photography: "photo", country: "country", page: "page", day: "day", month: "month", year: "year",
};
function fieldName(path) {
  const m = /^clicks\[(\d+)\]\.(\w+)$/.exec(String(path));
  return m && FORM_NAMES[m[2]] ? `${path} (click ${Number(m[1]) + 1}, ${FORM_NAMES[m[2]]})` : path;
}

async function call(path, options) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new Error(typeof body === "string" ? body : problemText(body));
    error.problem = body;
    throw error;
  }
  return body;
}

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c);
  return tr;
}

// Money in the documented unit (the API's prices and revenues are US dollars), with
// thousands separators: US$445,806.08.
function money(v) {
  return `US$${Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

// A count with thousands separators: 1,000.
function count(n) {
  return Number(n).toLocaleString("en-US");
}

// A table in a box that scrolls sideways on a narrow screen, so the page itself does not.
function scrolling(table) {
  const box = document.createElement("div");
  box.className = "scroll";
  box.appendChild(table);
  return box;
}

// The tiers from the lowest up, whatever order the answers came in.
const TIERS = ["low", "medium", "high"];
function byTier(a, b) {
  const [i, j] = [TIERS.indexOf(a), TIERS.indexOf(b)];
  return (i < 0 ? TIERS.length : i) - (j < 0 ? TIERS.length : j) || (a < b ? -1 : a > b ? 1 : 0);
}

// ---- screens ----------------------------------------------------------------------

const screens = ["try", "file", "models", "live"];
let liveTimer = null;

function show(name) {
  for (const s of screens) {
    $(s).hidden = s !== name;
    $(`tab-${s}`).setAttribute("aria-selected", String(s === name));
  }
  if (name === "models") loadModels();
  if (liveTimer) { clearInterval(liveTimer); liveTimer = null; }
  if (name === "live") { readMetrics(); liveTimer = setInterval(readMetrics, 5000); }
}
for (const s of screens) $(`tab-${s}`).addEventListener("click", () => show(s));

// ---- try a session ----------------------------------------------------------------

function options(select, list, chosen) {
  for (const [code, label] of list) {
    const o = document.createElement("option");
    o.value = code;
    o.textContent = `${label} (${code})`;
    if (code === chosen) o.selected = true;
    select.appendChild(o);
  }
}
options($("f-category"), codes.page1_main_category, 1);
options($("f-colour"), codes.colour, 3);
options($("f-photo"), codes.model_photography, 1);
options($("f-location"), codes.location, 1);
options($("f-country"), codes.country, 29);

let session = { session_id: "", clicks: [] };
let history = [];

function newSession() {
  session = { session_id: `console-${Date.now().toString(36)}`, clicks: [] };
  history = [];
  $("clicks").tBodies[0].replaceChildren();
  $("answer").replaceChildren();
  $("try-error").textContent = "";
  $("f-product").removeAttribute("aria-invalid");
  drawTrend();
}

// One row of the clicks table: the click and the probability after it.
function clickRow(click, n, probability) {
  return row([
    cell(String(n), true),
    cell(label(codes.page1_main_category, click.page1_main_category)),
    cell(String(click.page2_clothing_model)),
    cell(money(click.price), true),
    cell(String(click.page), true),
    cell(`${(100 * probability).toFixed(1)}%`, true),
  ]);
}
newSession();
$("new-session").addEventListener("click", newSession);

function clickFromForm() {
  const [year, month, day] = $("f-date").value.split("-").map(Number);
  return {
    year, month, day,
    order: session.clicks.length + 1,
    country: Number($("f-country").value),
    page1_main_category: Number($("f-category").value),
    page2_clothing_model: $("f-product").value.trim().toUpperCase(),
    colour: Number($("f-colour").value),
    location: Number($("f-location").value),
    model_photography: Number($("f-photo").value),
    price: Number($("f-price").value),
    price_2: Number($("f-price2").value),
    page: Number($("f-page").value),
  };
}

function label(list, code) {
  const found = list.find(([c]) => c === code);
  return found ? found[1] : String(code);
}

async function scoreSession(which) {
  return call("/score?explain=true", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(which || session),
  });
}

function showAnswer(a) {
  const c = a.convert, r = a.revenue, s = a.segment;
  const box = $("answer");
  box.replaceChildren();
  const p = document.createElement("p");
  p.innerHTML = "";
  const figure = document.createElement("span");
  figure.className = "answer-figure";
  figure.id = "answer-probability";
  figure.textContent = `${(100 * c.probability).toFixed(1)}%`;
  p.append("Conversion probability ", figure, " ");
  const tier = document.createElement("strong");
  tier.id = "answer-tier";
  tier.className = `tier-${c.tier}`;
  tier.textContent = `${c.tier} tier`;
  p.append(tier);
  box.appendChild(p);
  const facts = document.createElement("ul");
  const items = [
    c.already_converted ? "This session already holds a basket event: it has converted." :
      `${c.will_convert ? "Predicted to convert" : "Not predicted to convert"} (threshold ${c.threshold.toFixed(4)}); higher than ${c.percentile.toFixed(0)}% of training sessions.`,
    `Expected revenue: ${money(r.expected_revenue)} (${money(r.revenue_if_converts)} if it converts).`,
    `Persona: ${s.name}: ${s.description}`,
    `Models: convert v${c.model_version}, revenue v${r.model_version}, segment v${s.model_version}.`,
  ];
  for (const text of items) {
    const li = document.createElement("li");
    li.textContent = text;
    facts.appendChild(li);
  }
  box.appendChild(facts);
  if (c.explanation && c.explanation.length) {
    const h = document.createElement("h3");
    h.textContent = "Top drivers";
    box.appendChild(h);
    const t = document.createElement("table");
    t.id = "drivers";
    t.appendChild(row([document.createElement("th"), document.createElement("th"), document.createElement("th")]));
    t.rows[0].cells[0].textContent = "feature";
    t.rows[0].cells[1].textContent = "value";
    t.rows[0].cells[2].textContent = "push on the log-odds";
    for (const d of c.explanation) {
      t.appendChild(row([cell(d.feature), cell(Number(d.value).toFixed(3), true), cell(Number(d.contribution).toFixed(3), true)]));
    }
    box.appendChild(scrolling(t));
  }
}

// The probability after each click: 0 to 100% up the side, the click numbers along the
// bottom, everything inside the drawing.
function drawTrend() {
  const svg = $("trend");
  for (const n of [...svg.childNodes]) if (n.nodeName !== "title") svg.removeChild(n);
  const ns = "http://www.w3.org/2000/svg";
  const w = 520, h = 200, left = 44, right = 16, top = 12, bottom = 40;
  const x = (i) => left + (history.length > 1 ? (i * (w - left - right)) / (history.length - 1) : (w - left - right) / 2);
  const y = (p) => h - bottom - p * (h - top - bottom);
  const text = (content, tx, ty, anchor, cls) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", tx); t.setAttribute("y", ty); t.setAttribute("font-size", "12"); t.setAttribute("text-anchor", anchor);
    if (cls) t.setAttribute("class", cls);
    t.textContent = content;
    svg.appendChild(t);
  };
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    const grid = document.createElementNS(ns, "path");
    grid.setAttribute("d", `M${left},${y(p)} H${w - right}`);
    grid.setAttribute("stroke", p === 0 ? "#444" : "#e3e3e3");
    svg.appendChild(grid);
    text(`${100 * p}%`, left - 6, y(p) + 4, "end", "y-tick");
  }
  const axis = document.createElementNS(ns, "path");
  axis.setAttribute("d", `M${left},${top} V${h - bottom}`);
  axis.setAttribute("stroke", "#444");
  axis.setAttribute("fill", "none");
  svg.appendChild(axis);
  // A number under every click while they fit, else under every k-th.
  const every = Math.max(1, Math.ceil(history.length / 20));
  history.forEach((_, i) => {
    if (i % every === 0 || i === history.length - 1) text(String(i + 1), x(i), h - bottom + 16, "middle", "x-tick");
  });
  text("click", (left + w - right) / 2, h - 6, "middle");
  if (!history.length) return;
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", history.map((p, i) => `${x(i)},${y(p)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#0072b2");
  line.setAttribute("stroke-width", "2");
  svg.appendChild(line);
  history.forEach((p, i) => {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x(i)); dot.setAttribute("cy", y(p)); dot.setAttribute("r", "4"); dot.setAttribute("fill", "#0072b2");
    const tip = document.createElementNS(ns, "title");
    tip.textContent = `after click ${i + 1}: ${(100 * p).toFixed(1)}%`;
    dot.appendChild(tip);
    svg.appendChild(dot);
  });
}

$("click-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("try-error").textContent = "";
  const click = clickFromForm();
  session.clicks.push(click);
  try {
    const a = await scoreSession();
    $("f-product").removeAttribute("aria-invalid");
    history.push(a.convert.probability);
    $("clicks").tBodies[0].appendChild(clickRow(click, session.clicks.length, a.convert.probability));
    showAnswer(a);
    drawTrend();
  } catch (e) {
    session.clicks.pop();
    // The API's own words: for a product code, the allowed form and an example.
    const bad = (e.problem && e.problem.errors || []).some((x) => /page2_clothing_model$/.test(x.path));
    if (bad) $("f-product").setAttribute("aria-invalid", "true");
    $("try-error").textContent = e.message;
  }
});

// A pasted session replaces the one on screen only once the service has scored it: a
// refused paste leaves the session built so far as it was, with the reason shown.
$("score-paste").addEventListener("click", async () => {
  $("try-error").textContent = "";
  let pasted;
  try {
    pasted = JSON.parse($("paste").value);
  } catch (e) {
    $("try-error").textContent = `Not JSON: ${e.message}`;
    return;
  }
  try {
    const answer = await scoreSession(pasted);
    // The probability after each click: every prefix of the session, in one batch.
    const clicks = Array.isArray(pasted.clicks) ? pasted.clicks : [];
    const prefixes = clicks.map((_, i) => ({ session_id: `${pasted.session_id}#${i + 1}`, clicks: clicks.slice(0, i + 1) }));
    const batch = await call("/convert/batch", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "application/json" }),
      body: JSON.stringify({ sessions: prefixes }),
    });
    const after = batch.results.map((r) => (r && r.probability !== undefined ? r.probability : (r.convert || r).probability));
    session = pasted;
    history = after;
    $("clicks").tBodies[0].replaceChildren(...clicks.map((c, i) => clickRow(c, i + 1, after[i])));
    showAnswer(answer);
    drawTrend();
  } catch (e) {
    $("try-error").textContent = e.message;
  }
});

// ---- score a file -----------------------------------------------------------------

// The table shows at most this many rows; the summary, the histogram and the download
// cover every session.
const SHOWN_ROWS = 1000;
let scored = [];
let sortKey = null, sortUp = true;

// RFC 4180 text to rows of cells: quoted cells may hold commas, quotes and line breaks.
function parseCsv(text) {
  const rows = [];
  let rowCells = [], cellText = "", quoted = false, i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cellText += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i += 1; continue; }
      cellText += ch; i += 1; continue;
    }
    if (ch === '"') { quoted = true; i += 1; continue; }
    if (ch === ",") { rowCells.push(cellText); cellText = ""; i += 1; continue; }
    if (ch === "\r" || ch === "\n") {
      rowCells.push(cellText); rows.push(rowCells); rowCells = []; cellText = "";
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      continue;
    }
    cellText += ch; i += 1;
  }
  if (cellText || rowCells.length) { rowCells.push(cellText); rows.push(rowCells); }
  return rows;
}

// The batch route's CSV answer to the rows the screen shows.
function scoredRows(csv) {
  const [head, ...rows] = parseCsv(csv).filter((r) => r.length > 1);
  const at = (name) => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`the answer has no column ${name}`);
    return i;
  };
  const [id, p, tier, expected, persona] = ["session_id", "convert.probability", "convert.tier", "revenue.expected_revenue", "segment.name"].map(at);
  return rows.map((r) => ({
    session_id: r[id],
    probability: Number(r[p]),
    tier: r[tier],
    expected: Number(r[expected]),
    persona: r[persona],
  }));
}

function renderSessions() {
  const body = $("sessions").tBodies[0];
  body.replaceChildren();
  const rows = [...scored];
  if (sortKey) {
    const order = sortKey === "tier" ? byTier : (a, b) => (a < b ? -1 : a > b ? 1 : 0);
    rows.sort((a, b) => order(a[sortKey], b[sortKey]) * (sortUp ? 1 : -1));
  }
  for (const r of rows.slice(0, SHOWN_ROWS)) {
    body.appendChild(row([cell(r.session_id), cell(r.probability.toFixed(4), true), cell(r.tier), cell(money(r.expected), true), cell(r.persona)]));
  }
  $("sessions-shown").textContent = rows.length > SHOWN_ROWS ?
    `Showing ${count(SHOWN_ROWS)} of ${count(rows.length)} sessions${sortKey ? `, sorted by ${sortKey}` : ""}: the download holds them all.` :
    `All ${count(rows.length)} sessions.`;
}

for (const b of $("sessions").querySelectorAll("th button")) {
  b.addEventListener("click", () => {
    sortUp = sortKey === b.dataset.key ? !sortUp : true;
    sortKey = b.dataset.key;
    renderSessions();
  });
}

// Sessions in 20 bins of probability, each bar labelled with its count.
function drawHistogram(probabilities) {
  const svg = $("histogram");
  for (const n of [...svg.childNodes]) if (n.nodeName !== "title") svg.removeChild(n);
  const ns = "http://www.w3.org/2000/svg";
  const bins = new Array(20).fill(0);
  for (const p of probabilities) bins[Math.min(19, Math.max(0, Math.floor(p * 20)))] += 1;
  const w = 520, h = 200, left = 12, right = 12, top = 22, bottom = 40, most = Math.max(1, ...bins);
  const bw = (w - left - right) / bins.length;
  const text = (content, tx, ty, cls) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", tx); t.setAttribute("y", ty); t.setAttribute("font-size", "12"); t.setAttribute("text-anchor", "middle");
    if (cls) t.setAttribute("class", cls);
    t.textContent = content;
    svg.appendChild(t);
  };
  bins.forEach((n, i) => {
    const r = document.createElementNS(ns, "rect");
    const bh = (n / most) * (h - top - bottom);
    r.setAttribute("x", left + i * bw + 1); r.setAttribute("y", h - bottom - bh);
    r.setAttribute("width", bw - 2); r.setAttribute("height", bh); r.setAttribute("fill", "#0072b2");
    const tip = document.createElementNS(ns, "title");
    tip.textContent = `${(i * 0.05).toFixed(2)}-${((i + 1) * 0.05).toFixed(2)}: ${count(n)} sessions`;
    r.appendChild(tip);
    svg.appendChild(r);
    // Counts above the bars; a large count in a smaller type so it stays over its bar.
    if (n > 0) {
      text(count(n), left + (i + 0.5) * bw, h - bottom - bh - 4, "count");
      if (count(n).length > 4) svg.lastChild.setAttribute("font-size", "9");
    }
  });
  const axis = document.createElementNS(ns, "path");
  axis.setAttribute("d", `M${left},${h - bottom} H${w - right}`);
  axis.setAttribute("stroke", "#444");
  svg.appendChild(axis);
  for (const [label, p] of [["0", 0], ["0.25", 0.25], ["0.5", 0.5], ["0.75", 0.75], ["1", 1]]) {
    text(label, left + p * (w - left - right), h - bottom + 16);
  }
  text("conversion probability", w / 2, h - 6);
}

// Shares in a fixed order: tiers low, medium, high; personas by name.
function share(counts, total, order) {
  return Object.entries(counts).sort(([a], [b]) => order(a, b))
    .map(([k, n]) => `${k} ${(100 * n / Math.max(1, total)).toFixed(1)}%`).join(", ");
}

// One request: the batch route's CSV, which is both the download (byte for byte, with
// the server's guard against spreadsheet formulas) and, parsed, the table.
$("score-file").addEventListener("click", async () => {
  $("file-error").textContent = "";
  $("file-summary").replaceChildren();
  for (const id of ["histogram-figure", "download", "sessions-box"]) $(id).hidden = true;
  const file = $("csv-file").files[0];
  if (!file) {
    $("file-error").textContent = "Choose a CSV file first.";
    return;
  }
  try {
    const csv = await call("/score/batch", {
      method: "POST",
      headers: headers({ "Content-Type": "text/csv", Accept: "text/csv" }),
      body: file,
    });
    scored = scoredRows(csv);
    const tiers = {}, personas = {};
    let revenue = 0;
    for (const r of scored) {
      tiers[r.tier] = (tiers[r.tier] || 0) + 1;
      personas[r.persona] = (personas[r.persona] || 0) + 1;
      revenue += r.expected;
    }
    const summary = $("file-summary");
    const list = document.createElement("ul");
    list.id = "file-facts";
    for (const t of [
      `${count(scored.length)} sessions scored`,
      `Tiers: ${share(tiers, scored.length, byTier)}`,
      `Personas: ${share(personas, scored.length, (a, b) => (a < b ? -1 : a > b ? 1 : 0))}`,
      `Total expected revenue: ${money(revenue)}`,
    ]) {
      const li = document.createElement("li");
      li.textContent = t;
      list.appendChild(li);
    }
    summary.appendChild(list);
    drawHistogram(scored.map((r) => r.probability));
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    sortKey = null;
    renderSessions();
    for (const id of ["histogram-figure", "download", "sessions-box"]) $(id).hidden = false;
  } catch (e) {
    $("file-error").textContent = e.message;
  }
});

// ---- models -----------------------------------------------------------------------

function figure(v) {
  return typeof v === "number" ? v.toFixed(4) : "n/a";
}

// An RFC 3339 time to the minute, in UTC: 2026-11-28 16:11 UTC.
function when(text) {
  const t = new Date(text);
  return Number.isNaN(t.getTime()) ? String(text || "") : `${t.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

async function loadModels() {
  $("models-error").textContent = "";
  const list = $("models-list");
  try {
    const models = await call("/models", { headers: headers() });
    list.replaceChildren();
    for (const m of models) {
      const box = document.createElement("div");
      box.className = "model";
      box.id = `model-${m.name}`;
      const h = document.createElement("h3");
      h.textContent = `${m.name}: default version ${m.default_version ?? "none"}` +
        (m.pinned_version ? `, pinned to ${m.pinned_version}` : "") +
        (m.canary ? `, canary version ${m.canary.version} for ${m.canary.percent}% of sessions` : "");
      box.appendChild(h);
      if (m.problem) {
        const p = document.createElement("p");
        p.className = "error";
        p.textContent = m.problem;
        box.appendChild(p);
      }
      const t = document.createElement("table");
      t.appendChild(row(["version", "status", "trained", "validation figures", "report"].map((x) => { const th = document.createElement("th"); th.textContent = x; return th; })));
      for (const v of m.loaded) {
        const detail = await call(v.manifest, { headers: headers() });
        const val = detail.manifest.validation || {};
        const figures = m.name === "convert" ? `ROC-AUC ${figure(val.roc_auc)}, PR-AUC ${figure(val.pr_auc)}, log loss ${figure(val.log_loss)} (constant ${figure(val.base_rate_log_loss)})` :
          m.name === "revenue" ? `RMSE ${figure(val.rmse)} (constant ${figure(val.best_constant_rmse)}), MAE ${figure(val.mae)}` :
          `silhouette ${figure(val.silhouette_training_months)}`;
        const link = document.createElement("a");
        link.href = `${v.manifest}/report`;
        link.className = "report-link";
        link.textContent = "charts";
        const linkCell = document.createElement("td");
        linkCell.appendChild(link);
        t.appendChild(row([cell(String(v.version), true), cell(v.status), cell(when(detail.manifest.created_at)), cell(figures), linkCell]));
      }
      box.appendChild(scrolling(t));
      for (const f of m.failed) {
        const p = document.createElement("p");
        p.className = "error";
        p.textContent = `version ${f.version} refused: ${f.reason}`;
        box.appendChild(p);
      }
      list.appendChild(box);
    }
  } catch (e) {
    $("models-error").textContent = e.message;
  }
}

// A report is a page of its own; with API keys on, it is fetched with the key.
$("models").addEventListener("click", async (event) => {
  const link = event.target.closest("a#report-link, a.report-link");
  if (!link || !$("api-key").value.trim()) return;
  event.preventDefault();
  try {
    const html = await call(link.getAttribute("href"), { headers: headers() });
    window.open(URL.createObjectURL(new Blob([html], { type: "text/html" })), "_blank");
  } catch (e) {
    $("models-error").textContent = e.message;
  }
});

// ---- live -------------------------------------------------------------------------

// Prometheus text to [{name, labels, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function sumBy(samples, name, key) {
  const out = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = key(s.labels);
    out[k] = (out[k] || 0) + s.value;
  }
  return out;
}

// The console's own files and the documentation's: not the API's traffic.
function isAsset(route) {
  return ["/", "/console.js", "/console.css", "/favicon.ico", "/favicon.svg", "/openapi.json", "/docs"].includes(route) ||
    route.startsWith("/docs/");
}

// Reads kept for the shares: those of the last five minutes.
const WINDOW_MS = 5 * 60 * 1000;
let previous = null;
let kept = [];

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const r of rows) body.appendChild(row(r.map((x, i) => cell(String(x), i > 0))));
}

async function readMetrics() {
  try {
    const text = await call("/metrics", { headers: headers() });
    const now = { at: Date.now(), samples: parseMetrics(text) };
    const count = (snap) => sumBy(snap.samples, "http_requests_total", (l) => l.route);
    const seconds = (snap) => sumBy(snap.samples, "http_request_duration_seconds_sum", (l) => l.route);
    const tiers = (snap) => sumBy(snap.samples, "conversion_tier_total", (l) => l.tier);
    const personas = (snap) => sumBy(snap.samples, "persona_assignments_total", (l) => l.persona);
    kept.push(now);
    kept = kept.filter((k) => now.at - k.at <= WINDOW_MS);
    const first = kept[0];
    if (previous) {
      const dt = (now.at - previous.at) / 1000;
      const [c1, c0, s1, s0] = [count(now), count(previous), seconds(now), seconds(previous)];
      $("live-window").textContent = `${Math.round((now.at - first.at) / 1000)} s`;
      fill("live-routes", Object.keys(c1).filter((route) => !isAsset(route)).sort().map((route) => {
        const n = c1[route] - (c0[route] || 0);
        const ms = n > 0 ? (1000 * ((s1[route] || 0) - (s0[route] || 0))) / n : 0;
        return [route, (n / dt).toFixed(1), n > 0 ? ms.toFixed(2) : "-"];
      }));
    }
    const delta = (f) => {
      const a = f(now), b = f(first), out = {};
      for (const k of Object.keys(a)) out[k] = a[k] - (b[k] || 0);
      return out;
    };
    const shares = (counts, order) => {
      const total = Object.values(counts).reduce((x, y) => x + y, 0);
      return Object.entries(counts).sort(([a], [b]) => (order ? order(a, b) : a < b ? -1 : a > b ? 1 : 0)).map(([k, n]) => [k, n, total ? `${(100 * n / total).toFixed(1)}%` : "-"]);
    };
    fill("live-tiers", shares(delta(tiers), byTier));
    fill("live-personas", shares(delta(personas)));
    const psi = now.samples.filter((s) => s.name === "conversion_drift_psi");
    const samples = sumBy(now.samples, "conversion_drift_samples", (l) => l.version);
    fill("live-drift", psi.map((s) => [s.labels.version, s.value.toFixed(3), samples[s.labels.version] || 0]));
    previous = now;
    $("live-error").textContent = "";
  } catch (e) {
    $("live-error").textContent = e.message;
  }
}
