-- reference for with_cte: WITH - two chained CTEs (filter, then filter again with SELECT *) feeding a windowed aggregate
SELECT customer_id, count(*) AS big_orders, sum(amount) AS big_total,
       epoch_ms((epoch_ms(event_time) // 600000 + 1) * 600000) AS window_end
FROM read_parquet('../../data/events/*.parquet')
WHERE amount >= 50 AND customer_id IS NOT NULL
GROUP BY customer_id, epoch_ms(event_time) // 600000
