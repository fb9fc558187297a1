-- reference for ndjson_source: the events read from NDJSON files (ISO-8601 timestamps, JSON null) aggregated per service_type in 5-minute windows
SELECT service_type, count(*) AS cnt, sum(amount) AS total, count(is_promo) AS n_promo_known,
       min(note) AS min_note,
       epoch_ms((epoch_ms(event_time) // 300000 + 1) * 300000) AS window_end
FROM read_ndjson('../../data/events_ndjson/*.ndjson', columns = {'event_time': 'TIMESTAMPTZ', 'order_id': 'VARCHAR', 'customer_id': 'BIGINT', 'service_type': 'VARCHAR', 'amount': 'DOUBLE', 'lat': 'DOUBLE', 'lon': 'DOUBLE', 'status': 'BIGINT', 'note': 'VARCHAR', 'is_promo': 'BOOLEAN'})
GROUP BY service_type, epoch_ms(event_time) // 300000
