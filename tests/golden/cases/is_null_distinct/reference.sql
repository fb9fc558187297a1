-- reference for is_null_distinct: IS NULL, IS NOT NULL, IS [NOT] DISTINCT FROM (never NULL) versus = (NULL when an operand is NULL)
SELECT id, a, b,
       a IS NULL AS a_null,
       b IS NOT NULL AS b_not_null,
       CASE WHEN a IS NULL AND b IS NULL THEN false WHEN a IS NULL OR b IS NULL THEN true ELSE a <> b END AS a_distinct_b,
       CASE WHEN a IS NULL AND b IS NULL THEN true WHEN a IS NULL OR b IS NULL THEN false ELSE a = b END AS a_same_b,
       a = b AS a_eq_b,
       CASE WHEN x IS NULL AND y IS NULL THEN false WHEN x IS NULL OR y IS NULL THEN true ELSE x <> y END AS x_distinct_y
FROM read_parquet('../../data/numbers/*.parquet')
