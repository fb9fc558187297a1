-- reference for old_events_1969: TUMBLE over events before 1970 (negative epoch) - windows floor-align, 23:59:30 in 1969 is in [23:59, 00:00)
WITH e AS (
  SELECT *, epoch_ms(event_time) AS t,
         CAST(floor(epoch_ms(event_time) / 60000.0) AS BIGINT) * 60000 AS ws
  FROM read_parquet('../../data/old_events/*.parquet')
)
SELECT epoch_ms(ws) AS window_start, epoch_ms(ws + 60000) AS window_end, count(*) AS cnt,
       count(value) AS n_values, sum(value) AS value_sum, min(n) AS n_min, max(n) AS n_max
FROM e GROUP BY ws
