-- reference for butterfree_orders_chargebacks: Butterfree shape - UNION ALL of orders and chargebacks counted per cpf with HOP(1 day, 3 days); NULL cpf is a group
WITH t AS (
  SELECT cpf, epoch_ms(event_time) AS t, 1 AS is_order, 0 AS is_chargeback FROM read_parquet('../../data/orders/*.parquet')
  UNION ALL
  SELECT cpf, epoch_ms(chargeback_time) AS t, 0 AS is_order, 1 AS is_chargeback FROM read_parquet('../../data/chargebacks/*.parquet')
),
wins AS (
  SELECT unnest(generate_series(min(t) // 86400000 * 86400000 - 3 * 86400000, max(t), 86400000)) AS ws FROM t
)
SELECT t.cpf,
       CAST(sum(t.is_order) AS BIGINT) AS orders_3d,
       CAST(sum(t.is_chargeback) AS BIGINT) AS chargebacks_3d,
       epoch_ms(wins.ws) AS window_start,
       epoch_ms(wins.ws + 3 * 86400000) AS window_end
FROM wins JOIN t ON t.t >= wins.ws AND t.t < wins.ws + 3 * 86400000
GROUP BY t.cpf, wins.ws
