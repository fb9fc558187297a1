-- reference for unicode_strings: GROUP BY a unicode string key (emoji, CJK, accents, % and _), with CHAR_LENGTH and UPPER inside aggregates
SELECT note, count(*) AS cnt, min(order_id) AS first_order, max(length(note)) AS note_len,
       max(upper(note)) AS note_upper,
       epoch_ms((epoch_ms(event_time) // 1800000 + 1) * 1800000) AS window_end
FROM read_parquet('../../data/events/*.parquet')
GROUP BY note, epoch_ms(event_time) // 1800000
