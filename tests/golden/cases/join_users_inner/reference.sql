-- reference for join_users_inner: inner join of a stream with a bounded table - unmatched and NULL keys dropped, duplicate table key gives two rows
SELECT e.event_time, e.order_id, e.customer_id, u.country, u.tier, u.signup_date, u.age
FROM read_parquet('../../data/events/*.parquet') AS e, read_parquet('../../data/users/users.parquet') AS u
WHERE e.customer_id = u.id AND epoch_ms(e.event_time) < 1704067200000 + 8 * 60000
