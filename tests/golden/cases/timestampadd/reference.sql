-- reference for timestampadd: TIMESTAMPADD for SECOND/MINUTE/HOUR/DAY/WEEK/MONTH/YEAR incl. negative amounts; month/year arithmetic clamps to the month end
SELECT id,
       ts - INTERVAL 90 SECOND AS minus_90s,
       ts + INTERVAL 45 MINUTE AS plus_45m,
       ts - INTERVAL 5 HOUR AS minus_5h,
       ts + INTERVAL 1 DAY AS plus_1d,
       ts + INTERVAL 14 DAY AS plus_2w,
       ts + INTERVAL 1 MONTH AS plus_1mon,
       ts - INTERVAL 13 MONTH AS minus_13mon,
       ts + INTERVAL 12 MONTH AS plus_1y
FROM read_parquet('../../data/dates/*.parquet')
