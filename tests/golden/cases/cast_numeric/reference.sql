-- reference for cast_numeric: CAST(float AS BIGINT) truncates toward zero, int to DOUBLE/VARCHAR, bool to BIGINT (1/0)
SELECT id,
       TRY_CAST(trunc(x) AS BIGINT) AS x_trunc,
       TRY_CAST(trunc(x * 10) AS BIGINT) AS x10_trunc,
       CAST(a AS DOUBLE) AS a_double,
       CAST(a AS VARCHAR) AS a_str,
       CASE WHEN a > 0 THEN 1 WHEN a <= 0 THEN 0 END AS a_pos_flag,
       CAST(a AS VARCHAR) || '/' || CAST(b AS VARCHAR) AS ratio_str
FROM read_parquet('../../data/numbers/*.parquet')
