-- reference for arithmetic_int: int64 + - * , / truncating toward zero, % and MOD with the sign of the dividend, division/modulo by zero gives NULL
SELECT id, a, b, a + b AS sum_ab, a - b AS diff_ab, a * b AS prod_ab,
       CASE WHEN b <> 0 THEN CAST(trunc(a::DOUBLE / b::DOUBLE) AS BIGINT) END AS quot_ab,
       CASE WHEN b <> 0 THEN a - b * CAST(trunc(a::DOUBLE / b::DOUBLE) AS BIGINT) END AS rem_ab,
       CASE WHEN b <> 0 THEN a % b END AS mod_ab,
       -a AS neg_a,
       (a + b) * 2 - 1 AS expr_ab,
       a // 2 AS half_a
FROM read_parquet('../../data/numbers/*.parquet')
