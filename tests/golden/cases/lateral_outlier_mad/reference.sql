-- reference for lateral_outlier_mad: Dagger's double MAD written out - median m of the window,
-- the MAD of the values <= m and of those >= m, bounds m +- 3 * (the MAD of the point's side),
-- and the window flagged when >= 20 % of the points of its last 3 minutes are > 3 MADs from m;
-- with a zero MAD nothing is an outlier and a point's bounds are its value
WITH e AS (SELECT epoch_ms(event_time) AS t, amount FROM read_parquet('../../data/events/*.parquet') WHERE amount IS NOT NULL),
wins AS (SELECT unnest(generate_series(min(t) // 60000 * 60000 - 540000, max(t), 60000)) AS ws FROM e),
p AS (SELECT wins.ws, e.t, e.amount FROM wins JOIN e ON e.t >= wins.ws AND e.t < wins.ws + 600000),
m AS (SELECT ws, median(amount) AS med FROM p GROUP BY ws),
lowmed AS (SELECT p.ws, median(p.amount) AS lm FROM p JOIN m USING (ws) WHERE p.amount <= m.med GROUP BY p.ws),
highmed AS (SELECT p.ws, median(p.amount) AS hm FROM p JOIN m USING (ws) WHERE p.amount >= m.med GROUP BY p.ws),
lowmad AS (SELECT p.ws, median(abs(p.amount - lowmed.lm)) AS lmad FROM p JOIN m USING (ws) JOIN lowmed USING (ws) WHERE p.amount <= m.med GROUP BY p.ws),
highmad AS (SELECT p.ws, median(abs(p.amount - highmed.hm)) AS hmad FROM p JOIN m USING (ws) JOIN highmed USING (ws) WHERE p.amount >= m.med GROUP BY p.ws),
obs AS (
  SELECT p.ws, p.t, p.amount, m.med,
         (lowmad.lmad <> 0 AND highmad.hmad <> 0) AS valid,
         CASE WHEN p.amount <= m.med THEN lowmad.lmad ELSE highmad.hmad END AS side
  FROM p JOIN m USING (ws) JOIN lowmad USING (ws) JOIN highmad USING (ws)
  WHERE p.t >= p.ws + 600000 - 180000
),
flags AS (
  SELECT ws, sum(CASE WHEN valid AND abs(amount - med) / side > 3 THEN 1 ELSE 0 END) * 100.0 / count(*) >= 20 AS flagged
  FROM obs GROUP BY ws
)
SELECT epoch_ms(obs.ws) AS window_start,
       epoch_ms(obs.t) AS time,
       obs.amount AS value,
       CASE WHEN valid THEN med + 3 * side ELSE amount END AS upper_bound,
       CASE WHEN valid THEN med - 3 * side ELSE amount END AS lower_bound,
       flags.flagged AS is_outlier
FROM obs JOIN flags USING (ws)
