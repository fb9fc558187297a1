-- reference for where_three_valued: WHERE keeps only rows where the predicate is TRUE (OR/AND/NOT over NULLable columns)
SELECT order_id, customer_id, amount, is_promo, service_type
FROM read_parquet('../../data/events/*.parquet')
WHERE coalesce(amount > 100 OR is_promo, false)
  AND service_type IS NOT NULL AND service_type <> 'GO_FOOD'
