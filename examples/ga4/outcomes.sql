-- The outcomes file clickstream trains with (`session_id,converted,revenue`, one row per
-- session; docs/label-contract.md), from the same GA4 export: every session that
-- flatten.sql gives product views, converted when the session holds a `purchase` event,
-- its revenue the purchased items' price x quantity (in the property's currency, as
-- items.price). The session id is the schema's composite key, user_pseudo_id and
-- ga_session_id joined with "/". Runs unchanged in BigQuery and DuckDB over `ga4_events`
-- (see flatten.sql's header); tests/ga4/run.sh runs it on the fixture.
WITH views AS (
  SELECT DISTINCT
    e.user_pseudo_id AS user_pseudo_id,
    (SELECT p.value.int_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'ga_session_id')
      AS ga_session_id
  FROM ga4_events AS e
  WHERE e.event_name = 'view_item'
),
purchases AS (
  SELECT
    e.user_pseudo_id AS user_pseudo_id,
    (SELECT p.value.int_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'ga_session_id')
      AS ga_session_id,
    item.price * item.quantity AS amount
  FROM ga4_events AS e, UNNEST(e.items) AS item
  WHERE e.event_name = 'purchase'
)
SELECT
  CONCAT(v.user_pseudo_id, '/', CAST(v.ga_session_id AS STRING)) AS session_id,
  CASE WHEN COUNT(p.amount) > 0 THEN 1 ELSE 0 END AS converted,
  ROUND(COALESCE(SUM(p.amount), 0), 2) AS revenue
FROM views AS v
LEFT JOIN purchases AS p
  ON p.user_pseudo_id = v.user_pseudo_id AND p.ga_session_id = v.ga_session_id
-- As in flatten.sql: a hit without ga_session_id belongs to no session.
WHERE v.ga_session_id IS NOT NULL
GROUP BY v.user_pseudo_id, v.ga_session_id
ORDER BY session_id
