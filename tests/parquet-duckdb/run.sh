#!/usr/bin/env bash
# The UCI file as a warehouse would hand it over: converted to Parquet by DuckDB (from PyPI,
# in the venv tests/ga4/run.sh uses), then `train` on the Parquet and on the CSV must publish
# models with identical weights, `score` must give identical answers and `evaluate` identical
# figures. Prints both reading
# passes' times (train's progress, from "reading" to its next step).
# Usage: tests/parquet-duckdb/run.sh [BIN] [DATA] [VENV]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-target/release/clickstream}")
data=$(realpath "${2:-../shared/data/e-shop-clothing-2008-apr-jul.csv}")
venv=${3:-/tmp/clickstream-duckdb}
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/pip" install -q duckdb
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Typed as DuckDB infers them (BIGINT codes and price, VARCHAR clothing model), the original
# column names kept, Snappy as Spark and BigQuery write it.
"$venv/bin/python" - "$data" "$out/apr-jul.parquet" <<'PY'
import sys
import duckdb
source, target = sys.argv[1], sys.argv[2]
duckdb.sql(
    f"COPY (SELECT * FROM read_csv('{source}', delim=';', header=true)) "
    f"TO '{target}' (FORMAT parquet, COMPRESSION snappy)"
)
rows = duckdb.sql(f"SELECT count(*) FROM '{target}'").fetchall()[0][0]
print(f"DuckDB {duckdb.__version__}: {rows} rows written to {target}")
PY
echo "CSV $(stat -c %s "$data") bytes, Parquet $(stat -c %s "$out/apr-jul.parquet") bytes"

# Seconds from train's "reading" line to its next step.
reading_seconds() {
  awk -F'[][s]' '/\] reading /{ at = $2; getline; gsub(/ /, "", $2); print $2 - at; exit }' "$1"
}
for format in csv parquet; do
  input=$data
  [ "$format" = parquet ] && input=$out/apr-jul.parquet
  "$bin" train --data "$input" --models "$out/models-$format" 2>"$out/train-$format.log" >/dev/null \
    || { cat "$out/train-$format.log" >&2; exit 1; }
  echo "train on the $format: reading pass $(reading_seconds "$out/train-$format.log") s"
  "$bin" score --data "$input" --models "$out/models-$format" --out "$out/scores-$format.csv" 2>/dev/null
  # The shipped models' figures; only the first line, naming the data file, differs.
  # (Its warning that the CSV is the shipped models' training file is keyed by checksum, so
  # it is not given for the Parquet: stderr is kept for a failure.)
  "$bin" evaluate --data "$input" --models models --version 1 2>"$out/evaluate-$format.log" \
    | tail -n +2 >"$out/evaluate-$format.txt" || { cat "$out/evaluate-$format.log" >&2; exit 1; }
done
status=0
for model in convert revenue segment; do
  if ! cmp -s "$out/models-csv/$model/1/weights.json" "$out/models-parquet/$model/1/weights.json"; then
    echo "FAILED: $model's weights differ between training on the CSV and on the Parquet" >&2
    status=1
  fi
done
if ! cmp -s "$out/scores-csv.csv" "$out/scores-parquet.csv"; then
  echo "FAILED: score's answers differ between the CSV and the Parquet" >&2
  diff "$out/scores-csv.csv" "$out/scores-parquet.csv" | head -5 >&2
  status=1
fi
if ! diff -u "$out/evaluate-csv.txt" "$out/evaluate-parquet.txt" >&2; then
  echo "FAILED: evaluate's figures differ between the CSV and the Parquet (above)" >&2
  status=1
fi
[ "$status" = 0 ] || exit 1
echo "ok: identical weights (convert, revenue, segment), $(($(wc -l < "$out/scores-csv.csv") - 1)) identical scores and identical evaluate figures from the CSV and the Parquet"
