-- reference for params_map_threshold: a one-entry map param (t with key big and value 100) used as [t.key] in a column name and [t.value] in a predicate
SELECT customer_id, count(*) AS big_orders,
       epoch_ms((epoch_ms(event_time) // 600000 + 1) * 600000) AS window_end
FROM read_parquet('../../data/events/*.parquet') WHERE amount > 100
GROUP BY customer_id, epoch_ms(event_time) // 600000
