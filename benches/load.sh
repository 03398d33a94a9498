#!/usr/bin/env bash
# Load test on loopback with wrk: single-session POST /convert (10 clicks) against the same
# server's GET /livez, 64 connections; then POST /score/batch with the whole April-July CSV,
# with the server's peak memory. Usage: benches/load.sh [DATA] [SECONDS]
# The two routes alternate for ROUNDS rounds (default 3) after a short warm-up, so a drift
# of the machine's speed falls on both; the ratio reported is that of the median rates.
# WRK_THREADS (default 2) sets wrk's threads. ISOLATE=1 pins the server (one worker) to
# core 0 and wrk to core 1, so the two do not compete for a core: the cleanest server-side
# comparison on a 2-core machine. SERVER_BIN runs another build of the server (an older
# commit's, say) instead of building this one: the way to compare two versions in one sitting.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/e-shop-clothing-2008-apr-jul.csv}
seconds=${2:-10}
threads=${WRK_THREADS:-2}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bin=${SERVER_BIN:-}
if [ -z "$bin" ]; then
  cargo build --profile production --quiet
  bin=./target/production/clickstream
fi
work=$(mktemp -d)
port=$(deploy/free-ports)
server_pin=() client_pin=()
if [ "${ISOLATE:-0}" = 1 ]; then
  server_pin=(taskset -c 0) client_pin=(taskset -c 1) threads=1
  export WORKERS=1
fi
MODELS_DIR=models PORT=$port HOST=127.0.0.1 RUST_LOG=warn "${server_pin[@]}" "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the server did not turn ready:" >&2; cat "$work/server.log" >&2; exit 1; }

# The 10-click session every load run sends (deploy/local/test.sh too).
body=$(cat benches/convert-10-clicks.json)
cat >"$work/convert.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
LUA

rounds=${ROUNDS:-3}
run() { # label, seconds, wrk args...
  local label=$1 secs=$2; shift 2
  "${client_pin[@]}" wrk -t"$threads" -c64 -d"${secs}s" --latency "$@" >"$work/$label.txt"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$label.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$label.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$label.txt")
  printf '%-16s %10.0f req/s   p50 %8s   p99 %8s\n' "$label" "$rps" "$p50" "$p99"
  echo "$rps" >>"$work/${label%% *}.rps"
}
median() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "wrk, $threads thread(s), 64 connections, ${seconds}s per run, $rounds rounds, loopback${ISOLATE:+, server and wrk on separate cores}"
run warm-up 2 "http://127.0.0.1:$port/livez" >/dev/null
run warm-up 2 -s "$work/convert.lua" "http://127.0.0.1:$port/convert" >/dev/null
for r in $(seq "$rounds"); do
  run "livez (round $r)" "$seconds" "http://127.0.0.1:$port/livez"
  run "convert (round $r)" "$seconds" -s "$work/convert.lua" "http://127.0.0.1:$port/convert"
done
awk -v a="$(median "$work/convert.rps")" -v b="$(median "$work/livez.rps")" \
  'BEGIN {printf "medians: /livez %.0f req/s, /convert %.0f req/s: POST /convert reaches %.0f%% of GET /livez throughput\n", b, a, 100 * a / b}'

if [ -f "$data" ]; then
  clicks_in=$(($(wc -l <"$data") - 1))
  for i in 1 2 3; do
    curl -s -o /dev/null -w "POST /score/batch, $clicks_in clicks (CSV): %{http_code} in %{time_total} s\n" \
      -X POST -H 'Content-Type: text/csv' --data-binary @"$data" "http://127.0.0.1:$port/score/batch"
  done
  awk '/VmHWM/ {printf "server peak memory: %.1f MiB\n", $2 / 1024}' "/proc/$server/status"
fi
