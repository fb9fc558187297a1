-- reference for join_users_left: LEFT JOIN of a stream with a bounded table - unmatched and NULL keys keep the row with NULL table columns
WITH e AS (SELECT * FROM read_parquet('../../data/events/*.parquet') WHERE epoch_ms(event_time) < 1704067200000 + 8 * 60000),
matched AS (
  SELECT e.order_id, e.customer_id, u.id AS user_id, u.country, u.tier
  FROM e JOIN read_parquet('../../data/users/users.parquet') AS u ON e.customer_id = u.id
)
SELECT * FROM matched
UNION ALL
SELECT order_id, customer_id, NULL, NULL, NULL FROM e
WHERE order_id NOT IN (SELECT order_id FROM matched)
