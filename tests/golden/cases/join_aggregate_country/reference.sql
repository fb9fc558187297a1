-- reference for join_aggregate_country: windowed aggregate over a stream-table inner join, grouped by a table column (NULL country is a group)
SELECT u.country, count(*) AS orders, sum(e.amount) AS total, count(DISTINCT e.customer_id) AS customers,
       epoch_ms((epoch_ms(e.event_time) // 600000 + 1) * 600000) AS window_end
FROM read_parquet('../../data/events/*.parquet') AS e JOIN read_parquet('../../data/users/users.parquet') AS u ON e.customer_id = u.id
GROUP BY u.country, epoch_ms(e.event_time) // 600000
