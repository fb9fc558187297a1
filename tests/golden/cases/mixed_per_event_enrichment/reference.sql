-- reference for mixed_per_event_enrichment: bigger per-event mix - LEFT JOIN, UPPER/COALESCE, CASE on a table column, DATE_FORMAT, arithmetic and a NULL-aware predicate
SELECT e.order_id, e.event_time,
       upper(CASE WHEN u.country IS NULL THEN 'xx' ELSE u.country END) AS country,
       CASE WHEN u.id IS NULL THEN 'anonymous' ELSE u.tier END AS tier,
       e.amount * 2 AS amount_x2,
       strftime(e.event_time, '%H:%M') AS hhmm,
       u.age >= 30 AS is_30_plus,
       e.order_id || '@' || u.country AS order_at_country
FROM read_parquet('../../data/events/*.parquet') AS e LEFT JOIN read_parquet('../../data/users/users.parquet') AS u ON e.customer_id = u.id
WHERE epoch_ms(e.event_time) < 1704067800000 AND (e.status > 0 OR e.amount IS NULL)
