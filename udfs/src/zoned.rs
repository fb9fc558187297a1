//! Calendar functions in an IANA time zone, after Dagger's `StartOfWeek`,
//! `EndOfWeek`, `StartOfMonth`, `EndOfMonth`, `TimeInDate`,
//! `FormatTimeInZone` and `TimestampFromUnix`.
//!
//! The time argument is a TIMESTAMP (or DATE, read as its UTC midnight) and
//! the result a TIMESTAMP. For drop-in use of Dagger queries it may also be
//! a BIGINT in the unit Dagger's function takes, and the result is then a
//! BIGINT in that unit: milliseconds for StartOfWeek / EndOfWeek, seconds
//! for StartOfMonth / EndOfMonth / TimeInDate.
//!
//! Zones are IANA names (`Asia/Jakarta`, `America/New_York`, `UTC`) from the
//! `chrono-tz` tables. A constant unknown zone is a plan-time error naming
//! the argument; an unknown zone in a column gives NULL (Dagger, through
//! Java's `TimeZone.getTimeZone`, silently uses GMT).
//!
//! Where Quiver differs from Dagger:
//!
//! * Weeks run Monday to Sunday (ISO). Dagger's Calendar arithmetic gives
//!   the same answers except for a Sunday, which it puts in the *next*
//!   Monday-to-Sunday week.
//! * Ends are the last millisecond before the next period starts (23:59:59.999
//!   local time on an ordinary day), for weeks and months alike.
//! * A local time that does not exist (skipped by a daylight-saving change)
//!   is read with the offset in force before the change, i.e. moved forward
//!   by the gap, as Java's lenient Calendar does; an ambiguous one takes the
//!   earlier instant.
//! * TimeInDate takes an hour in 0-23 and a minute in 0-59; others give NULL
//!   (Java rolls them over into the next day or hour).
//! * TimestampFromUnix of a negative number is a time before 1970 (Dagger
//!   takes the absolute value).
//! * FormatTimeInZone takes the Java-style pattern letters DATE_FORMAT
//!   does (no zone letters).

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::Tz;
use quiver_sql::{ArgInfo, ColumnarValue};
use quiver_types::{DataType, Value};

use crate::args::{
    Builtin, EvalResult, Str, arg, arity, arrow_type, int_array, ints, millis, string_array, strs,
    timestamp_array, want, want_int, want_string, want_temporal,
};
use crate::datetime::{Patterns, check_pattern, representable};

/// The zoned calendar functions.
pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        period(
            "STARTOFWEEK",
            "StartOfWeek(t, tz)",
            "Monday 00:00 in zone `tz` of the week holding `t`. TIMESTAMP in, TIMESTAMP out; BIGINT milliseconds in (as Dagger), BIGINT milliseconds out.",
            1,
            start_of_week,
        ),
        period(
            "ENDOFWEEK",
            "EndOfWeek(t, tz)",
            "The last millisecond (Sunday 23:59:59.999) in zone `tz` of the Monday-to-Sunday week holding `t`. TIMESTAMP in, TIMESTAMP out; BIGINT milliseconds in, BIGINT milliseconds out.",
            1,
            end_of_week,
        ),
        period(
            "STARTOFMONTH",
            "StartOfMonth(t, tz)",
            "The first day of the month holding `t`, 00:00 in zone `tz`. TIMESTAMP in, TIMESTAMP out; BIGINT seconds in (as Dagger), BIGINT seconds out.",
            1000,
            start_of_month,
        ),
        period(
            "ENDOFMONTH",
            "EndOfMonth(t, tz)",
            "The last millisecond (23:59:59.999 on the last day) in zone `tz` of the month holding `t`. TIMESTAMP in, TIMESTAMP out; BIGINT seconds in, BIGINT seconds out (23:59:59).",
            1000,
            end_of_month,
        ),
        Builtin::new(
            "TIMEINDATE",
            "TimeInDate(t, hour, minute [, tz])",
            "`hour`:`minute`:00 on the day holding `t` in zone `tz` (default UTC). TIMESTAMP in, TIMESTAMP out; BIGINT seconds in (as Dagger), BIGINT seconds out. NULL for an hour outside 0-23 or a minute outside 0-59.",
            |a| {
                arity(a, 3, Some(4))?;
                let out = time_type(a)?;
                want_int(a, 1)?;
                want_int(a, 2)?;
                if a.len() == 4 {
                    check_zone(a, 3)?;
                }
                Ok(out)
            },
            time_in_date,
        ),
        Builtin::new(
            "FORMATTIMEINZONE",
            "FormatTimeInZone(t, tz, pattern)",
            "`t` as local time in zone `tz`, formatted with a Java-style pattern as DATE_FORMAT takes (`yyyy-MM-dd HH:mm`, `hh:mm a`). Arguments in Dagger's order.",
            |a| {
                arity(a, 3, Some(3))?;
                want_temporal(a, 0)?;
                check_zone(a, 1)?;
                check_pattern(a, 2, false)?;
                Ok(DataType::String)
            },
            |a, n| {
                let t = millis(a, 0)?;
                let mut zones = Zones::new(a, 1)?;
                let mut patterns = Patterns::new(a, 2, false)?;
                Ok(string_array((0..n).map(|i| {
                    let local = local(t.get(i)?, zones.get(i)?)?;
                    Some(patterns.get(i)?.format(&local))
                })))
            },
        ),
        Builtin::new(
            "TIMESTAMPFROMUNIX",
            "TimestampFromUnix(seconds)",
            "The TIMESTAMP `seconds` (BIGINT) after 1970-01-01 00:00 UTC; a negative number is before it (Dagger takes the absolute value).",
            |a| {
                arity(a, 1, Some(1))?;
                want_int(a, 0)?;
                Ok(DataType::Timestamp)
            },
            |a, n| {
                let s = ints(a, 0)?;
                Ok(timestamp_array(
                    (0..n).map(|i| representable(s.get(i)?.checked_mul(1000)?)),
                ))
            },
        ),
    ]
}

// ---------------------------------------------------------------------------
// Zones
// ---------------------------------------------------------------------------

/// The zone named `name` (an IANA name, exact spelling).
pub(crate) fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("unknown time zone '{name}' (use an IANA name like 'Asia/Jakarta' or 'UTC')")
    })
}

/// Checks a zone argument: VARCHAR, and a known zone when constant.
fn check_zone(a: &[ArgInfo<'_>], i: usize) -> Result<(), String> {
    want_string(a, i)?;
    if let Some(Value::String(z)) = a[i].literal {
        parse_zone(z).map_err(|e| format!("argument {}: {e}", i + 1))?;
    }
    Ok(())
}

/// A zone argument: parsed once when constant, per distinct value otherwise
/// (an unknown zone in a column gives NULL).
struct Zones {
    source: Str,
    fixed: Option<Option<Tz>>,
    last: Option<(String, Option<Tz>)>,
}

impl Zones {
    fn new(args: &[ColumnarValue], i: usize) -> Result<Zones, String> {
        let source = strs(args, i)?;
        let fixed = match &source {
            Str::Scalar(Some(z)) => Some(Some(
                parse_zone(z).map_err(|e| format!("argument {}: {e}", i + 1))?,
            )),
            Str::Scalar(None) => Some(None),
            Str::Array(_) => None,
        };
        Ok(Zones {
            source,
            fixed,
            last: None,
        })
    }

    /// UTC for every row.
    fn utc() -> Zones {
        Zones {
            source: Str::Scalar(None),
            fixed: Some(Some(Tz::UTC)),
            last: None,
        }
    }

    fn get(&mut self, i: usize) -> Option<Tz> {
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        let text = self.source.get(i)?;
        if self.last.as_ref().is_none_or(|(t, _)| t != text) {
            self.last = Some((text.to_string(), parse_zone(text).ok()));
        }
        self.last.as_ref().and_then(|(_, z)| *z)
    }
}

// ---------------------------------------------------------------------------
// Local time
// ---------------------------------------------------------------------------

/// The wall-clock time of instant `ms` in `tz`.
pub(crate) fn local(ms: i64, tz: Tz) -> Option<NaiveDateTime> {
    Some(
        DateTime::from_timestamp_millis(ms)?
            .with_timezone(&tz)
            .naive_local(),
    )
}

/// The instant (ms) of wall-clock time `t` in `tz`: the earlier of two for
/// an ambiguous time, and for a time skipped by a forward change, `t` read
/// with the offset in force before the change (so it lands as far after
/// the change as `t` is after its start).
pub(crate) fn instant(t: NaiveDateTime, tz: Tz) -> Option<i64> {
    use chrono::LocalResult;
    use chrono::Offset as _;
    let ms = match tz.from_local_datetime(&t) {
        LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => d.timestamp_millis(),
        LocalResult::None => {
            let before = t.checked_sub_signed(TimeDelta::days(1))?;
            let offset = tz.offset_from_utc_datetime(&before).fix();
            t.checked_sub_signed(TimeDelta::seconds(offset.local_minus_utc().into()))?
                .and_utc()
                .timestamp_millis()
        }
    };
    representable(ms)
}

fn midnight(d: NaiveDate, tz: Tz) -> Option<i64> {
    instant(d.and_hms_opt(0, 0, 0)?, tz)
}

fn monday_of(ms: i64, tz: Tz) -> Option<NaiveDate> {
    let d = local(ms, tz)?.date();
    d.checked_sub_days(Days::new(d.weekday().num_days_from_monday().into()))
}

fn first_of_month(ms: i64, tz: Tz) -> Option<NaiveDate> {
    local(ms, tz)?.date().with_day(1)
}

pub(crate) fn start_of_week(ms: i64, tz: Tz) -> Option<i64> {
    midnight(monday_of(ms, tz)?, tz)
}

pub(crate) fn end_of_week(ms: i64, tz: Tz) -> Option<i64> {
    Some(midnight(monday_of(ms, tz)?.checked_add_days(Days::new(7))?, tz)? - 1)
}

pub(crate) fn start_of_month(ms: i64, tz: Tz) -> Option<i64> {
    midnight(first_of_month(ms, tz)?, tz)
}

pub(crate) fn end_of_month(ms: i64, tz: Tz) -> Option<i64> {
    let next = first_of_month(ms, tz)?.checked_add_months(Months::new(1))?;
    Some(midnight(next, tz)? - 1)
}

// ---------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------

/// The result type for a time argument 1: BIGINT for BIGINT, else TIMESTAMP.
fn time_type(a: &[ArgInfo<'_>]) -> Result<DataType, String> {
    Ok(
        match want(
            a,
            0,
            &[DataType::Timestamp, DataType::Date, DataType::Int64],
        )? {
            DataType::Int64 => DataType::Int64,
            _ => DataType::Timestamp,
        },
    )
}

/// Whether argument 1 arrives as a BIGINT (Dagger's epoch numbers).
fn is_bigint(args: &[ColumnarValue]) -> Result<bool, String> {
    Ok(arrow_type(arg(args, 0)?).is_integer())
}

/// Applies `f` to argument 1 as instants, converting a BIGINT in `unit_ms`
/// milliseconds to and from instants.
fn map_instants(
    args: &[ColumnarValue],
    n: usize,
    unit_ms: i64,
    mut f: impl FnMut(usize, i64) -> Option<i64>,
) -> EvalResult {
    if is_bigint(args)? {
        let x = ints(args, 0)?;
        Ok(int_array((0..n).map(|i| {
            let ms = x.get(i)?.checked_mul(unit_ms)?;
            Some(f(i, ms)?.div_euclid(unit_ms))
        })))
    } else {
        let t = millis(args, 0)?;
        Ok(timestamp_array((0..n).map(|i| f(i, t.get(i)?))))
    }
}

/// A `(t, tz)` function mapping an instant to another.
fn period(
    name: &'static str,
    signature: &'static str,
    doc: &'static str,
    bigint_unit_ms: i64,
    f: fn(i64, Tz) -> Option<i64>,
) -> Builtin {
    Builtin::new(
        name,
        signature,
        doc,
        |a| {
            arity(a, 2, Some(2))?;
            let out = time_type(a)?;
            check_zone(a, 1)?;
            Ok(out)
        },
        move |a, n| {
            let mut zones = Zones::new(a, 1)?;
            map_instants(a, n, bigint_unit_ms, |i, ms| f(ms, zones.get(i)?))
        },
    )
}

fn time_in_date(args: &[ColumnarValue], n: usize) -> EvalResult {
    let (hour, minute) = (ints(args, 1)?, ints(args, 2)?);
    let mut zones = if args.len() > 3 {
        Zones::new(args, 3)?
    } else {
        Zones::utc()
    };
    map_instants(args, n, 1000, |i, ms| {
        let (h, m) = (hour.get(i)?, minute.get(i)?);
        if !(0..24).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        let tz = zones.get(i)?;
        instant(
            local(ms, tz)?.date().and_hms_opt(h as u32, m as u32, 0)?,
            tz,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::*;

    /// 2019-07-04 07:19:18 UTC, a Thursday: Dagger's test instant.
    const T: i64 = 1_562_224_758_000;

    fn one(name: &str, args: &[ColumnarValue]) -> Value {
        call(name, args).remove(0)
    }

    fn ms(name: &str, t: i64, tz: &str) -> Value {
        one(name, &[lit(Value::Int64(t)), lit(s(tz))])
    }

    #[test]
    fn week_matches_dagger() {
        // Dagger's StartOfWeekTest / EndOfWeekTest (BIGINT milliseconds).
        for (tz, start, end) in [
            ("Asia/Kolkata", 1_561_919_400_000, 1_562_524_199_999),
            ("Asia/Jakarta", 1_561_914_000_000, 1_562_518_799_999),
            ("UTC", 1_561_939_200_000, 1_562_543_999_999),
        ] {
            assert_eq!(ms("STARTOFWEEK", T, tz), Value::Int64(start), "{tz}");
            assert_eq!(ms("ENDOFWEEK", T, tz), Value::Int64(end), "{tz}");
        }
        assert_eq!(
            ms("STARTOFWEEK", 1_561_939_200_000, "UTC"),
            Value::Int64(1_561_939_200_000)
        );
        assert_eq!(
            ms("ENDOFWEEK", 1_561_939_200_000, "UTC"),
            Value::Int64(1_562_543_999_999)
        );
        // A Sunday belongs to the week that started the Monday before.
        let sunday = ts("2019-07-07 12:00:00");
        assert_eq!(
            one("STARTOFWEEK", &[ts_col(&[Some(sunday)]), lit(s("UTC"))]),
            Value::Timestamp(ts("2019-07-01 00:00:00"))
        );
    }

    #[test]
    fn month_matches_dagger() {
        // Dagger's StartOfMonthTest / EndOfMonthTest (BIGINT seconds).
        for (tz, start, end) in [
            ("Asia/Kolkata", 1_561_919_400, 1_564_597_799),
            ("UTC", 1_561_939_200, 1_564_617_599),
            ("Asia/Jakarta", 1_561_914_000, 1_564_592_399),
        ] {
            assert_eq!(
                ms("STARTOFMONTH", T / 1000, tz),
                Value::Int64(start),
                "{tz}"
            );
            assert_eq!(ms("ENDOFMONTH", T / 1000, tz), Value::Int64(end), "{tz}");
        }
        // TIMESTAMP in, TIMESTAMP out, to the millisecond; February of a
        // leap year; a DATE is its UTC midnight.
        let out = call(
            "ENDOFMONTH",
            &[
                ts_col(&[Some(ts("2024-02-10 10:00:00")), None]),
                lit(s("UTC")),
            ],
        );
        assert_eq!(
            out,
            vec![Value::Timestamp(ts("2024-02-29 23:59:59.999")), Value::Null]
        );
        assert_eq!(
            one("STARTOFMONTH", &[lit(Value::Date(19_000)), lit(s("UTC"))]),
            Value::Timestamp(ts("2022-01-01 00:00:00"))
        );
    }

    #[test]
    fn time_in_date_matches_dagger() {
        for (tz, want) in [
            ("Asia/Kolkata", 1_562_254_200),
            ("Asia/Jakarta", 1_562_248_800),
            ("UTC", 1_562_274_000),
        ] {
            let got = one(
                "TIMEINDATE",
                &[
                    lit(Value::Int64(T / 1000)),
                    lit(Value::Int64(21)),
                    lit(Value::Int64(0)),
                    lit(s(tz)),
                ],
            );
            assert_eq!(got, Value::Int64(want), "{tz}");
        }
        // Three arguments: UTC.
        assert_eq!(
            one(
                "TIMEINDATE",
                &[
                    ts_col(&[Some(T)]),
                    lit(Value::Int64(21)),
                    lit(Value::Int64(0))
                ]
            ),
            Value::Timestamp(1_562_274_000_000)
        );
        // Out-of-range hours and minutes, and NULLs.
        let out = call(
            "TIMEINDATE",
            &[
                ts_col(&[Some(T), Some(T), Some(T), None, Some(T)]),
                int_col(&[Some(24), Some(-1), Some(1), Some(1), None]),
                int_col(&[Some(0), Some(0), Some(60), Some(0), Some(0)]),
            ],
        );
        assert_eq!(out, vec![Value::Null; 5]);
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps() {
        let ny = "America/New_York";
        let day = |d: &str| Value::Timestamp(ts(d));
        let at = |t: &str, h: i64, m: i64, tz: &str| {
            one(
                "TIMEINDATE",
                &[
                    lit(Value::Timestamp(ts(t))),
                    lit(Value::Int64(h)),
                    lit(Value::Int64(m)),
                    lit(s(tz)),
                ],
            )
        };
        // 02:30 does not exist on 2019-03-10: it reads as 03:30 EDT.
        assert_eq!(
            at("2019-03-10 12:00:00", 2, 30, ny),
            day("2019-03-10 07:30:00")
        );
        // 01:30 happens twice on 2019-11-03: the first (EDT) one.
        assert_eq!(
            at("2019-11-03 12:00:00", 1, 30, ny),
            day("2019-11-03 05:30:00")
        );
        // Sao Paulo skipped midnight on 2018-11-04: the day starts at 01:00.
        assert_eq!(
            at("2018-11-04 12:00:00", 0, 0, "America/Sao_Paulo"),
            day("2018-11-04 03:00:00")
        );
        // A month that starts in EST and ends in EDT.
        assert_eq!(
            one(
                "ENDOFMONTH",
                &[lit(Value::Timestamp(ts("2019-03-15 00:00:00"))), lit(s(ny))]
            ),
            day("2019-04-01 03:59:59.999")
        );
    }

    #[test]
    fn format_time_in_zone_matches_dagger() {
        let t = lit(Value::Timestamp(1_607_003_114_000));
        let f = |tz: &str, p: &str| one("FORMATTIMEINZONE", &[t.clone(), lit(s(tz)), lit(s(p))]);
        assert_eq!(f("Asia/Kolkata", "hh:mm aa"), s("07:15 PM"));
        assert_eq!(f("Asia/Jakarta", "hh:mm aa"), s("08:45 PM"));
        assert_eq!(f("Asia/Kolkata", "yyyy/MM/dd"), s("2020/12/03"));
        // Zones from a column: an unknown one gives NULL.
        let out = call(
            "FORMATTIMEINZONE",
            &[
                ts_col(&[Some(0), Some(0), Some(0), None]),
                strings(&[Some("Asia/Tokyo"), Some("Mars/Olympus"), None, Some("UTC")]),
                lit(s("yyyy-MM-dd HH:mm")),
            ],
        );
        assert_eq!(
            out,
            vec![s("1970-01-01 09:00"), Value::Null, Value::Null, Value::Null]
        );
    }

    #[test]
    fn zones_from_a_column() {
        let out = call(
            "STARTOFWEEK",
            &[
                ts_col(&[Some(T), Some(T), Some(T)]),
                strings(&[Some("Asia/Jakarta"), Some("nowhere"), Some("UTC")]),
            ],
        );
        assert_eq!(
            out,
            vec![
                Value::Timestamp(1_561_914_000_000),
                Value::Null,
                Value::Timestamp(1_561_939_200_000)
            ]
        );
    }

    #[test]
    fn timestamp_from_unix() {
        let out = call(
            "TIMESTAMPFROMUNIX",
            &[int_col(&[
                Some(1_554_101_494),
                Some(0),
                Some(-86_400),
                None,
                Some(i64::MAX),
            ])],
        );
        assert_eq!(
            out,
            vec![
                Value::Timestamp(ts("2019-04-01 06:51:34")),
                Value::Timestamp(0),
                Value::Timestamp(ts("1969-12-31 00:00:00")),
                Value::Null,
                Value::Null,
            ]
        );
    }

    #[test]
    fn bigint_inputs_out_of_range_give_null() {
        assert_eq!(ms("STARTOFMONTH", i64::MAX, "UTC"), Value::Null);
        assert_eq!(ms("ENDOFWEEK", i64::MIN, "UTC"), Value::Null);
    }

    #[test]
    fn type_errors_name_the_argument() {
        let mars: &'static Value = Box::leak(Box::new(s("Mars/Olympus")));
        let zone = ArgInfo {
            data_type: DataType::String,
            literal: Some(mars),
        };
        assert_eq!(
            type_error("STARTOFWEEK", &[ty(DataType::Timestamp), zone]),
            "argument 2: unknown time zone 'Mars/Olympus' (use an IANA name like 'Asia/Jakarta' or 'UTC')"
        );
        assert_eq!(
            type_error("ENDOFMONTH", &[ty(DataType::String), ty(DataType::String)]),
            "argument 1 must be TIMESTAMP, DATE or BIGINT, found VARCHAR"
        );
        assert_eq!(
            type_error(
                "TIMEINDATE",
                &[
                    ty(DataType::Timestamp),
                    ty(DataType::Int64),
                    ty(DataType::String)
                ]
            ),
            "argument 3 must be BIGINT, found VARCHAR"
        );
        assert_eq!(
            type_error(
                "FORMATTIMEINZONE",
                &[
                    ty(DataType::Timestamp),
                    ty(DataType::Int64),
                    ty(DataType::String)
                ]
            ),
            "argument 2 must be VARCHAR, found BIGINT"
        );
        assert_eq!(
            type_error("TIMESTAMPFROMUNIX", &[ty(DataType::Float64)]),
            "argument 1 must be BIGINT, found DOUBLE"
        );
        // The result type follows the time argument.
        use quiver_sql::FunctionRegistry;
        let f = crate::registry().scalar("STARTOFMONTH").unwrap();
        assert_eq!(
            f.return_type(&[ty(DataType::Int64), ty(DataType::String)]),
            Ok(DataType::Int64)
        );
        assert_eq!(
            f.return_type(&[ty(DataType::Date), ty(DataType::String)]),
            Ok(DataType::Timestamp)
        );
    }
}
