-- reference for compare_int_float: comparisons between int64 and float64 columns and literals compare numerically (3 = 3.0)
SELECT id, a, x,
       a::DOUBLE = x AS a_eq_x, a::DOUBLE < x AS a_lt_x, a::DOUBLE >= x AS a_ge_x, a::DOUBLE <> x AS a_ne_x,
       a::DOUBLE > 2.5::DOUBLE AS a_gt_2_5, x = 3.0::DOUBLE AS x_eq_3, x < a::DOUBLE + 0.5::DOUBLE AS x_lt_a_plus_half
FROM read_parquet('../../data/numbers/*.parquet')
