-- reference for tumble_interval_string: TUMBLE with an INTERVAL '90 seconds' string literal (windows aligned to the epoch in 90 s steps)
SELECT epoch_ms(epoch_ms(event_time) // 90000 * 90000) AS window_start,
       count(*) AS cnt,
       sum(amount) AS total
FROM read_parquet('../../data/events/*.parquet')
GROUP BY 1
