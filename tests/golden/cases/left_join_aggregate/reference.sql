-- reference for left_join_aggregate: windowed aggregate over a LEFT JOIN - COUNT(*) vs COUNT(table column), MAX of a table string
SELECT e.customer_id, count(*) AS cnt, count(u.id) AS matched, max(u.tier) AS max_tier,
       epoch_ms((epoch_ms(e.event_time) // 900000 + 1) * 900000) AS window_end
FROM read_parquet('../../data/events/*.parquet') AS e LEFT JOIN read_parquet('../../data/users/users.parquet') AS u ON e.customer_id = u.id
GROUP BY e.customer_id, epoch_ms(e.event_time) // 900000
