-- reference for large_int64: aggregates over int64 values near the limits without overflow (SUM stays exact int64, 2^53+1 kept exact)
SELECT k, count(big) AS n, CAST(sum(big) AS BIGINT) AS big_sum, min(big) AS big_min, max(big) AS big_max,
       CAST(sum(big) AS DOUBLE) / count(big) AS big_avg,
       epoch_ms(epoch_ms(event_time) // 10000 * 10000) AS window_start
FROM read_parquet('../../data/bigints/*.parquet')
GROUP BY k, 7
