#!/usr/bin/env bash
# The volume benchmark of issue 19: `train` and `score` on the April-July file replicated
# COPIES times with distinct session ids (copy i adds i x 1,000,000 to each id), wall time
# and peak RSS by /usr/bin/time -v, beside the April-July file alone in the same sitting
# (so slower machines read as ratios). On demand, not in CI (minutes, gigabytes of disk).
# Usage: benches/volume.sh [COPIES] [DATA]   (66 copies: 9,987,516 clicks)
#   SHUFFLED=1  the replicated rows in a random order (sessions' rows apart)
#   PARQUET=1   also the same rows as one Parquet file (DuckDB from PyPI, in
#               /tmp/clickstream-duckdb), trained the same way: the passes' clicks per
#               second compare the reading of the two formats
#   PARQUET_OUT=1  score to Parquet too (wall, peak RSS, size against the CSV answer)
#   BIN=...     another build's binary
# SHUFFLED=1 scores with --unsorted (rows grouped on disk within --memory-budget).
# Each train prints its passes' lines (clicks read, seconds, clicks per second).
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-66}
data=${2:-../shared/data/e-shop-clothing-2008-apr-jul.csv}
[ -f "$data" ] || { echo "no data at $data" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
. benches/binary.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

big="$out/replicated.csv"
head -1 "$data" >"$big"
for i in $(seq 0 $((copies - 1))); do
  awk -F';' -v OFS=';' -v off=$((i * 1000000)) 'NR > 1 { $6 = $6 + off; print }' "$data" >>"$big"
done
if [ "${SHUFFLED:-0}" = 1 ]; then
  { head -1 "$big"; tail -n +2 "$big" | shuf --random-source=<(yes); } >"$out/shuffled.csv"
  mv "$out/shuffled.csv" "$big"
fi
clicks=$(( $(wc -l <"$big") - 1 ))
echo "$copies copies: $clicks clicks, $(du -h "$big" | cut -f1)$([ "${SHUFFLED:-0}" = 1 ] && echo ", rows shuffled")"

measure() {
  local label=$1; shift
  /usr/bin/time -v -o "$out/time" "$@" >"$out/stdout" 2>"$out/err" || { tail -20 "$out/err" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$out/time")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$out/time")
  printf '%-34s wall %9s   peak RSS %6s MiB\n' "$label" "$wall" "$rss"
}

passes() { grep -h '] pass \|] reading the sessions' "$out/err" | sed 's/^/    /' || true; }
measure "train, April-July alone" "$bin" train --data "$data" --models "$out/m1"
passes
measure "train, $clicks clicks" "$bin" train --data "$big" --models "$out/m2"
passes
grep -h "kept by the session sample\|statistics needing" "$out/m2/report.md" || true
if [ "${PARQUET:-0}" = 1 ]; then
  venv=/tmp/clickstream-duckdb
  if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    python3 -m venv "$venv" >/dev/null
    "$venv/bin/pip" install -q duckdb
  fi
  # Row order kept, Snappy as Spark and BigQuery write it.
  "$venv/bin/python" -c "import duckdb, sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}', delim=';', header=true)) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION snappy)\")" \
    "$big" "$out/replicated.parquet"
  echo "Parquet: $(du -h "$out/replicated.parquet" | cut -f1) against the CSV's $(du -h "$big" | cut -f1)"
  measure "train, $clicks clicks, Parquet" "$bin" train --data "$out/replicated.parquet" --models "$out/m3"
  passes
fi
# score streams a file whose sessions' rows are together; shuffled, it groups the rows on
# disk (--unsorted, in $out) within its memory budget. PARQUET_OUT=1 writes the answers as
# Parquet too (its wall time, peak RSS and size against the CSV's).
spill=()
if [ "${SHUFFLED:-0}" = 1 ]; then
  spill=(--unsorted --spill-dir "$out")
fi
measure "score ${spill[*]:0:1}, $clicks clicks" "$bin" score "${spill[@]}" --data "$big" --models "$out/m2" --out "$out/scores.csv"
grep -h "grouped on disk" "$out/err" || true
if [ "${PARQUET_OUT:-0}" = 1 ]; then
  measure "score ${spill[*]:0:1} --format parquet" "$bin" score "${spill[@]}" --data "$big" --models "$out/m2" --format parquet --out "$out/scores.parquet"
  echo "answers: Parquet $(du -h "$out/scores.parquet" | cut -f1), CSV $(du -h "$out/scores.csv" | cut -f1)"
fi
