-- reference for string_functions_more: SUBSTRING FROM/FOR and SUBSTR (1-based, start 0 and negative start as in DuckDB), CONCAT (NULL if any arg NULL), ||, REPLACE, POSITION, REVERSE
SELECT id,
       substring(s, 2, 3) AS sub_2_3,
       substring(s, 3) AS sub_3,
       substring(s, 1, 4) AS substr_1_4,
       substring(s, 0, 3) AS sub_0_3,
       substring(s, -3) AS last_3,
       s || '|' || parts AS concat_s_parts,
       s || '!' AS bang,
       replace(s, ' ', '_') AS underscored,
       strpos(s, 'a') AS pos_a,
       strpos(s, 'タ') AS pos_ta,
       reverse(s) AS reversed
FROM read_parquet('../../data/texts/*.parquet')
