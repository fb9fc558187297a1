-- reference for bool_logic_nulls: AND / OR / NOT projections with NULL operands (three-valued logic truth tables)
WITH e AS (SELECT order_id, is_promo, amount > 100 AS big FROM read_parquet('../../data/events/*.parquet') WHERE epoch_ms(event_time) < 1704067200000 + 720000)
SELECT order_id, is_promo, big,
       CASE WHEN is_promo = false OR big = false THEN false WHEN is_promo AND big THEN true END AS promo_and_big,
       CASE WHEN is_promo OR big THEN true WHEN is_promo = false AND big = false THEN false END AS promo_or_big,
       CASE is_promo WHEN true THEN false WHEN false THEN true END AS not_promo,
       CASE WHEN is_promo OR big THEN false WHEN is_promo = false AND big = false THEN true END AS neither,
       CASE WHEN is_promo IS NOT DISTINCT FROM false OR big IS NOT DISTINCT FROM false THEN false
            WHEN is_promo IS NULL OR big IS NULL THEN true
            ELSE false END AS and_is_null
FROM e
