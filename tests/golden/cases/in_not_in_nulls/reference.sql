-- reference for in_not_in_nulls: IN / NOT IN with and without NULL in the list (x NOT IN (.., NULL) is never TRUE); IN in WHERE drops NULL results
SELECT id, a,
       CASE WHEN a IS NULL THEN NULL ELSE a = 7 OR a = -7 OR a = 0 END AS in_plain,
       CASE WHEN a = 7 THEN true ELSE NULL END AS in_with_null,
       CASE WHEN a IS NULL THEN NULL ELSE a <> 7 AND a <> -7 END AS not_in_plain,
       CASE WHEN a = 7 THEN false ELSE NULL END AS not_in_with_null,
       CASE WHEN x IS NULL THEN NULL ELSE x = 2.5 OR x = 3.0 END AS x_in
FROM read_parquet('../../data/numbers/*.parquet')
WHERE b IS NOT NULL AND b <> 13 AND b <> 1
