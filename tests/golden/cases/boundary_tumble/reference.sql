-- reference for boundary_tumble: events exactly on and 1 ms before minute boundaries - [start, end) with end exclusive; the empty minute is not emitted
WITH wins AS (SELECT unnest(generate_series(TIMESTAMPTZ '2024-01-01 00:00:00', TIMESTAMPTZ '2024-01-01 00:10:00', INTERVAL 1 MINUTE)) AS ws)
SELECT ws AS window_start, ws + INTERVAL 1 MINUTE AS window_end, count(*) AS cnt, CAST(sum(v) AS BIGINT) AS v_sum,
       min(event_time) AS first_seen, max(event_time) AS last_seen
FROM wins JOIN read_parquet('../../data/boundary/*.parquet') AS e ON e.event_time >= ws AND e.event_time < ws + INTERVAL 1 MINUTE
GROUP BY ws
