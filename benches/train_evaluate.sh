#!/usr/bin/env bash
# Timed runs of `train` and `evaluate` on the April-July file: wall time and peak memory,
# the figures docs/performance.md reports. Usage: benches/train_evaluate.sh [DATA]
# BIN runs another build (an older commit's, say) instead of building this one.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/e-shop-clothing-2008-apr-jul.csv}
[ -f "$data" ] || { echo "no data at $data" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
bin=${BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=./target/release/clickstream
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" >/dev/null 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
  read -r secs kib <"$out/time"
  printf '%-9s wall %6.2f s   peak memory %6.1f MiB\n' "$label" "$secs" "$(echo "$kib / 1024" | bc -l)"
}

measure train "$bin" train --quiet --data "$data" --models "$out/models"
measure evaluate "$bin" evaluate --data "$data" --models "$out/models"
