-- reference for group_by_expression: an expression (customer_id % 3) as GROUP BY key next to TUMBLE; NULL customer gives a NULL bucket
WITH e AS (
  SELECT customer_id - 3 * (customer_id // 3) AS bucket, amount, epoch_ms(event_time) // 300000 AS w
  FROM read_parquet('../../data/events/*.parquet')
)
SELECT bucket, count(*) AS cnt, sum(amount) AS total, epoch_ms((w + 1) * 300000) AS window_end
FROM e GROUP BY bucket, w
