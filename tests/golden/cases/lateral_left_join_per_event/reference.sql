-- reference for lateral_left_join_per_event: the bound list depends on the row; 'x' is not a number and never matches
WITH e AS (SELECT * FROM read_parquet('../../data/events/*.parquet') WHERE status <> 3 OR status IS NULL),
bounds(promo, b, v) AS (VALUES (true, '5', 5.0), (true, '25', 25.0), (false, '20', 20.0), (false, '40', 40.0)),
rows AS (
  SELECT e.order_id, e.amount, '+Inf' AS le, e.event_time FROM e WHERE e.amount IS NOT NULL
  UNION ALL
  SELECT e.order_id, e.amount, bounds.b AS le, e.event_time
  FROM e JOIN bounds ON coalesce(e.is_promo, false) = bounds.promo AND e.amount <= bounds.v
  UNION ALL
  SELECT e.order_id, e.amount, NULL AS le, e.event_time FROM e WHERE e.amount IS NULL
)
SELECT order_id, amount, le, event_time FROM rows
