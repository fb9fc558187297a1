-- reference for floor_ceil_timestamp: FLOOR(ts TO unit) and CEIL(ts TO unit) for SECOND..YEAR; CEIL of an aligned value is itself; 1969 floors downwards
SELECT id,
       date_trunc('second', ts) AS floor_second,
       date_trunc('minute', ts) AS floor_minute,
       date_trunc('hour', ts) AS floor_hour,
       date_trunc('day', ts) AS floor_day,
       date_trunc('month', ts) AS floor_month,
       date_trunc('year', ts) AS floor_year,
       CASE WHEN date_trunc('second', ts) = ts THEN ts ELSE date_trunc('second', ts) + INTERVAL 1 SECOND END AS ceil_second,
       CASE WHEN date_trunc('minute', ts) = ts THEN ts ELSE date_trunc('minute', ts) + INTERVAL 1 MINUTE END AS ceil_minute,
       CASE WHEN date_trunc('hour', ts) = ts THEN ts ELSE date_trunc('hour', ts) + INTERVAL 1 HOUR END AS ceil_hour,
       CASE WHEN date_trunc('day', ts) = ts THEN ts ELSE date_trunc('day', ts) + INTERVAL 1 DAY END AS ceil_day,
       CASE WHEN date_trunc('month', ts) = ts THEN ts ELSE date_trunc('month', ts) + INTERVAL 1 MONTH END AS ceil_month,
       CASE WHEN date_trunc('year', ts) = ts THEN ts ELSE date_trunc('year', ts) + INTERVAL 1 YEAR END AS ceil_year
FROM read_parquet('../../data/dates/*.parquet')
