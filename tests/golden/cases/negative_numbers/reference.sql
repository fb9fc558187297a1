-- reference for negative_numbers: aggregates over negative ints and floats in 10-second windows (SUM/MIN/MAX/AVG, ABS inside SUM)
SELECT epoch_ms(epoch_ms(event_time) // 10000 * 10000) AS window_start,
       CAST(sum(a) AS BIGINT) AS a_sum, min(a) AS a_min, max(a) AS a_max, avg(a) AS a_avg,
       CAST(sum(CASE WHEN a < 0 THEN -a ELSE a END) AS BIGINT) AS a_abs_sum,
       CAST(sum(b) AS BIGINT) AS b_sum, min(x) AS x_min, max(y) AS y_max, sum(y) AS y_sum
FROM read_parquet('../../data/numbers/*.parquet')
GROUP BY 1
