-- reference for tumble_int_sum_avg: SUM of int64 stays int64, AVG of int64 is float64, MIN/MAX of int64, per customer in 10-minute windows
WITH e AS (SELECT *, epoch_ms(event_time) // 600000 AS w FROM read_parquet('../../data/events/*.parquet'))
SELECT customer_id,
       CAST(sum(status) AS BIGINT) AS status_sum,
       sum(status) / count(status) AS status_avg,
       min(status) AS status_min,
       max(status) AS status_max,
       epoch_ms((w + 1) * 600000) AS window_end
FROM e
GROUP BY customer_id, w
