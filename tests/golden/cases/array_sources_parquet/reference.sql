-- reference for array_sources_parquet: one-minute tumbling windows per customer over list and map columns
WITH b AS (
  SELECT *, epoch_ms(event_time) AS t FROM read_parquet('../../data/baskets/*.parquet')
)
SELECT customer_id,
       count(*) AS baskets,
       sum(CASE WHEN prices IS NOT NULL THEN coalesce(list_sum(prices), 0.0) END) AS spend,
       CAST(sum(len(items)) AS BIGINT) AS n_items,
       CAST(sum(qty['apple']) AS BIGINT) AS apples,
       list(items[1] ORDER BY t, items[1]) FILTER (WHERE items[1] IS NOT NULL) AS first_items,
       list_reverse(list(CAST(cardinality(qty) AS BIGINT) ORDER BY t DESC, cardinality(qty) DESC) FILTER (WHERE qty IS NOT NULL)[1:2]) AS last_sizes,
       epoch_ms(t // 60000 * 60000 + 60000) AS window_end
FROM b
GROUP BY t // 60000, customer_id
