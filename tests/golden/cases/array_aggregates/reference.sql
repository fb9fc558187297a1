-- reference for array_aggregates: every 3-minute window [ws, ws + 3 min) with ws a multiple of 1 minute that holds an event
WITH e AS (SELECT *, epoch_ms(event_time) AS t FROM read_parquet('../../data/events/*.parquet')),
wins AS (
  SELECT unnest(generate_series(min(t) // 60000 * 60000 - 180000, max(t), 60000)) AS ws FROM e
),
g AS (
  SELECT e.customer_id,
         list(e.status ORDER BY e.t, e.status) FILTER (WHERE e.status IS NOT NULL) AS statuses,
         list(e.service_type ORDER BY e.t, e.service_type) FILTER (WHERE e.service_type IS NOT NULL) AS services,
         list(e.amount ORDER BY e.t DESC, e.amount DESC) FILTER (WHERE e.amount IS NOT NULL) AS amounts_desc,
         list(e.status ORDER BY e.status DESC) FILTER (WHERE e.status IS NOT NULL) AS statuses_desc,
         list(e.status ORDER BY e.t DESC, e.status DESC) FILTER (WHERE e.status IS NOT NULL) AS statuses_latest,
         histogram(e.service_type) FILTER (WHERE e.service_type IS NOT NULL) AS service_counts,
         epoch_ms(wins.ws + 180000) AS window_end
  FROM wins JOIN e ON e.t >= wins.ws AND e.t < wins.ws + 180000
  GROUP BY wins.ws, e.customer_id
)
SELECT customer_id,
       statuses,
       services,
       list_reverse(amounts_desc[1:2]) AS last_amounts,
       statuses_desc[1:3] AS top_statuses,
       CASE WHEN cardinality(service_counts) > 0 THEN CAST(service_counts AS MAP(VARCHAR, BIGINT)) END AS service_counts,
       statuses_latest[1] AS latest_status,
       window_end
FROM g
