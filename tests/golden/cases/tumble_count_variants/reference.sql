-- reference for tumble_count_variants: COUNT(*), COUNT(col) (non-null) and COUNT(DISTINCT col) (non-null distinct) over int, string and bool columns
WITH e AS (SELECT *, epoch_ms(event_time) // 600000 AS w FROM read_parquet('../../data/events/*.parquet'))
SELECT count(*) AS n_rows,
       count(*) FILTER (WHERE amount IS NOT NULL) AS n_amount,
       count(*) FILTER (WHERE customer_id IS NOT NULL) AS n_customer,
       (SELECT count(*) FROM (SELECT DISTINCT customer_id FROM e e2 WHERE e2.w = e.w AND customer_id IS NOT NULL)) AS n_distinct_customers,
       count(DISTINCT service_type) AS n_distinct_services,
       count(DISTINCT note) AS n_distinct_notes,
       count(DISTINCT is_promo) AS n_distinct_promo,
       epoch_ms((w + 1) * 600000) AS window_end
FROM e
GROUP BY w
