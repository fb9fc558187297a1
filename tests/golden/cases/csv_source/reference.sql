-- reference for csv_source: the events read from CSV files (header, empty field = NULL, true/false bools) with every column aggregated
SELECT count(*) AS cnt, count(customer_id) AS n_customer, count(service_type) AS n_service,
       sum(amount) AS total, max(lat) AS max_lat, min(lon) AS min_lon,
       CAST(sum(status) AS BIGINT) AS status_sum, count(note) AS n_note, max(note) AS max_note,
       count(is_promo) AS n_promo_known, min(order_id) AS first_order,
       epoch_ms((epoch_ms(event_time) // 600000 + 1) * 600000) AS window_end
FROM read_csv('../../data/events_csv/*.csv', header = true, delim = ',', columns = {'event_time': 'TIMESTAMPTZ', 'order_id': 'VARCHAR', 'customer_id': 'BIGINT', 'service_type': 'VARCHAR', 'amount': 'DOUBLE', 'lat': 'DOUBLE', 'lon': 'DOUBLE', 'status': 'BIGINT', 'note': 'VARCHAR', 'is_promo': 'BOOLEAN'})
GROUP BY epoch_ms(event_time) // 600000
