-- reference for tumble_start_end_rowtime: TUMBLE_START, TUMBLE_END and TUMBLE_ROWTIME (end - 1 ms) of a keyless 5-minute TUMBLE
SELECT make_timestamp_ms(w * 300000) AS window_start,
       make_timestamp_ms(w * 300000 + 300000) AS window_end,
       make_timestamp_ms(w * 300000 + 299999) AS window_rowtime,
       count(*) AS cnt
FROM (SELECT epoch_ms(event_time) // 300000 AS w FROM read_parquet('../../data/events/*.parquet')) AS t
GROUP BY w
