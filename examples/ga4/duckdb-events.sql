-- GA4's BigQuery export as DuckDB reads it from the export's newline-delimited JSON
-- (`bq extract --destination_format NEWLINE_DELIMITED_JSON`): the columns flatten.sql and
-- the fixture use, with BigQuery's types (INT64 arrives as JSON strings; the declared
-- BIGINT reads them as numbers, as BigQuery's own table has them). Other fields of the
-- export are ignored. `{fixture}` is replaced with the file's path by tests/ga4/run.sh.
CREATE VIEW ga4_events AS
SELECT *
FROM read_json('{fixture}', format = 'newline_delimited', columns = {
  'event_date': 'VARCHAR',
  'event_timestamp': 'BIGINT',
  'event_name': 'VARCHAR',
  'event_params': 'STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, int_value BIGINT, float_value DOUBLE, double_value DOUBLE))[]',
  'user_pseudo_id': 'VARCHAR',
  'user_id': 'VARCHAR',
  'device': 'STRUCT(category VARCHAR, mobile_brand_name VARCHAR, operating_system VARCHAR, language VARCHAR)',
  'geo': 'STRUCT(country VARCHAR, city VARCHAR)',
  'items': 'STRUCT(item_id VARCHAR, item_name VARCHAR, item_brand VARCHAR, item_variant VARCHAR, item_category VARCHAR, item_category2 VARCHAR, item_category3 VARCHAR, item_category4 VARCHAR, item_category5 VARCHAR, price_in_usd DOUBLE, price DOUBLE, quantity BIGINT, item_revenue_in_usd DOUBLE, item_revenue DOUBLE, item_list_index VARCHAR)[]'
});
