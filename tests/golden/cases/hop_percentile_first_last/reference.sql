-- reference for hop_percentile_first_last: every 3-minute window [ws, ws + 3 min) with ws a multiple of 1 minute that holds an event
WITH e AS (SELECT *, epoch_ms(event_time) AS t FROM read_parquet('../../data/events/*.parquet')),
wins AS (
  SELECT unnest(generate_series(min(t) // 60000 * 60000 - 180000, max(t), 60000)) AS ws FROM e
)
SELECT e.customer_id,
       count(DISTINCT e.service_type) AS uniq_services,
       quantile_cont(e.amount, 0.5) AS median_amount,
       quantile_cont(e.amount, 0.75) AS p75_amount,
       CAST(quantile_cont(e.status::DOUBLE, 0.4) AS DOUBLE) AS p40_status,
       first(e.amount ORDER BY e.t, e.amount) FILTER (WHERE e.amount IS NOT NULL) AS first_amount,
       first(e.amount ORDER BY e.t DESC, e.amount DESC) FILTER (WHERE e.amount IS NOT NULL) AS last_amount,
       first(e.service_type ORDER BY e.t, e.service_type) FILTER (WHERE e.service_type IS NOT NULL) AS first_service,
       first(e.status ORDER BY e.t DESC, e.status DESC) FILTER (WHERE e.status IS NOT NULL) AS last_status,
       epoch_ms(wins.ws + 180000) AS window_end
FROM wins JOIN e ON e.t >= wins.ws AND e.t < wins.ws + 180000
GROUP BY wins.ws, e.customer_id
