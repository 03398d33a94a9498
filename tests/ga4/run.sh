#!/usr/bin/env bash
# Runs examples/ga4/flatten.sql in DuckDB over a GA4-shaped export (examples/ga4/fixture.json)
# and compares its output with examples/ga4/expected.csv. DuckDB comes from PyPI into a venv
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
"$venv/bin/python" - examples/ga4 "$out/flattened.csv" <<'PY'
import pathlib, sys
import duckdb
here, target = pathlib.Path(sys.argv[1]), sys.argv[2]
db = duckdb.connect()
db.execute((here / "duckdb-events.sql").read_text().replace("{fixture}", str(here / "fixture.json")))
db.sql((here / "flatten.sql").read_text()).write_csv(target)
print(f"DuckDB {duckdb.__version__}: flatten.sql over {here / 'fixture.json'}")
PY
if ! diff -u examples/ga4/expected.csv "$out/flattened.csv"; then
  echo "FAILED: examples/ga4/flatten.sql's output differs from examples/ga4/expected.csv (above)" >&2
  exit 1
fi
echo "ok: $(($(wc -l < examples/ga4/expected.csv) - 1)) product views, as expected.csv has them"
