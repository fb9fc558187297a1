-- reference for string_compare_bytewise: string comparisons are byte-wise on UTF-8 (uppercase < lowercase < accented < CJK), = and <> with empty string
SELECT id, s,
       encode(s) < encode('a') AS lt_a,
       encode(s) > encode('Z') AS gt_upper_z,
       encode(s) >= encode('café') AS ge_cafe,
       s = 'café' AS eq_cafe,
       length(s) > 0 AS non_empty,
       encode(s) < encode('É') AS lt_e_acute
FROM read_parquet('../../data/texts/*.parquet')
