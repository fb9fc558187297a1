-- reference for cast_temporal: CAST(timestamp AS VARCHAR) ('YYYY-MM-DD HH:MM:SS.sss'), CAST(timestamp AS DATE) in UTC (incl. 1969), round trip back to TIMESTAMP
SELECT id,
       strftime(ts, '%Y-%m-%d %H:%M:%S.%g') AS ts_str,
       CAST(ts AS DATE) AS ts_date,
       strftime(event_time, '%Y-%m-%d %H:%M:%S.%g') AS event_time_str,
       ts AS round_trip,
       CAST(ts AS DATE) = d AS date_matches
FROM read_parquet('../../data/dates/*.parquet')
