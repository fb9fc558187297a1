-- reference for extract_functions: EXTRACT of YEAR, QUARTER, MONTH, WEEK (ISO), DAY, HOUR, MINUTE, SECOND, DOW (1 = Sunday), DOY, EPOCH (floor seconds) incl. 1969 and NULL
SELECT id,
       year(ts) AS y, quarter(ts) AS q, month(ts) AS mon, weekofyear(ts) AS iso_week, day(ts) AS dom,
       hour(ts) AS h, minute(ts) AS mi, second(ts) AS sec,
       isodow(ts) % 7 + 1 AS dow,
       dayofyear(ts) AS doy,
       CAST(floor(epoch_ms(ts) / 1000.0) AS BIGINT) AS epoch_seconds
FROM read_parquet('../../data/dates/*.parquet')
