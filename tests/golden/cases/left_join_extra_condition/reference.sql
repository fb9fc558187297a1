-- reference for left_join_extra_condition: LEFT JOIN with an extra ON condition on a table column (u.tier = 'gold'), so non-gold matches become NULL-extended rows
SELECT e.order_id, e.customer_id, g.country, g.tier
FROM (SELECT * FROM read_parquet('../../data/events/*.parquet') WHERE epoch_ms(event_time) < 1704067200000 + 10 * 60000) AS e
LEFT JOIN (SELECT * FROM read_parquet('../../data/users/users.parquet') WHERE tier = 'gold') AS g ON e.customer_id = g.id
