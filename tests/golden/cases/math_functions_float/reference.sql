-- reference for math_functions_float: ABS, ROUND (half away from zero, with digits), FLOOR, CEIL/CEILING, SIGN, POWER, SQRT/LN/LOG10 (NULL outside the domain), EXP on float64
SELECT id, x,
       abs(x) AS abs_x,
       CASE WHEN x < 0 THEN -floor(-x + 0.5) ELSE floor(x + 0.5) END AS round_x,
       CASE WHEN x < 0 THEN -floor(-x * 10 + 0.5) / 10 ELSE floor(x * 10 + 0.5) / 10 END AS round_x_1,
       floor(x) AS floor_x,
       ceil(x) AS ceil_x,
       ceil(y) AS ceiling_y,
       CASE WHEN x > 0 THEN 1.0 WHEN x < 0 THEN -1.0 WHEN x = 0 THEN 0.0 END::DOUBLE AS sign_x,
       x * x AS x_squared,
       CASE WHEN x >= 0 THEN sqrt(x) END AS sqrt_x,
       CASE WHEN x > 0 THEN ln(x) END AS ln_x,
       CASE WHEN x > 0 THEN log10(x) END AS log10_x,
       exp(y) AS exp_y
FROM read_parquet('../../data/numbers/*.parquet')
