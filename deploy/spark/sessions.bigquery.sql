-- The same query as sessions.py, for BigQuery (GoogleSQL): the clicks of the sessions the
-- session hash keeps (docs/sampling.md), optionally only sessions whose first click falls
-- in a date range, exported as Parquet that `clickstream train --data FOLDER` reads once
-- the files are copied down (gsutil -m cp 'gs://BUCKET/sessions/*.parquet' sessions/).
--
--   bq query --use_legacy_sql=false \
--     --parameter=seed:INT64:2008 --parameter=fraction:FLOAT64:0.1 \
--     --parameter=date_from:DATE:2026-01-01 --parameter=date_to:DATE:2026-03-31 \
--     < deploy/spark/sessions.bigquery.sql
--
-- A date parameter given as NULL (--parameter=date_from:DATE:NULL) leaves that end open.
-- Replace `project.dataset.clicks` and the bucket. The UCI layout by default: for another,
-- change the three marked lines (a composite key, GA4 flattened by examples/ga4/flatten.sql:
-- CONCAT(TRIM(user_pseudo_id), '/', TRIM(CAST(ga_session_id AS STRING)))).
--
-- BigQuery's only integer is a signed INT64: 13 hex digits (52 bits) fit it, and a FLOAT64
-- holds them exactly, so the comparison is the trainer's. BigQuery splits the export into
-- files as it likes and may put one session's rows in two of them: `train` reads the folder
-- as one data set and groups rows by session, so that is fine for training (`score` needs
-- each session's rows together: export with one file, a URI without `*` is refused for
-- more than 1 GB, or run sessions.py or DuckDB on the export).

EXPORT DATA OPTIONS (
  uri = 'gs://BUCKET/sessions/part-*.parquet',
  format = 'PARQUET',
  compression = 'SNAPPY',
  overwrite = true
) AS
WITH keyed AS (
  SELECT
    *,
    TRIM(CAST(`session ID` AS STRING)) AS _session_key,                  -- the key
    DATE(CAST(year AS INT64), CAST(month AS INT64), CAST(day AS INT64)) AS _day, -- the day
    SAFE_CAST(`order` AS FLOAT64) AS _click_order                         -- click order
  FROM `project.dataset.clicks`
),
sampled AS (
  SELECT *
  FROM keyed
  WHERE _session_key IS NOT NULL AND _session_key != ''
    -- The session hash: the first 13 hex digits of MD5('{seed}:{key}'), over 2^52.
    AND CAST(CAST(CONCAT('0x', SUBSTR(TO_HEX(MD5(CONCAT(CAST(@seed AS STRING), ':', _session_key))), 1, 13)) AS INT64) AS FLOAT64)
        / 4503599627370496.0 < @fraction
),
dated AS (
  SELECT *, MIN(_day) OVER (PARTITION BY _session_key) AS _first_day
  FROM sampled
)
SELECT * EXCEPT (_session_key, _day, _click_order, _first_day)
FROM dated
WHERE (@date_from IS NULL OR _first_day >= @date_from)
  AND (@date_to IS NULL OR _first_day <= @date_to)
ORDER BY LENGTH(_session_key), _session_key, _click_order;
