-- reference for string_functions_pad_split: LPAD/RPAD (truncate when longer, as DuckDB), SPLIT_INDEX (0-based, NULL when out of range), CONCAT of three nullable args
SELECT id,
       lpad(s, 8, '*') AS lpad_s,
       rpad(s, 8, '.') AS rpad_s,
       lpad(int_str, 5, '0') AS lpad_int,
       CASE WHEN len(string_split(parts, ',')) > 0 THEN string_split(parts, ',')[1] END AS part_0,
       CASE WHEN len(string_split(parts, ',')) > 1 THEN string_split(parts, ',')[2] END AS part_1,
       CASE WHEN len(string_split(parts, ',')) > 3 THEN string_split(parts, ',')[4] END AS part_3,
       int_str || dbl_str || bool_str AS concat3
FROM read_parquet('../../data/texts/*.parquet')
