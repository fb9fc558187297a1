-- reference for rowtime_alias_select: the `rowtime` alias in a per-event SELECT list and WHERE clause, with interval arithmetic
SELECT order_id, event_time AS ts, event_time + INTERVAL 1 MINUTE AS ts_plus_1m
FROM read_parquet('../../data/events/*.parquet')
WHERE event_time >= TIMESTAMPTZ '2024-01-01 00:10:00' AND event_time < TIMESTAMPTZ '2024-01-01 00:13:00'
