-- reference for array_functions: DuckDB's list functions (1-based; negative from the end)
SELECT id,
       string_split(parts, ',') AS tokens,
       string_split(parts, ',')[1] AS first_token,
       string_split(parts, ',')[-1] AS last_token,
       string_split(parts, ',')[2] AS second_token,
       list_contains(string_split(parts, ','), 'c') AS has_c,
       CAST(len(string_split(parts, ',')) AS BIGINT) AS n_tokens,
       CAST(len(list_distinct(string_split(parts, ','))) AS BIGINT) AS n_distinct,
       list_max(string_split(parts, ',')) AS max_token,
       list_sort(list_distinct(string_split(parts, ','))) AS sorted_tokens,
       CAST(id + id * 2 + 7 AS BIGINT) AS id_sum,
       (id + 2.5) / 2.0 AS id_avg,
       id AS first_of_literal
FROM read_parquet('../../data/texts/*.parquet')
