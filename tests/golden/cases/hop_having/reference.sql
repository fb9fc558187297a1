-- reference for hop_having: HOP(5 min, 10 min) per customer with HAVING on COUNT(*) and on an aggregate not in the SELECT list (MAX(status))
WITH w AS (
  SELECT e.customer_id, e.amount, e.status, (epoch_ms(e.event_time) // 300000 - r.j) * 300000 AS ws
  FROM read_parquet('../../data/events/*.parquet') AS e CROSS JOIN range(2) AS r(j)
)
SELECT customer_id, cnt, total, window_end FROM (
  SELECT customer_id, count(*) AS cnt, sum(amount) AS total, max(status) AS max_status,
         epoch_ms(ws + 600000) AS window_end
  FROM w GROUP BY customer_id, ws
) WHERE cnt >= 3 AND max_status >= 7
