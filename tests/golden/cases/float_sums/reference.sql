-- reference for float_sums: float sums that are not exact in binary (0.1 + 0.2 = 0.30000000000000004), tiny and huge magnitudes
SELECT k, count(*) AS n, sum(x) AS x_sum, avg(x) AS x_avg, min(x) AS x_min, max(x) AS x_max,
       epoch_ms(epoch_ms(event_time) // 10000 * 10000) AS window_start
FROM read_parquet('../../data/floats/*.parquet')
GROUP BY k, 7
