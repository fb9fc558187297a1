-- reference for null_only_window: windows/groups where every aggregated value is NULL - SUM/AVG/MIN/MAX/STDDEV/VAR are NULL, COUNT(col) is 0
SELECT sensor, epoch_ms(epoch_ms(event_time) // 60000 * 60000) AS window_start,
       count(*) AS n_rows, count(reading) AS n_readings, sum(reading) AS reading_sum,
       avg(reading) AS reading_avg, min(reading) AS reading_min, max(reading) AS reading_max,
       stddev_pop(reading) AS reading_stddev, var_pop(reading) AS reading_var,
       CAST(sum(level) AS BIGINT) AS level_sum, avg(level) AS level_avg,
       count(DISTINCT label) AS n_labels, min(label) AS min_label, max(label) AS max_label
FROM read_parquet('../../data/sensors/*.parquet')
GROUP BY sensor, epoch_ms(event_time) // 60000
