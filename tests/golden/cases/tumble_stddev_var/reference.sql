-- reference for tumble_stddev_var: STDDEV_POP and VAR_POP of a nullable float and of an int column per service_type in 5-minute windows
WITH e AS (SELECT *, epoch_ms(event_time) // 300000 AS w FROM read_parquet('../../data/events/*.parquet')),
m AS (
  SELECT service_type, w, avg(amount) AS ma, avg(status) AS ms
  FROM e GROUP BY service_type, w
)
SELECT e.service_type,
       sqrt(avg((amount - ma) * (amount - ma))) AS amount_stddev,
       avg((amount - ma) * (amount - ma)) AS amount_var,
       sqrt(avg((status - ms) * (status - ms))) AS status_stddev,
       avg((status - ms) * (status - ms)) AS status_var,
       epoch_ms((e.w + 1) * 300000) AS window_end
FROM e JOIN m ON e.service_type IS NOT DISTINCT FROM m.service_type AND e.w = m.w
GROUP BY e.service_type, e.w
