-- reference for empty_input_select: a per-event query over a dataset whose only file has zero rows emits nothing
SELECT order_id, amount * 2 AS doubled, event_time FROM read_parquet('../../data/empty/*.parquet') WHERE amount > 0
