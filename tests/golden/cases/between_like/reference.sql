-- reference for between_like: BETWEEN / NOT BETWEEN (inclusive, strings byte-wise) and LIKE / NOT LIKE with % and _ (case-sensitive, _ is one character)
SELECT id, s,
       id >= 3 AND id <= 6 AS id_3_6,
       id < 2 OR id > 11 AS id_outside_2_11,
       s >= 'a' AND s <= 'n' AS s_a_n,
       regexp_full_match(s, '.*o.*', 's') AS has_o,
       regexp_full_match(s, 'H.llo.*', 's') AS hello,
       regexp_full_match(s, '東京...', 's') AS tokyo_3,
       regexp_full_match(s, '.afé', 's') AS cafe,
       CASE WHEN s IS NOT NULL THEN true END AS anything,
       starts_with(s, 'mixed') AS lower_mixed,
       NOT contains(s, 'a') AS no_a,
       regexp_full_match(s, 'a.b.*c', 's') AS pattern_chars
FROM read_parquet('../../data/texts/*.parquet')
