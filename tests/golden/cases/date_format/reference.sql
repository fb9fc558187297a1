-- reference for date_format: DATE_FORMAT with Java-style patterns yyyy MM dd HH mm ss SSS, incl. a 1969 timestamp and NULL
SELECT id,
       strftime(ts, '%Y-%m-%d %H:%M:%S') AS full_ts,
       strftime(ts, '%Y/%m/%d') AS slash_date,
       strftime(ts, '%H:%M:%S.%g') AS time_ms,
       strftime(ts, '%Y%m%d%H%M') AS compact
FROM read_parquet('../../data/dates/*.parquet')
