-- reference for single_file_source: a bounded source given as one Parquet file; SELECT * keeps the schema column order
SELECT * FROM read_parquet('../../data/events/part-1.parquet') WHERE status >= 7
