#!/usr/bin/env bash
# The second shop end to end (issue 18, point 6): the generator's hiking-gear shop (fixed
# seed), trained with its own schema file and orders file by the release binary, and its
# validation ROC-AUC's lift above 0.5 held to at least 95% of the lift of the known best
# scorer on the same period under the same prefix weights (truth.json). Then the models are
# served by the real server, which reads the shop's own clicks by the schema the model files
# carry: every prefix of the validation period's sessions is scored over HTTP (CSV in, JSON
# out, the customer id coming back with each answer) and the served answers are held to 95%
# of the known best lift too (the published models are refitted on every month, so this
# figure is in-sample; the validation figure above is the honest one).
# Usage: tests/second-shop/run.sh [SESSIONS] (default 100000: fewer sessions leave the
# learned catalogue and product table short of the known best; see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
sessions=${1:-100000}
cargo build --release --quiet --bin clickstream --example second_shop
target=${CARGO_TARGET_DIR:-target}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$target/release/examples/second_shop" --out "$out/data" --sessions "$sessions" --seed 2026
start=$(date +%s)
"$target/release/clickstream" train --schema "$out/data/schema.toml" --data "$out/data/clicks.csv" \
  --outcomes "$out/data/orders.csv" --models "$out/models" -q
echo "train --schema: $(( $(date +%s) - start )) s"
python3 - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
truth = json.loads((out / "data/truth.json").read_text())
report = json.loads((out / "models/report.json").read_text())
chosen = report["convert_candidates"][report["chosen_convert"]]["metrics"]
period = report["validation"]
assert period["first_day"] == truth["last_30_days_from"], (period, truth["last_30_days_from"])
best, got = truth["best_weighted_roc_auc_last_30_days"], chosen["roc_auc"]
share = (got - 0.5) / (best - 0.5)
print(f"validation {period['words']}: ROC-AUC {got:.4f}, known best {best:.4f}: "
      f"{100 * share:.1f}% of the best lift above 0.5 (at least 95% required)")
manifest = json.loads((out / "models/convert/1/manifest.json").read_text())
assert manifest["click_schema"]["name"] == "trailhead-outdoor", manifest["click_schema"]["name"]
assert manifest["catalogue"]["categories"], "the model records its learned categories"
names = manifest["feature_schema"]["names"]
for wanted in ["duration", "price_vs_category", "unseen_product_share", "share_device_mobile"]:
    assert wanted in names, f"{wanted} is not among the model's features"
import tomllib
uci = {f["name"] for f in tomllib.loads(pathlib.Path("schemas/uci.toml").read_text())["feature"]}
# Version 1's features that only the 2008 shop's columns give (its categories, colours,
# photos, pages, countries): none may name a feature of another shop's model.
words = ["trousers", "skirts", "blouses", "sale", "colour", "photo", "page", "country", "location"]
leaked = [n for n in names if n in uci and any(w in n for w in words)]
assert not leaked, f"features of the 2008 shop in the second shop's model: {leaked}"
if share < 0.95:
    sys.exit(f"FAILED: {100 * share:.1f}% of the known best lift, below 95%")
PY

# Served over HTTP.
port=$(deploy/free-ports 1)
MODELS_DIR="$out/models" HOST=127.0.0.1 PORT="$port" RUST_LOG=warn \
  "$target/release/clickstream" serve >"$out/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$out/serve.log"; exit 1; }
  sleep 0.1
done
start=$(date +%s)
python3 - "$out" "$port" <<'PY'
import csv, io, json, pathlib, sys, urllib.request
out, port = pathlib.Path(sys.argv[1]), sys.argv[2]
truth = json.loads((out / "data/truth.json").read_text())
first_day = truth["last_30_days_from"]
sessions, header = {}, None
with open(out / "data/clicks.csv", newline="") as f:
    reader = csv.reader(f)
    header = next(reader)
    for row in reader:
        sessions.setdefault(row[0], []).append(row)
june = {s: rows for s, rows in sessions.items() if rows[0][1][:10] >= first_day}
converted = {}
with open(out / "data/orders.csv", newline="") as f:
    for row in csv.DictReader(f):
        converted[row["session_id"]] = row["converted"] == "1"
# Every prefix as a session of its own: "<id>#<t>".
prefixes = []
for sid, rows in june.items():
    for t in range(1, len(rows) + 1):
        prefixes.append((sid, t, rows[:t]))
answers = {}
batch = 20000
for i in range(0, len(prefixes), batch):
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(header)
    for sid, t, rows in prefixes[i:i + batch]:
        for row in rows:
            w.writerow([f"{sid}#{t}"] + row[1:])
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/convert/batch", data=text.getvalue().encode(),
        headers={"Content-Type": "text/csv", "Accept": "application/json"})
    with urllib.request.urlopen(request) as r:
        results = json.load(r)["results"]
    for a in results:
        answers[a["session_id"]] = a
missing = [f"{s}#{t}" for s, t, _ in prefixes if f"{s}#{t}" not in answers]
assert not missing, f"{len(missing)} prefixes unanswered, e.g. {missing[:3]}"
customer = {sid: rows[0][header.index("customer_id")] for sid, rows in june.items()}
wrong = [k for k, a in answers.items() if a.get("passthrough", {}).get("customer_id") != customer[k.split("#")[0]]]
assert not wrong, f"answers without their customer id: {wrong[:3]}"
# ROC-AUC under the contract's weights: each of a session's n prefixes weighs 1/n.
scored = [(answers[f"{s}#{t}"]["probability"], converted[s], 1.0 / len(june[s])) for s, t, _ in prefixes]
scored.sort(key=lambda x: x[0])
pos = sum(w for _, y, w in scored if y)
neg = sum(w for _, y, w in scored if not y)
auc, below, i = 0.0, 0.0, 0
while i < len(scored):
    j = i
    while j < len(scored) and scored[j][0] == scored[i][0]:
        j += 1
    p = sum(w for _, y, w in scored[i:j] if y)
    n = sum(w for _, y, w in scored[i:j] if not y)
    auc += p * (below + n / 2)
    below += n
    i = j
auc /= pos * neg
best = truth["best_weighted_roc_auc_last_30_days"]
share = (auc - 0.5) / (best - 0.5)
print(f"served over HTTP: {len(june)} sessions of the last 30 days, {len(prefixes)} prefixes "
      f"scored by POST /convert/batch; ROC-AUC {auc:.4f} (in-sample), known best {best:.4f}: "
      f"{100 * share:.1f}% of the best lift")
metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
unseen = [l for l in metrics.splitlines() if l.startswith("unseen_values_total")]
print("unseen values counted:", unseen or "none")
if share < 0.95:
    sys.exit(f"FAILED: the served answers reach {100 * share:.1f}% of the known best lift, below 95%")
PY
echo "served and scored over HTTP: $(( $(date +%s) - start )) s"
