-- reference for coalesce_nullif_if: COALESCE (first non-NULL), NULLIF, and Flink IF(cond, a, b) where a NULL cond picks b
SELECT order_id,
       CASE WHEN service_type IS NULL THEN 'UNKNOWN' ELSE service_type END AS service,
       CASE WHEN customer_id IS NULL THEN -1 ELSE customer_id END AS customer_or_minus1,
       CASE WHEN amount IS NOT NULL THEN amount WHEN status IS NOT NULL THEN status::DOUBLE ELSE 0.0::DOUBLE END AS amount_or_status,
       CASE WHEN status = 4 THEN NULL ELSE status END AS status_not_4,
       CASE WHEN note = 'ok' THEN NULL ELSE note END AS note_not_ok,
       CASE WHEN is_promo THEN 'promo' ELSE 'regular' END AS promo_label,
       CASE WHEN amount > 100 THEN amount ELSE 0.0::DOUBLE END AS big_amount
FROM read_parquet('../../data/events/*.parquet')
WHERE epoch_ms(event_time) < 1704067800000
