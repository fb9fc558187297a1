-- reference for math_functions_int: ABS/ROUND/FLOOR/CEIL/SIGN/MOD keep int64, POWER/SQRT give float64, GREATEST/LEAST are NULL if any argument is NULL
SELECT id, a,
       CASE WHEN a < 0 THEN -a ELSE a END AS abs_a,
       a AS round_a,
       a AS floor_a,
       a AS ceil_a,
       CASE WHEN a > 0 THEN 1 WHEN a < 0 THEN -1 WHEN a = 0 THEN 0 END::BIGINT AS sign_a,
       a % 3 AS mod_a_3,
       a::DOUBLE * a::DOUBLE AS a_squared,
       CASE WHEN a >= 0 THEN sqrt(a) END AS sqrt_a,
       CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN greatest(a, b) END AS greatest_ab,
       CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN least(a, b, 0) END AS least_ab0,
       CASE WHEN x IS NOT NULL AND y IS NOT NULL THEN greatest(x, y, 0.0::DOUBLE) END AS greatest_xy0
FROM read_parquet('../../data/numbers/*.parquet')
