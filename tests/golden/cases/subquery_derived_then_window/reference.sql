-- reference for subquery_derived_then_window: a derived table computing a CASE column, then a TUMBLE aggregate grouped by it (time attribute passes through)
SELECT coalesce(CASE WHEN amount < 0 THEN 'refund' WHEN amount < 100 THEN 'small' WHEN amount >= 100 THEN 'large' END, 'unknown') AS size_class,
       count(*) AS cnt,
       avg(amount) AS avg_amount,
       epoch_ms(epoch_ms(event_time) // 600000 * 600000) AS window_start
FROM read_parquet('../../data/events/*.parquet')
GROUP BY 1, 4
