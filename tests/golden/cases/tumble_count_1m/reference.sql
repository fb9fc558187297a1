-- reference for tumble_count_1m: COUNT(*) per customer (NULL customer is its own group) in 1-minute TUMBLE windows with TUMBLE_END
WITH e AS (
  SELECT customer_id, epoch_ms(event_time) // 60000 AS w
  FROM read_parquet('../../data/events/*.parquet')
)
SELECT customer_id, COUNT(*) AS cnt, epoch_ms((w + 1) * 60000) AS window_end
FROM e
GROUP BY customer_id, w
