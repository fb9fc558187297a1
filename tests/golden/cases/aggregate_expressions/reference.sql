-- reference for aggregate_expressions: aggregates over expressions - SUM(a*2), AVG(CAST), MAX(CHAR_LENGTH), SUM(CASE) (int64), COUNT(CASE without ELSE), MIN(ABS)
SELECT 2 * sum(amount) AS double_total,
       avg(status::DOUBLE) AS avg_status,
       max(length(note)) AS max_note_len,
       CAST(count(*) FILTER (WHERE is_promo) AS BIGINT) AS promo_count,
       count(*) FILTER (WHERE amount > 100) AS big_count,
       min(abs(amount)) AS min_abs_amount,
       epoch_ms((epoch_ms(event_time) // 600000 + 1) * 600000) AS window_end
FROM read_parquet('../../data/events/*.parquet')
GROUP BY epoch_ms(event_time) // 600000
