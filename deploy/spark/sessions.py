"""Raw click exports -> session-sampled, session-ordered Parquet that `clickstream train` reads.

The heavy part of a shop's volume, done where the data already is: keep the sessions the
session hash puts below --fraction (docs/sampling.md: the trainer's `--sample-fraction`
keeps exactly the same ones), optionally only those whose first click falls in a date
range, and write them as Parquet part files in which each session's rows sit together, in
click order, in one file. `clickstream train --data OUTPUT_FOLDER` reads the folder.

    spark-submit deploy/spark/sessions.py --input clicks.csv --output sessions/ --fraction 0.1

The defaults read the UCI layout (`;`-separated, header, `session ID`, `order`, `year`,
`month`, `day`); docs in deploy/spark/README.md. sessions.duckdb.sql and
sessions.bigquery.sql are the same query for DuckDB and BigQuery.
"""

import argparse
import sys

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

# The session hash (docs/sampling.md, src/domain/sample.rs): the first 13 hex digits of
# MD5("{seed}:{key}"), a whole number below 2^52. 52 bits fit Spark's signed bigint and a
# double exactly, so value / 2^52 compared with the fraction is the trainer's comparison.
HASH_HEX_DIGITS = 13
HASH_RANGE = float(2**52)
DEFAULT_SEED = 2008


def session_key(parts: list) -> Column:
    """The session's key as the trainer names it: each key column's text, trimmed, joined
    with "/" (a shop's composite key, docs/schema.md); one column is its text alone."""
    texts = [F.trim((F.col(p) if isinstance(p, str) else p).cast("string")) for p in parts]
    return texts[0] if len(texts) == 1 else F.concat_ws("/", *texts)


def session_hash(key: Column, seed: int) -> Column:
    digest = F.md5(F.concat(F.lit(f"{seed}:"), key))
    return F.conv(F.substring(digest, 1, HASH_HEX_DIGITS), 16, 10).cast("bigint")


def session_unit(key: Column, seed: int) -> Column:
    """The session's place in [0, 1): hash / 2^52, exact in a double."""
    return session_hash(key, seed).cast("double") / F.lit(HASH_RANGE)


def click_day(clicks: DataFrame, date_columns: list) -> Column:
    """The click's calendar day: one date (or timestamp) column, or year, month, day."""
    if len(date_columns) == 1:
        return F.to_date(F.col(date_columns[0]))
    year, month, day = (F.col(c).cast("int") for c in date_columns)
    return F.make_date(year, month, day)


def sessions(
    clicks: DataFrame,
    key_columns: list,
    order_columns: list,
    date_columns: list,
    fraction: float = 1.0,
    seed: int = DEFAULT_SEED,
    date_from: str = None,
    date_to: str = None,
    partitions: int = 8,
) -> DataFrame:
    """The clicks of the sampled sessions, each session in one partition, in click order."""
    key = session_key(key_columns)
    keyed = clicks.withColumn("_session_key", key)
    # A row naming no session belongs to none; the trainer would refuse it.
    keyed = keyed.where(F.col("_session_key").isNotNull() & (F.col("_session_key") != ""))
    if fraction < 1.0:
        keyed = keyed.where(session_unit(F.col("_session_key"), seed) < F.lit(float(fraction)))
    if date_from or date_to:
        # Whole sessions, placed on the day of their first click as the trainer's split
        # places them: a session is never cut at the range's edge.
        first_day = F.min(click_day(keyed, date_columns)).over(Window.partitionBy("_session_key"))
        keyed = keyed.withColumn("_first_day", first_day)
        if date_from:
            keyed = keyed.where(F.col("_first_day") >= F.to_date(F.lit(date_from)))
        if date_to:
            keyed = keyed.where(F.col("_first_day") <= F.to_date(F.lit(date_to)))
        keyed = keyed.drop("_first_day")
    # Numbers sort as numbers (order 10 after 9), anything else as text.
    order = [c for col in order_columns for c in (F.col(col).cast("double"), F.col(col))]
    return (
        keyed.repartition(partitions, "_session_key")
        .sortWithinPartitions(F.length("_session_key"), "_session_key", *order)
        .drop("_session_key")
    )


def read(spark: SparkSession, paths: list, fmt: str, separator: str) -> DataFrame:
    if fmt == "auto":
        fmt = "parquet" if all(is_parquet(p) for p in paths) else "csv"
    if fmt == "parquet":
        return spark.read.parquet(*paths)
    # Every cell as text, as the trainer reads CSV: no type inference to turn 0012 into 12.
    return spark.read.csv(list(paths), sep=separator, header=True, inferSchema=False, encoding="UTF-8")


def is_parquet(path: str) -> bool:
    """Told by content as the trainer tells it: a file starting with PAR1, or a folder
    whose first data file does; a path that is not local (hdfs://, gs://) by its name."""
    import os

    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if not n.startswith((".", "_")))
        return bool(names) and is_parquet(os.path.join(path, names[0]))
    if not os.path.exists(path):
        return path.rstrip("/").endswith(".parquet")
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def columns(text: str) -> list:
    return [c.strip() for c in text.split(",") if c.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True, help="a CSV or Parquet file or folder; repeat for several")
    parser.add_argument("--output", required=True, help="the folder of Parquet part files to write (replaced)")
    parser.add_argument("--format", choices=["auto", "csv", "parquet"], default="auto", help="the input's format (auto: Parquet by content, else CSV)")
    parser.add_argument("--separator", default=";", help="the CSV separator (the UCI file's ;)")
    parser.add_argument("--session-columns", default="session ID", help="the session key's column(s), comma-separated, in the schema's order")
    parser.add_argument("--order-columns", default="order", help="the columns giving click order within a session (order, or a timestamp)")
    parser.add_argument("--date-columns", default="year,month,day", help="year,month,day columns, or one date or timestamp column")
    parser.add_argument("--fraction", type=float, default=1.0, help="keep the sessions whose hash is below this (0 < F <= 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the session hash's seed (train --sample-seed)")
    parser.add_argument("--from", dest="date_from", help="keep sessions whose first click is on or after this day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="date_to", help="keep sessions whose first click is on or before this day (YYYY-MM-DD)")
    parser.add_argument("--partitions", type=int, default=8, help="part files to write")
    parser.add_argument("--master", default=None, help="Spark master when not run by spark-submit (e.g. local[2])")
    parser.add_argument("--quiet", action="store_true", help="errors only: no progress bars or warnings")
    args = parser.parse_args(argv)
    if not 0.0 < args.fraction <= 1.0:
        parser.error(f"--fraction {args.fraction} is not above 0 and at most 1")
    if args.seed < 0 or args.seed >= 2**64:
        parser.error(f"--seed {args.seed} is not a whole number from 0 to 2^64 - 1")
    date_columns = columns(args.date_columns)
    if len(date_columns) not in (1, 3):
        parser.error("--date-columns takes one date column or year,month,day")

    builder = SparkSession.builder.appName("clickstream-sessions")
    if args.master:
        builder = builder.master(args.master)
    if args.quiet:
        builder = builder.config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    if args.quiet:
        spark.sparkContext.setLogLevel("ERROR")
    clicks = read(spark, args.input, args.format, args.separator)
    missing = [c for c in columns(args.session_columns) + columns(args.order_columns) if c not in clicks.columns]
    if missing:
        print(f"sessions.py: the input has no column {', '.join(map(repr, missing))}; it has {', '.join(clicks.columns)}", file=sys.stderr)
        return 2
    out = sessions(
        clicks,
        columns(args.session_columns),
        columns(args.order_columns),
        date_columns,
        fraction=args.fraction,
        seed=args.seed,
        date_from=args.date_from,
        date_to=args.date_to,
        partitions=args.partitions,
    )
    out.write.mode("overwrite").option("compression", "snappy").parquet(args.output)
    written = spark.read.parquet(args.output)
    kept = written.select(session_key(columns(args.session_columns))).distinct().count()
    print(f"sessions.py: {written.count()} clicks of {kept} sessions written to {args.output} (fraction {args.fraction}, seed {args.seed})")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
