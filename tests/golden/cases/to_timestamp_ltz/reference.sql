-- reference for to_timestamp_ltz: TO_TIMESTAMP_LTZ(n, 0) from epoch seconds and TO_TIMESTAMP_LTZ(n, 3) from epoch milliseconds, incl. negative and NULL
SELECT id,
       make_timestamp_ms(epoch_s * 1000) AS from_seconds,
       make_timestamp_ms(epoch_millis) AS from_millis
FROM read_parquet('../../data/dates/*.parquet')
