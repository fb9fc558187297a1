-- reference for empty_input_aggregate: a windowed aggregate over a dataset whose only file has zero rows emits nothing
SELECT customer_id, count(*) AS cnt, sum(amount) AS total,
       epoch_ms((epoch_ms(event_time) // 60000 + 1) * 60000) AS window_end
FROM read_parquet('../../data/empty/*.parquet')
GROUP BY customer_id, epoch_ms(event_time) // 60000
