-- reference for tumble_sum_avg_min_max: SUM/AVG/MIN/MAX/COUNT of a nullable float per service_type (NULL key included) in 10-minute windows
WITH e AS (SELECT *, (epoch_ms(event_time) // 600000) * 600000 AS ws FROM read_parquet('../../data/events/*.parquet'))
SELECT service_type,
       epoch_ms(ws) AS window_start,
       count(amount) AS n_amount,
       sum(amount) AS total,
       sum(amount) / count(amount) AS mean,
       min(amount) AS lo,
       max(amount) AS hi
FROM e
GROUP BY service_type, ws
