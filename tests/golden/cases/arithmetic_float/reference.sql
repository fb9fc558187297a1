-- reference for arithmetic_float: float64 arithmetic, int64 mixed with float64 gives float64, float division by zero gives NULL
SELECT id, x, y, x + y AS sum_xy, x - y AS diff_xy, x * y AS prod_xy,
       CASE WHEN y <> 0 THEN x / y END AS quot_xy,
       a::DOUBLE + x AS a_plus_x,
       a::DOUBLE * 0.5::DOUBLE AS half_a,
       CASE WHEN x <> 0 THEN a::DOUBLE / x END AS a_over_x,
       CAST(NULL AS DOUBLE) AS x_over_zero
FROM read_parquet('../../data/numbers/*.parquet')
