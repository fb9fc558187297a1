-- reference for string_functions_basic: UPPER, LOWER, TRIM/LTRIM/RTRIM (spaces), CHAR_LENGTH / CHARACTER_LENGTH / LENGTH in characters, on unicode and NULL
SELECT id, upper(s) AS upper_s, lower(s) AS lower_s, trim(s, ' ') AS trim_s, ltrim(s, ' ') AS ltrim_s, rtrim(s, ' ') AS rtrim_s,
       length(s) AS char_len, length(s) AS character_len, length(s) AS len, length(trim(s, ' ')) AS trimmed_len
FROM read_parquet('../../data/texts/*.parquet')
