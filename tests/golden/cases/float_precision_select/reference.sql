-- reference for float_precision_select: per-event float64 arithmetic with decimal literals (0.1 + 0.2 <> 0.3), literals with a decimal point are float64
SELECT k, x, x + 0.2::DOUBLE AS plus_0_2, x * 3.0::DOUBLE AS times_3, x + 0.2::DOUBLE = 0.3::DOUBLE AS eq_0_3,
       abs((x + 0.2::DOUBLE) - 0.3::DOUBLE) < 1e-9 AS close_0_3, x / 3.0::DOUBLE AS third
FROM read_parquet('../../data/floats/*.parquet')
