//! `--start` / `--end` / `--at` values: a date, a timestamp, `now`,
//! `today`, `yesterday`, or `now-7d` / `today-1d` style offsets.

use quiver_types::time::{DAY, parse_duration, parse_timestamp, window_start};

/// Parses a time argument relative to `now` (ms).
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
}
