-- reference for old_events_hop: HOP(30 s, 1 min) per sensor over events before and across the 1970 epoch (negative window starts)
WITH e AS (SELECT *, epoch_ms(event_time) AS t FROM read_parquet('../../data/old_events/*.parquet')),
w AS (
  SELECT e.sensor, e.value, (e.t - (((e.t % 30000) + 30000) % 30000)) - r.j * 30000 AS ws
  FROM e CROSS JOIN (VALUES (0), (1)) AS r(j)
)
SELECT sensor, epoch_ms(ws) AS window_start, count(*) AS cnt, max(value) AS max_value
FROM w GROUP BY sensor, ws
