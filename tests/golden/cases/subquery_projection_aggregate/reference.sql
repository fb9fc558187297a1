-- reference for subquery_projection_aggregate: an outer query computing expressions (float/int division, int arithmetic) over a windowed aggregate
WITH agg AS (
  SELECT customer_id, count(*) AS cnt, sum(amount) AS total,
         epoch_ms((epoch_ms(event_time) // 600000 + 1) * 600000) AS window_end
  FROM read_parquet('../../data/events/*.parquet')
  WHERE customer_id IS NOT NULL
  GROUP BY customer_id, epoch_ms(event_time) // 600000
)
SELECT customer_id, window_end, total / cnt AS avg_ticket, cnt * 10 AS cnt_x10, cnt // 2 AS half_cnt
FROM agg WHERE total IS NOT NULL
