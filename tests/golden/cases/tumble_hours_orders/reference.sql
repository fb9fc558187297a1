-- reference for tumble_hours_orders: 6-hour TUMBLE (INTERVAL '6' HOUR) per cpf over several days of orders
SELECT cpf, count(*) AS orders_6h, sum(value) AS value_6h, max(value) AS max_value_6h,
       epoch_ms((epoch_ms(event_time) // 21600000 + 1) * 21600000) AS window_end
FROM read_parquet('../../data/orders/*.parquet')
GROUP BY cpf, epoch_ms(event_time) // 21600000
