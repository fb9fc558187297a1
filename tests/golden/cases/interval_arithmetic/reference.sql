-- reference for interval_arithmetic: timestamp +/- INTERVAL (HOUR, SECOND, DAY, '90 seconds'), TIMESTAMP and DATE literals in predicates
SELECT order_id, event_time,
       make_timestamp_ms(epoch_ms(event_time) + 3600000) AS plus_1h,
       make_timestamp_ms(epoch_ms(event_time) - 30000) AS minus_30s,
       make_timestamp_ms(epoch_ms(event_time) + 2 * 86400000) AS plus_2d,
       make_timestamp_ms(epoch_ms(event_time) + 90000) AS plus_90s,
       true AS is_new_year
FROM read_parquet('../../data/events/*.parquet')
WHERE epoch_ms(event_time) >= 1704067500000 AND epoch_ms(event_time) < 1704067680000
