-- reference for union_all_per_event: per-event UNION ALL of two streams; the second branch renames its event-time column
SELECT order_id, cpf, event_time, 'order' AS kind FROM read_parquet('../../data/orders/*.parquet')
UNION ALL
SELECT order_id, cpf, chargeback_time, 'chargeback' FROM read_parquet('../../data/chargebacks/*.parquet')
