-- reference for date_shorthands: YEAR(ts), MONTH(ts), DAYOFMONTH(ts), HOUR(ts), MINUTE(ts), SECOND(ts), DAYOFWEEK(ts) (1 = Sunday)
SELECT id,
       CAST(strftime(ts, '%Y') AS BIGINT) AS y,
       CAST(strftime(ts, '%m') AS BIGINT) AS mon,
       CAST(strftime(ts, '%d') AS BIGINT) AS dom,
       CAST(strftime(ts, '%H') AS BIGINT) AS h,
       CAST(strftime(ts, '%M') AS BIGINT) AS mi,
       CAST(strftime(ts, '%S') AS BIGINT) AS sec,
       CAST(strftime(ts, '%w') AS BIGINT) + 1 AS dow
FROM read_parquet('../../data/dates/*.parquet')
