-- The same query as sessions.py, for DuckDB (1.1 or later): the clicks of the sessions the
-- session hash keeps (docs/sampling.md), optionally only sessions whose first click falls
-- in a date range, each session's rows together in click order. It reads the view
-- `clicks` and defines the view `sessions`; the caller names the input and the output:
--
--   duckdb -c "SET VARIABLE fraction = 0.5; SET VARIABLE seed = 2008;
--              CREATE VIEW clicks AS SELECT * FROM read_csv('clicks.csv', delim=';', header=true, all_varchar=true);" \
--          -c ".read deploy/spark/sessions.duckdb.sql" \
--          -c "COPY sessions TO 'sessions.parquet' (FORMAT parquet, COMPRESSION snappy)"
--
-- Variables (unset ones take the default): fraction (1), seed (2008), date_from and
-- date_to ('YYYY-MM-DD', none). The UCI layout by default: for another, change the three
-- marked lines of `keyed` (a composite key: concat_ws('/', trim(a), trim(b))).

-- The session hash: the first 13 hex digits of MD5('{seed}:{key}'), below 2^52.
CREATE OR REPLACE MACRO session_hash(key, seed) AS
    CAST('0x' || substr(md5(CAST(seed AS VARCHAR) || ':' || key), 1, 13) AS BIGINT);
-- Its place in [0, 1): hash / 2^52, exact in a double.
CREATE OR REPLACE MACRO session_unit(key, seed) AS
    CAST(session_hash(key, seed) AS DOUBLE) / 4503599627370496.0;

CREATE OR REPLACE VIEW sessions AS
WITH keyed AS (
    SELECT
        *,
        trim(CAST("session ID" AS VARCHAR)) AS _session_key,                     -- the key
        make_date(CAST(year AS INTEGER), CAST(month AS INTEGER), CAST(day AS INTEGER)) AS _day, -- the day
        TRY_CAST("order" AS DOUBLE) AS _click_order                              -- click order
    FROM clicks
),
sampled AS (
    SELECT *
    FROM keyed
    WHERE _session_key IS NOT NULL AND _session_key <> ''
      AND session_unit(_session_key, coalesce(getvariable('seed'), 2008))
          < CAST(coalesce(getvariable('fraction'), 1) AS DOUBLE)
),
-- Whole sessions, placed on the day of their first click as the trainer's split places them.
dated AS (
    SELECT *, min(_day) OVER (PARTITION BY _session_key) AS _first_day
    FROM sampled
)
SELECT * EXCLUDE (_session_key, _day, _click_order, _first_day)
FROM dated
WHERE (getvariable('date_from') IS NULL OR _first_day >= CAST(getvariable('date_from') AS DATE))
  AND (getvariable('date_to') IS NULL OR _first_day <= CAST(getvariable('date_to') AS DATE))
ORDER BY length(_session_key), _session_key, _click_order;
