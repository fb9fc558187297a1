-- reference for boundary_hop: HOP(30 s, 1 min) with events exactly on hop boundaries - an event at a window end belongs only to the windows starting there
WITH wins AS (SELECT unnest(generate_series(TIMESTAMPTZ '2023-12-31 23:59:00', TIMESTAMPTZ '2024-01-01 00:10:00', INTERVAL 30 SECOND)) AS ws)
SELECT ws AS window_start, ws + INTERVAL 1 MINUTE AS window_end, count(*) AS cnt, CAST(sum(v) AS BIGINT) AS v_sum,
       min(v) AS v_min, max(v) AS v_max
FROM wins JOIN read_parquet('../../data/boundary/*.parquet') AS e ON e.event_time >= ws AND e.event_time < ws + INTERVAL 1 MINUTE
GROUP BY ws
