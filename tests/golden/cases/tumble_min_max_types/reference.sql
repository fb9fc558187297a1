-- reference for tumble_min_max_types: MIN/MAX over strings (byte order, unicode), timestamps, dates, bools and floats in 10-minute windows
WITH e AS (SELECT *, epoch_ms(event_time) // 600000 AS w FROM read_parquet('../../data/events/*.parquet'))
SELECT min(order_id) AS first_order,
       max(order_id) AS last_order,
       min(note) AS min_note,
       max(note) AS max_note,
       min(event_time) AS first_seen,
       max(event_time) AS last_seen,
       bool_and(is_promo) AS min_promo,
       bool_or(is_promo) AS max_promo,
       min(CAST(event_time AS DATE)) AS min_day,
       max(lat) AS max_lat,
       epoch_ms((w + 1) * 600000) AS window_end
FROM e GROUP BY w
