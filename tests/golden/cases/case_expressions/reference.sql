-- reference for case_expressions: searched CASE, simple CASE (NULL operand matches no WHEN), CASE without ELSE gives NULL
SELECT order_id,
       CASE WHEN amount IS NULL THEN 'unknown' WHEN amount < 0 THEN 'refund' WHEN amount >= 100 THEN 'big' ELSE 'small' END AS amount_class,
       CASE WHEN service_type = 'GO_RIDE' THEN 1 WHEN service_type = 'GO_FOOD' THEN 2 ELSE 0 END AS service_code,
       CASE WHEN status = 4 THEN 'complete' WHEN status = -1 THEN 'cancelled' ELSE NULL END AS status_name,
       CASE WHEN coalesce(is_promo, false) THEN amount * 0.9::DOUBLE ELSE amount END AS promo_amount
FROM read_parquet('../../data/events/*.parquet')
WHERE epoch_ms(event_time) < 1704067800000
