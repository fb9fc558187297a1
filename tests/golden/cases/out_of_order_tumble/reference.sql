-- reference for out_of_order_tumble: events out of order by up to 4 s (watermark_delay 5s) in two overlapping files still land in their own 10-second windows
SELECT k, count(*) AS cnt, CAST(sum(v) AS BIGINT) AS v_sum, min(event_time) AS first_seen,
       max(event_time) AS last_seen, epoch_ms(epoch_ms(event_time) // 10000 * 10000) AS window_start
FROM read_parquet('../../data/disorder/*.parquet')
GROUP BY k, epoch_ms(event_time) // 10000
