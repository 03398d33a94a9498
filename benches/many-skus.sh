#!/usr/bin/env bash
# Issue 19's memory check on a catalogue, not a replicated file: a generated shop with about
# a million distinct SKUs (string ids, a category tree, timestamps), read by its own schema
# (benches/many-skus.toml), trained within the default budget of sessions, wall time and
# peak RSS by /usr/bin/time -v. On demand, not in CI (minutes, a gigabyte of disk).
# Usage: benches/many-skus.sh [SESSIONS] (default 1,000,000: about 5.5 million clicks)
#   BIN=...   another build's binary
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-1000000}
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
. benches/binary.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Sessions of 1-12 clicks over 91 days; a third of the clicks on 20,000 popular products,
# the rest on 1.5 million others (so most SKUs are seen once or twice, as in a long tail);
# a buyer's session clicks its product twice (the basket proxy of the schema).
python3 - "$sessions" "$out/clicks.csv" <<'PY'
import random, sys, datetime
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(19)
start = datetime.datetime(2026, 1, 1)
cats = [f"{a}/{b}" for a in ("outdoor", "home", "garden", "kids", "sport", "tools") for b in range(12)]
with open(path, "w") as f:
    f.write("session_id,event_time,sku,category,price,device,customer_id\n")
    for s in range(n):
        t = start + datetime.timedelta(seconds=rng.randrange(91 * 86400))
        device = rng.choice(("desktop", "mobile", "tablet"))
        buyer = rng.random() < 0.2
        clicks = rng.randint(1, 12)
        rows = []
        for c in range(clicks):
            p = rng.randrange(20000) if rng.random() < 1 / 3 else 20000 + rng.randrange(1500000)
            rows.append(p)
            if buyer and c == clicks // 2:
                rows.append(p)
        for p in rows:
            t += datetime.timedelta(seconds=rng.randint(5, 300))
            cat = cats[p % len(cats)]
            price = 5 + (p * 7919) % 400 + 0.99
            f.write(f"s{s},{t.strftime('%Y-%m-%dT%H:%M:%SZ')},SKU-{p:07d},{cat},{price:.2f},{device},c{s % 50000}\n")
PY
clicks=$(( $(wc -l <"$out/clicks.csv") - 1 ))
skus=$(tail -n +2 "$out/clicks.csv" | cut -d, -f3 | sort -u | wc -l)
echo "$sessions sessions: $clicks clicks, $skus distinct SKUs, $(du -h "$out/clicks.csv" | cut -f1)"

measure() {
  local label=$1; shift
  /usr/bin/time -v -o "$out/time" "$@" >"$out/stdout" 2>"$out/err" || { tail -20 "$out/err" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$out/time")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$out/time")
  printf '%-34s wall %9s   peak RSS %6s MiB\n' "$label" "$wall" "$rss"
}
measure "train --schema, $clicks clicks" "$bin" train -q --schema benches/many-skus.toml \
  --data "$out/clicks.csv" --models "$out/m"
grep -h "kept by the session sample\|statistics needing" "$out/m/report.md" || true
python3 - "$out/m/convert/1/manifest.json" "$out/m/convert/1/weights.json" <<'PY'
import json, sys
weights = json.load(open(sys.argv[2]))
print(f"the shipped product table holds {len(weights['products']['products'])} products")
PY
measure "score, $clicks clicks" "$bin" score --data "$out/clicks.csv" --models "$out/m" --out "$out/scores.csv"
