-- reference for tumble_multi_keys: two nullable GROUP BY keys (string and bool) next to a 10-minute TUMBLE
SELECT service_type, is_promo, count(*) AS cnt, sum(amount) AS total,
       epoch_ms(epoch_ms(event_time) // 600000 * 600000) AS window_start
FROM read_parquet('../../data/events/*.parquet')
GROUP BY ALL
