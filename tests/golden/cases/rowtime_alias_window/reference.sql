-- reference for rowtime_alias_window: the Dagger `rowtime` alias for the event-time column inside TUMBLE and TUMBLE_END
SELECT service_type, count(*) AS cnt,
       epoch_ms((epoch_ms(event_time) // 120000 + 1) * 120000) AS window_end
FROM read_parquet('../../data/events/*.parquet')
GROUP BY service_type, epoch_ms(event_time) // 120000
