-- reference for mixed_feature_pipeline: bigger mix - CTE with LEFT JOIN + COALESCE, HOP(5 min, 10 min) by two keys, several aggregates, HAVING
WITH enriched AS (
  SELECT epoch_ms(e.event_time) AS t, e.customer_id, e.amount, e.service_type, coalesce(u.tier, 'none') AS tier
  FROM read_parquet('../../data/events/*.parquet') AS e LEFT JOIN read_parquet('../../data/users/users.parquet') AS u ON e.customer_id = u.id
  WHERE e.amount IS NOT NULL AND e.customer_id IS NOT NULL
),
wins AS (SELECT unnest(generate_series(1704067200000 - 600000, 1704067200000 + 3600000, 300000)) AS ws)
SELECT customer_id, tier, count(*) AS orders_10m, sum(amount) AS gmv_10m, avg(amount) AS avg_ticket_10m,
       max(amount) - min(amount) AS amount_range_10m, count(DISTINCT service_type) AS services_10m,
       epoch_ms(ws + 600000) AS window_end
FROM enriched JOIN wins ON ws > t - 600000 AND ws <= t
GROUP BY customer_id, tier, ws
HAVING count(*) >= 2
