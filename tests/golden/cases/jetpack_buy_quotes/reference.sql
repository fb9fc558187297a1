-- reference for jetpack_buy_quotes: Jetpack shape with a one-value list param [w] - completed buy quotes per user per w-day TUMBLE, joined to users
SELECT q.user_id, u.tier, count(*) AS buy_quotes_1d, count(DISTINCT q.base_currency) AS currencies_1d,
       epoch_ms((epoch_ms(q.exercised_at) // 86400000 + 1) * 86400000) AS window_end
FROM read_parquet('../../data/quotes/*.parquet') AS q JOIN read_parquet('../../data/users/users.parquet') AS u ON q.user_id = u.id
WHERE q.quote_type = 1 AND q.status = 4
GROUP BY q.user_id, u.tier, epoch_ms(q.exercised_at) // 86400000
