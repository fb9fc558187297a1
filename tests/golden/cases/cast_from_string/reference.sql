-- reference for cast_from_string: CAST from string to BIGINT/DOUBLE/BOOLEAN/DATE/TIMESTAMP and TO_TIMESTAMP(string); unparseable or out-of-range input gives NULL
SELECT id,
       CASE WHEN regexp_full_match(int_str, '-?[0-9]+') THEN TRY_CAST(int_str AS BIGINT) END AS as_bigint,
       TRY_CAST(dbl_str AS DOUBLE) AS as_double,
       CASE lower(bool_str) WHEN 'true' THEN true WHEN 'false' THEN false END AS as_bool,
       CASE WHEN regexp_full_match(date_str, '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN TRY_CAST(date_str AS DATE) END AS as_date,
       try_strptime(ts_str, ['%Y-%m-%d %H:%M:%S.%g', '%Y-%m-%d %H:%M:%S']) AS as_ts,
       CASE WHEN regexp_full_match(ts_str, '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{3})?')
            THEN TRY_CAST(ts_str AS TIMESTAMP) END AS to_ts
FROM read_parquet('../../data/texts/*.parquet')
