-- reference for hop_1m_5m: HOP(slide 1 min, size 5 min) per service_type with HOP_START and HOP_END; each event is in 5 windows
WITH w AS (
  SELECT e.service_type, e.amount, (epoch_ms(e.event_time) // 60000 - r.j) * 60000 AS ws
  FROM read_parquet('../../data/events/*.parquet') AS e CROSS JOIN range(5) AS r(j)
)
SELECT service_type, epoch_ms(ws) AS window_start, epoch_ms(ws + 300000) AS window_end,
       count(*) AS cnt, sum(amount) AS total
FROM w GROUP BY service_type, ws
