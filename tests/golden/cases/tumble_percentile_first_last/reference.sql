-- reference for tumble_percentile_first_last: DISTINCT_COUNT = count(DISTINCT), PERCENTILE = quantile_cont, FIRST_VALUE/LAST_VALUE = first(x ORDER BY time, x) over non-NULL x (ties by value)
SELECT service_type,
       count(DISTINCT customer_id) AS uniq_customers,
       count(DISTINCT note) AS uniq_notes,
       count(DISTINCT note) AS uniq_notes_dagger,
       quantile_cont(amount, 0.5) AS median_amount,
       quantile_cont(amount, 0.9) AS p90_amount,
       quantile_cont(amount, 0.0) AS p0_amount,
       quantile_cont(amount, 1.0) AS p100_amount,
       CAST(quantile_cont(status::DOUBLE, 0.25) AS DOUBLE) AS p25_status,
       first(amount ORDER BY event_time, amount) FILTER (WHERE amount IS NOT NULL) AS first_amount,
       first(amount ORDER BY event_time DESC, amount DESC) FILTER (WHERE amount IS NOT NULL) AS last_amount,
       first(note ORDER BY event_time, note) FILTER (WHERE note IS NOT NULL) AS first_note,
       first(order_id ORDER BY event_time DESC, order_id DESC) FILTER (WHERE order_id IS NOT NULL) AS last_order,
       first(is_promo ORDER BY event_time DESC, is_promo DESC) FILTER (WHERE is_promo IS NOT NULL) AS last_promo,
       min(event_time) AS first_time,
       epoch_ms((epoch_ms(event_time) // 300000 + 1) * 300000) AS window_end
FROM read_parquet('../../data/events/*.parquet')
GROUP BY service_type, epoch_ms(event_time) // 300000
