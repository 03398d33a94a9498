#!/usr/bin/env bash
# Runs examples/ga4/flatten.sql and examples/ga4/outcomes.sql in DuckDB over a GA4-shaped
# export (examples/ga4/fixture.json) and compares their output with examples/ga4/expected.csv
# and examples/ga4/expected-outcomes.csv. DuckDB comes from PyPI into a venv
# of its own, made when missing. Usage: tests/ga4/run.sh [VENV] (default /tmp/clickstream-duckdb).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-/tmp/clickstream-duckdb}
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/pip" install -q duckdb
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$venv/bin/python" - examples/ga4 "$out" <<'PY'
import pathlib, sys
import duckdb
here, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
db = duckdb.connect()
db.execute((here / "duckdb-events.sql").read_text().replace("{fixture}", str(here / "fixture.json")))
for query in ["flatten", "outcomes"]:
    db.sql((here / f"{query}.sql").read_text()).write_csv(str(target / f"{query}.csv"))
    print(f"DuckDB {duckdb.__version__}: {query}.sql over {here / 'fixture.json'}")
PY
status=0
for pair in "flatten:expected" "outcomes:expected-outcomes"; do
  query=${pair%%:*} expected=examples/ga4/${pair#*:}.csv
  if ! diff -u "$expected" "$out/$query.csv"; then
    echo "FAILED: examples/ga4/$query.sql's output differs from $expected (above)" >&2
    status=1
  fi
done
[ "$status" = 0 ] || exit 1
echo "ok: $(($(wc -l < examples/ga4/expected.csv) - 1)) product views and $(($(wc -l < examples/ga4/expected-outcomes.csv) - 1)) sessions' outcomes, as expected"
