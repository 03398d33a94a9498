#!/usr/bin/env bash
# deploy/spark in CI: the PySpark job in local mode (pyspark from PyPI, a JRE from Debian)
# and the DuckDB query on the real April-July file, against `clickstream train`:
#  (a) Spark and DuckDB compute the session hash of hash-fixture.jsonl's keys exactly (the
#      Rust hash is held to the same file by a unit test, and to Spark's and DuckDB's on
#      the file's 22,102 real keys by (c): the same sessions kept);
#  (b) at fraction 1, Spark's part files train byte-identical weights to the CSV;
#  (c) at fraction 0.5, Spark's output from a shuffled copy of the file, DuckDB's output and
#      `train --sample-fraction 0.5` on the CSV and on the shuffled copy keep the same
#      sessions. The CSV and the shuffled copy train byte-identical weights: both learn
#      the validation period, class counts and product rates from every session (the
#      shuffled copy's grouped on disk; their reports say so). Spark's and DuckDB's
#      samples hold only the kept sessions, and train byte-identical weights to each other
#      (docs/sampling.md).
# Usage: deploy/spark/test.sh [BIN] [DATA] [VENV]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-target/release/clickstream}")
data=${2:-${CLICKSTREAM_DATA:-../shared/data/e-shop-clothing-2008-apr-jul.csv}}
venv=${3:-/tmp/clickstream-spark}
if [ ! -f "$data" ]; then
  if [ "${CLICKSTREAM_REQUIRE_DATA:-0}" = 1 ]; then
    echo "FAILED: deploy/spark/test.sh: $data is absent and CLICKSTREAM_REQUIRE_DATA=1" >&2
    exit 1
  fi
  echo "SKIPPED: deploy/spark/test.sh: $data is absent"
  exit 0
fi
data=$(realpath "$data")
start=$(date +%s)

# Spark 4 runs on Java 17 or 21; Debian 12's default-jre-headless is 17.
if ! command -v java >/dev/null; then
  apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null
fi
if ! "$venv/bin/python" -c 'import pyspark, duckdb' 2>/dev/null; then
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/pip" install -q pyspark duckdb
fi
echo "installed in $(( $(date +%s) - start )) s: $(java -version 2>&1 | head -1), $("$venv/bin/python" -c 'import pyspark, duckdb; print("pyspark", pyspark.__version__, "duckdb", duckdb.__version__)')"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$venv/bin/python" - "$data" "$out" <<'PY'
import json, random, sys, time
sys.path.insert(0, "deploy/spark")
import duckdb
import sessions
from pyspark.sql import SparkSession, functions as F

data, out = sys.argv[1], sys.argv[2]
began = time.time()

# The shuffled copy: the same rows, the header first, no session's rows together.
with open(data, encoding="utf-8") as f:
    header, *rows = f.readlines()
random.Random(19).shuffle(rows)
with open(f"{out}/shuffled.csv", "w", encoding="utf-8") as f:
    f.write(header)
    f.writelines(rows)

quiet = ["--master", "local[2]", "--quiet"]
assert sessions.main(["--input", data, "--output", f"{out}/spark-1", *quiet]) == 0
assert sessions.main(["--input", f"{out}/shuffled.csv", "--output", f"{out}/spark-half", "--fraction", "0.5", *quiet]) == 0
spark = SparkSession.builder.master("local[2]").getOrCreate()
spark.sparkContext.setLogLevel("ERROR")

# (a) the fixture's keys, each engine against hashlib's numbers.
fixture = [json.loads(line) for line in open("deploy/spark/hash-fixture.jsonl", encoding="utf-8")]
problems = []
for case in fixture:
    parts = spark.createDataFrame([tuple(case["parts"])], [f"p{i}" for i in range(len(case["parts"]))])
    key = sessions.session_key(parts.columns)
    got = parts.select(key.alias("k"), sessions.session_hash(key, case["seed"]).alias("h")).first()
    if (got.k, got.h) != (case["key"], case["hash"]):
        problems.append(f"Spark: {case} gave key {got.k!r}, hash {got.h}")
db = duckdb.connect()
db.execute(f"CREATE VIEW clicks AS SELECT * FROM read_csv('{data}', delim=';', header=true, all_varchar=true)")
db.execute(open("deploy/spark/sessions.duckdb.sql", encoding="utf-8").read())
for case in fixture:
    got = db.execute("SELECT session_hash(?, CAST(? AS UBIGINT))", [case["key"], str(case["seed"])]).fetchone()[0]
    if got != case["hash"]:
        problems.append(f"DuckDB: {case} gave hash {got}")
if problems:
    sys.exit("FAILED: the session hash differs from hashlib's:\n" + "\n".join(problems))
print(f"(a) Spark and DuckDB hash the {len(fixture)} fixture keys as hashlib does")

# DuckDB's sample of the same file.
db.execute("SET VARIABLE fraction = 0.5")
db.execute(f"COPY sessions TO '{out}/duckdb-half.parquet' (FORMAT parquet, COMPRESSION snappy)")

# Each session's rows in one part file, in click order.
def keys(path):
    return {r[0] for r in spark.read.parquet(path).select(F.trim("session ID")).distinct().collect()}
spread = spark.read.parquet(f"{out}/spark-half").withColumn("file", F.input_file_name()) \
    .groupBy("session ID").agg(F.countDistinct("file").alias("files")).where("files > 1").count()
if spread:
    sys.exit(f"FAILED: {spread} sessions have rows in more than one part file")
half_spark, half_duck = keys(f"{out}/spark-half"), keys(f"{out}/duckdb-half.parquet")
if half_spark != half_duck:
    sys.exit(f"FAILED: Spark kept {len(half_spark)} sessions, DuckDB {len(half_duck)}, {len(half_spark ^ half_duck)} not in both")
with open(f"{out}/kept", "w") as f:
    f.write(f"{len(keys(f'{out}/spark-1'))} {len(half_spark)}\n")
print(f"Spark and DuckDB kept the same {len(half_spark)} sessions at fraction 0.5 ({time.time() - began:.0f} s)")
spark.stop()
PY
read -r all half < "$out/kept"

train() { # NAME DATA [ARGS]: trains into $out/NAME, prints its seconds
  local name=$1 input=$2; shift 2
  local t=$(date +%s)
  "$bin" train --data "$input" --models "$out/$name" --quiet "$@" >"$out/$name.log" 2>&1 \
    || { cat "$out/$name.log" >&2; exit 1; }
  echo "train $name: $(( $(date +%s) - t )) s; $(tail -1 "$out/$name.log")"
}
same_weights() { # A B WHAT
  for model in convert revenue segment; do
    if ! cmp -s "$out/$1/$model/1/weights.json" "$out/$2/$model/1/weights.json"; then
      echo "FAILED: $model's weights differ: $3" >&2
      exit 1
    fi
  done
}
kept() { "$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sample"]["sessions_kept"])' "$out/$1/report.json"; }

train csv "$data"
train spark-1 "$out/spark-1"
[ "$(kept spark-1)" = "$all" ] || { echo "FAILED: train read $(kept spark-1) sessions of Spark's $all" >&2; exit 1; }
same_weights csv spark-1 "Spark's output at fraction 1 against the CSV"
echo "(b) at fraction 1, Spark's $all sessions train the CSV's weights, byte for byte"

train csv-half "$data" --sample-fraction 0.5
train shuffled-half "$out/shuffled.csv" --sample-fraction 0.5
train spark-half "$out/spark-half"
train duckdb-half "$out/duckdb-half.parquet"
for name in csv-half shuffled-half spark-half duckdb-half; do
  [ "$(kept "$name")" = "$half" ] || { echo "FAILED: $name kept $(kept "$name") sessions, Spark $half" >&2; exit 1; }
done
statistics() { "$venv/bin/python" -c 'import json,sys; s=json.load(open(sys.argv[1]))["sample"]["statistics"]; print(s if isinstance(s, str) else next(iter(s)))' "$out/$1/report.json"; }
for name in csv-half shuffled-half; do
  [ "$(statistics $name)" = whole_stream ] || { echo "FAILED: $name's statistics: $(statistics $name)" >&2; exit 1; }
done
same_weights csv-half shuffled-half "train --sample-fraction 0.5 on the CSV against the shuffled copy"
same_weights spark-half duckdb-half "Spark's 0.5 of the shuffled copy against DuckDB's 0.5"
echo "(c) at fraction 0.5, --sample-fraction (on the CSV and the shuffled copy), Spark (on the shuffled copy) and DuckDB keep the same $half sessions; the CSV and the shuffled copy train the same weights from every session, Spark's and DuckDB's samples the same weights from theirs"
echo "ok in $(( $(date +%s) - start )) s"
