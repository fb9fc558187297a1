-- reference for hop_30s_2m_count_distinct: keyless HOP(slide 30 s, size 2 min) with COUNT(DISTINCT), MAX and COUNT(*)
WITH e AS (SELECT *, epoch_ms(event_time) AS t FROM read_parquet('../../data/events/*.parquet')),
wins AS (
  SELECT unnest(generate_series(min(t) // 30000 * 30000 - 120000, max(t), 30000)) AS ws FROM e
)
SELECT count(DISTINCT e.customer_id) AS uniq_customers,
       max(e.amount) AS max_amount,
       count(*) AS cnt,
       epoch_ms(wins.ws + 120000) AS window_end
FROM wins JOIN e ON e.t >= wins.ws AND e.t < wins.ws + 120000
GROUP BY wins.ws
