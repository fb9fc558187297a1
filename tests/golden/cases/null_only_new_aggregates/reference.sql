-- reference for null_only_new_aggregates: DISTINCT_COUNT is 0 and the rest NULL where every value is NULL; APPROX_PERCENTILE at 0 and 1 is the exact min and max
SELECT sensor, epoch_ms(epoch_ms(event_time) // 60000 * 60000) AS window_start,
       count(DISTINCT label) AS n_labels,
       quantile_cont(reading, 0.5) AS reading_median,
       min(reading) AS reading_approx_min,
       CAST(max(level) AS DOUBLE) AS level_approx_max,
       CAST(quantile_cont(level::DOUBLE, 0.5) AS DOUBLE) AS level_median,
       first(reading ORDER BY event_time, reading) FILTER (WHERE reading IS NOT NULL) AS first_reading,
       first(label ORDER BY event_time DESC, label DESC) FILTER (WHERE label IS NOT NULL) AS last_label
FROM read_parquet('../../data/sensors/*.parquet')
GROUP BY sensor, epoch_ms(event_time) // 60000
