-- reference for subquery_filter_aggregate: an outer query filtering a windowed aggregate in an un-aliased FROM subquery (SELECT * ... WHERE cnt > 1)
SELECT customer_id, count(*) AS cnt, epoch_ms((epoch_ms(event_time) // 300000 + 1) * 300000) AS window_end
FROM read_parquet('../../data/events/*.parquet')
GROUP BY customer_id, epoch_ms(event_time) // 300000
HAVING count(*) > 1
