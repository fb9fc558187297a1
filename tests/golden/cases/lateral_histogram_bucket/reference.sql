-- reference for lateral_histogram_bucket: a row '+Inf' per non-NULL amount, and a row per bound the amount is at most
WITH e AS (SELECT *, epoch_ms(event_time) AS t FROM read_parquet('../../data/events/*.parquet') WHERE amount IS NOT NULL),
bounds(b, v) AS (VALUES ('0', 0.0), ('10', 10.0), ('50', 50.0), ('100.5', 100.5), ('1000', 1000.0)),
b AS (
  SELECT e.service_type, e.t, '+Inf' AS bucket FROM e
  UNION ALL
  SELECT e.service_type, e.t, bounds.b AS bucket FROM e JOIN bounds ON e.amount <= bounds.v
)
SELECT service_type, bucket, count(*) AS n, epoch_ms(t // 300000 * 300000 + 300000) AS window_end
FROM b
GROUP BY t // 300000, service_type, bucket
