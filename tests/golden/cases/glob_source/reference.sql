-- reference for glob_source: a bounded source given as a glob (part-*.parquet); keyless 5-minute count per is_promo
SELECT is_promo, count(*) AS cnt, epoch_ms(epoch_ms(event_time) // 300000 * 300000) AS window_start
FROM read_parquet('../../data/events/part-*.parquet')
GROUP BY ALL
