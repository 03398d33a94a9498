-- GA4's BigQuery event export, flattened to what clickstream reads: one row per product
-- view (a `view_item` event's item), keyed by user_pseudo_id and the ga_session_id event
-- parameter, ordered by session and time. examples/ga4/README.md explains the mapping.
--
-- Runs unchanged in BigQuery (GoogleSQL) and DuckDB: it reads a relation named
-- `ga4_events` with the export's columns. In BigQuery, make it a view over the export once:
--   CREATE VIEW `my-project.analytics_123456789.ga4_events` AS
--     SELECT * FROM `my-project.analytics_123456789.events_*`;
-- then `bq query --use_legacy_sql=false --dataset_id=my-project:analytics_123456789 < flatten.sql`
-- (or write the export's table name in place of ga4_events). In DuckDB, ga4_events is
-- the export read from JSON (examples/ga4/duckdb-events.sql).
SELECT *
FROM (
  SELECT
    e.user_pseudo_id AS user_pseudo_id,
    (SELECT p.value.int_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'ga_session_id')
      AS ga_session_id,
    e.event_timestamp AS event_timestamp,
    item.item_id AS item_id,
    item.item_category AS item_category,
    item.price AS price,
    e.device.category AS device
  FROM ga4_events AS e, UNNEST(e.items) AS item
  WHERE e.event_name = 'view_item'
) AS views
-- A hit without ga_session_id (some Measurement Protocol hits) belongs to no session.
WHERE ga_session_id IS NOT NULL
-- The items of one event share its time: item_id orders them the same way in both engines.
ORDER BY user_pseudo_id, ga_session_id, event_timestamp, item_id
