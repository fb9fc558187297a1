//! Event time: milliseconds since the Unix epoch, UTC.
//!
//! Windows align to the epoch: the tumbling window of size `s` containing
//! `t` starts at `floor(t / s) * s` (floor, so times before 1970 work too).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type EventTime = i64;

/// Milliseconds in a second.
pub const SECOND: i64 = 1_000;
/// Milliseconds in a minute.
pub const MINUTE: i64 = 60 * SECOND;
/// Milliseconds in an hour.
pub const HOUR: i64 = 60 * MINUTE;
/// Milliseconds in a day.
pub const DAY: i64 = 24 * HOUR;

/// Parses a timestamp written by a person: `2024-01-01`, `2024-01-01T10:00:00`,
/// `2024-01-01 10:00:00.250`, optionally followed by `Z` or an offset such as
/// `+07:00`. Times without an offset are UTC.
pub fn parse_timestamp(s: &str) -> Result<EventTime, String> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Ok(dt.timestamp_millis());
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(Utc.from_utc_datetime(&dt).timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|dt| Utc.from_utc_datetime(&dt).timestamp_millis())
            .unwrap_or(0));
    }
    Err(format!(
        "`{s}` is not a timestamp; write a date (2024-01-31) or a date and time (2024-01-31T08:00:00Z)"
    ))
}

/// Formats a timestamp as RFC 3339 with milliseconds: `2024-01-01T10:00:00.000Z`.
pub fn format_timestamp(t: EventTime) -> String {
    match Utc.timestamp_millis_opt(t).single() {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{t}ms"),
    }
}

/// Days since the epoch of the UTC date containing `t`.
pub fn date_of(t: EventTime) -> i32 {
    t.div_euclid(DAY) as i32
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    // Checked: a date near i32::MIN days must not overflow (and panic).
    match days
        .checked_add(719_163)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
    {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => format!("day{days}"),
    }
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(
        d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?)
            .num_days() as i32,
    )
}

/// Start of the window of size `size` (ms, > 0) containing `t`, aligned to the epoch.
pub fn window_start(t: EventTime, size: i64) -> EventTime {
    t - t.rem_euclid(size)
}

/// Parses a duration: a sequence of numbers with units `ms`, `s`, `m`, `h`,
/// `d`, `w` (`500ms`, `5s`, `10m`, `1h30m`, `7d`). Returns milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let text = s.trim();
    let help = || {
        format!("`{text}` is not a duration; write a number with a unit: 500ms, 5s, 10m, 1h, 7d")
    };
    if text == "0" {
        return Ok(0);
    }
    let mut total: i64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return Err(help());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(help());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| help())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match rest[..unit_len].trim() {
            "ms" => 1,
            "s" | "sec" | "second" | "seconds" => SECOND,
            "m" | "min" | "minute" | "minutes" => MINUTE,
            "h" | "hour" | "hours" => HOUR,
            "d" | "day" | "days" => DAY,
            "w" | "week" | "weeks" => 7 * DAY,
            _ => return Err(help()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(help)?;
    }
    Ok(total)
}

/// Parses a time written on a command line or as a Kafka `start:`, relative
/// to `now` (ms): a date or timestamp ([`parse_timestamp`]), `now`, `today`,
/// `yesterday`, or one of those with an offset (`now-7d`, `today+1h`).
pub fn parse_time_arg(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    let (base, offset) = match s
        .find(['+', '-'])
        .filter(|&i| i > 0 && s[..i].chars().all(|c| c.is_ascii_alphabetic()))
    {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let anchor = match base {
        "now" => Some(now),
        "today" => Some(window_start(now, DAY)),
        "yesterday" => Some(window_start(now, DAY) - DAY),
        _ => None,
    };
    match anchor {
        Some(a) => {
            let delta = match offset {
                None => 0,
                Some(o) => {
                    let d = parse_duration(&o[1..])?;
                    if o.starts_with('-') { -d } else { d }
                }
            };
            Ok(a + delta)
        }
        None => parse_timestamp(s),
    }
}

/// Formats milliseconds as the shortest exact duration (`90s` → `1m30s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = -rest;
    }
    for (unit, name) in [
        (DAY, "d"),
        (HOUR, "h"),
        (MINUTE, "m"),
        (SECOND, "s"),
        (1, "ms"),
    ] {
        if rest >= unit {
            out.push_str(&format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute() {
        let now = 10 * DAY + 5;
        assert_eq!(parse_time_arg("today", now).unwrap(), 10 * DAY);
        assert_eq!(parse_time_arg("yesterday", now).unwrap(), 9 * DAY);
        assert_eq!(parse_time_arg("today-2d", now).unwrap(), 8 * DAY);
        assert_eq!(parse_time_arg("1970-01-02", now).unwrap(), DAY);
        assert!(parse_time_arg("soon", now).is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-02").unwrap(), DAY);
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z").unwrap(), SECOND);
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.5").unwrap(), 1_500);
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert!(parse_timestamp("yesterday").is_err());
        assert_eq!(format_timestamp(1_500), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), 5_000);
        assert_eq!(parse_duration("1h30m").unwrap(), 90 * MINUTE);
        assert_eq!(parse_duration("250ms").unwrap(), 250);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(format_duration(90 * MINUTE), "1h30m");
    }

    #[test]
    fn dates_and_windows() {
        assert_eq!(format_date(date_of(DAY + 5)), "1970-01-02");
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(date_of(-1), -1);
        assert_eq!(window_start(-1, MINUTE), -MINUTE);
        assert_eq!(window_start(MINUTE, MINUTE), MINUTE);
    }
}
