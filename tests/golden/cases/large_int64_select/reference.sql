-- reference for large_int64_select: per-event int64 arithmetic near the limits (no overflow), exact comparison above 2^53, CAST to VARCHAR and DOUBLE
SELECT k, big, big - 1 AS minus_one, -big AS negated, big // 1000 AS div_1000, big % 1000 AS mod_1000,
       big > 9007199254740992 AS above_2_53, CAST(big AS VARCHAR) AS big_str, CAST(big AS DOUBLE) AS big_double
FROM read_parquet('../../data/bigints/*.parquet')
