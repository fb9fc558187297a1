-- reference for timestampdiff: TIMESTAMPDIFF(unit, ts, fixed) counts whole units truncated toward zero (negative when ts is later), SECOND..YEAR
WITH t AS (SELECT id, ts, epoch_ms(TIMESTAMPTZ '2024-03-15 12:00:00') - epoch_ms(ts) AS dms FROM read_parquet('../../data/dates/*.parquet'))
SELECT id,
       CAST(trunc(dms / 1000.0) AS BIGINT) AS diff_s,
       CAST(trunc(dms / 60000.0) AS BIGINT) AS diff_mi,
       CAST(trunc(dms / 3600000.0) AS BIGINT) AS diff_h,
       CAST(trunc(dms / 86400000.0) AS BIGINT) AS diff_d,
       date_sub('month', ts, TIMESTAMPTZ '2024-03-15 12:00:00') AS diff_mon,
       date_sub('year', ts, TIMESTAMPTZ '2024-03-15 12:00:00') AS diff_y
FROM t
