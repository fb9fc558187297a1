//! Date and time functions. A TIMESTAMP is milliseconds since the Unix
//! epoch in UTC and a DATE is days since the epoch; every function taking a
//! TIMESTAMP also takes a DATE (read as its midnight). Calendar arithmetic
//! uses chrono's proleptic Gregorian calendar; a value outside chrono's range
//! (about ±262,000 years) or a result that would leave it gives NULL.
//!
//! Units are constant strings: the planner turns `FLOOR(ts TO DAY)`,
//! `EXTRACT(DAY FROM ts)` and `TIMESTAMPADD(DAY, ...)` into calls whose unit
//! argument is the literal `'DAY'`.
//!
//! DATE_FORMAT, TO_TIMESTAMP and TO_DATE take Java-style patterns (see
//! [`Pattern`]).

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Timelike};
use quiver_sql::{ArgInfo, ColumnarValue};
use quiver_types::{DataType, Value};

use crate::args::{
    Builtin, DAY_MS, EvalResult, Prim, Str, arg, arity, date_array, floats, int_array, ints,
    millis, string_array, strs, timestamp_array, unit, unit_value, want, want_number, want_string,
    want_temporal,
};

// ---------------------------------------------------------------------------
// Calendar helpers
// ---------------------------------------------------------------------------

/// The UTC date and time of `ms`, if chrono can represent it.
pub(crate) fn to_datetime(ms: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(ms).map(|d| d.naive_utc())
}

/// Milliseconds since the epoch of a UTC date and time.
pub(crate) fn from_datetime(dt: NaiveDateTime) -> i64 {
    dt.and_utc().timestamp_millis()
}

/// `ms` if chrono can represent it (so that later formatting works).
pub(crate) fn representable(ms: i64) -> Option<i64> {
    to_datetime(ms).map(|_| ms)
}

/// Days in `month` of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    match (
        NaiveDate::from_ymd_opt(ny, nm, 1),
        NaiveDate::from_ymd_opt(year, month, 1),
    ) {
        (Some(next), Some(first)) => (next - first).num_days() as u32,
        _ => 31,
    }
}

/// A unit of FLOOR/CEIL, TIMESTAMPADD and TIMESTAMPDIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    /// Weeks start on Monday (ISO), as DuckDB's `date_trunc('week', ...)`.
    Week,
    Month,
    Quarter,
    Year,
}

/// The unit names accepted in unit arguments.
pub(crate) const UNITS: &[(&str, Unit)] = &[
    ("SECOND", Unit::Second),
    ("MINUTE", Unit::Minute),
    ("HOUR", Unit::Hour),
    ("DAY", Unit::Day),
    ("WEEK", Unit::Week),
    ("MONTH", Unit::Month),
    ("QUARTER", Unit::Quarter),
    ("YEAR", Unit::Year),
];

impl Unit {
    /// The length in milliseconds of a fixed-length unit (SECOND..WEEK).
    fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Unit::Second => 1_000,
            Unit::Minute => 60_000,
            Unit::Hour => 3_600_000,
            Unit::Day => DAY_MS,
            Unit::Week => 7 * DAY_MS,
            Unit::Month | Unit::Quarter | Unit::Year => return None,
        })
    }

    /// The number of months in a calendar unit (MONTH, QUARTER, YEAR).
    fn months(self) -> i64 {
        match self {
            Unit::Quarter => 3,
            Unit::Year => 12,
            _ => 1,
        }
    }
}

/// Reads the unit argument `i` of FLOOR/CEIL (for the numeric family's
/// shared FLOOR and CEIL).
pub(crate) fn trunc_unit(a: &[ArgInfo<'_>], i: usize) -> Result<Unit, String> {
    unit(a, i, UNITS)
}

/// Argument `i` must be TIMESTAMP or DATE.
pub(crate) fn want_time(a: &[ArgInfo<'_>], i: usize) -> Result<DataType, String> {
    want_temporal(a, i)
}

/// `t` rounded down to a multiple of `unit` (weeks start on Monday).
pub(crate) fn floor_ms(t: i64, unit: Unit) -> Option<i64> {
    match unit {
        Unit::Week => {
            // 1970-01-05 was a Monday.
            let offset = t.checked_sub(4 * DAY_MS)?.rem_euclid(7 * DAY_MS);
            t.checked_sub(offset)
        }
        Unit::Second | Unit::Minute | Unit::Hour | Unit::Day => {
            let size = unit.fixed_ms()?;
            t.checked_sub(t.rem_euclid(size))
        }
        Unit::Month | Unit::Quarter | Unit::Year => {
            let dt = to_datetime(t)?;
            let month = match unit {
                Unit::Month => dt.month(),
                Unit::Quarter => (dt.month() - 1) / 3 * 3 + 1,
                _ => 1,
            };
            Some(from_datetime(
                NaiveDate::from_ymd_opt(dt.year(), month, 1)?.and_hms_opt(0, 0, 0)?,
            ))
        }
    }
}

/// `t` rounded up to a multiple of `unit`; an aligned `t` is itself.
pub(crate) fn ceil_ms(t: i64, unit: Unit) -> Option<i64> {
    let f = floor_ms(t, unit)?;
    if f == t {
        Some(t)
    } else {
        add_units(f, unit, 1)
    }
}

/// `t` plus `n` units. Months, quarters and years clamp to the end of the
/// month (Jan 31 + 1 month = Feb 29 in a leap year).
pub(crate) fn add_units(t: i64, unit: Unit, n: i64) -> Option<i64> {
    let out = match unit.fixed_ms() {
        Some(size) => t.checked_add(n.checked_mul(size)?)?,
        None => {
            let months = n.checked_mul(unit.months())?;
            let dt = to_datetime(t)?;
            let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            from_datetime(if months >= 0 {
                dt.checked_add_months(m)?
            } else {
                dt.checked_sub_months(m)?
            })
        }
    };
    representable(out)
}

/// Whole calendar months from `start` to `end`, truncated toward zero, as
/// DuckDB's `date_sub('month', start, end)` on UTC timestamps: a month counts
/// once the day of month and time of day are reached again. When `end` is
/// the last day of its month, a `start` on a later day number counts as that
/// last day (Jan 31 to Feb 29 is one month). The rule looks at `end` in both
/// directions, so the result is not simply antisymmetric.
pub(crate) fn months_between(start: i64, end: i64) -> Option<i64> {
    let (s, e) = (to_datetime(start)?, to_datetime(end)?);
    let end_days = days_in_month(e.year(), e.month());
    let start_day = if e.day() == end_days {
        s.day().min(end_days)
    } else {
        s.day()
    };
    let (ks, ke) = ((start_day, s.time()), (e.day(), e.time()));
    let months = (e.year() as i64 - s.year() as i64) * 12 + (e.month() as i64 - s.month() as i64);
    Some(if start <= end {
        months - i64::from(ke < ks)
    } else {
        months + i64::from(ks < ke)
    })
}

/// Whole `unit`s from `start` to `end`, truncated toward zero.
pub(crate) fn diff_units(start: i64, end: i64, unit: Unit) -> Option<i64> {
    match unit.fixed_ms() {
        Some(size) => i64::try_from((end as i128 - start as i128) / size as i128).ok(),
        None => Some(months_between(start, end)? / unit.months()),
    }
}

// ---------------------------------------------------------------------------
// Date parts
// ---------------------------------------------------------------------------

/// A field EXTRACT can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Year,
    Quarter,
    Month,
    /// ISO week of the year (1..53).
    Week,
    /// Day of the month.
    Day,
    Hour,
    Minute,
    /// Second of the minute.
    Second,
    /// Milliseconds within the minute, seconds included (0..59999), as DuckDB and PostgreSQL.
    Millisecond,
    /// 1 = Sunday .. 7 = Saturday.
    Dow,
    /// 1 = Monday .. 7 = Sunday.
    IsoDow,
    Doy,
    /// The ISO week-numbering year.
    IsoYear,
    /// Whole seconds since the epoch, rounded down.
    Epoch,
}

/// The field names EXTRACT accepts (as sqlparser prints them).
pub(crate) const PARTS: &[(&str, Part)] = &[
    ("YEAR", Part::Year),
    ("QUARTER", Part::Quarter),
    ("MONTH", Part::Month),
    ("WEEK", Part::Week),
    ("ISOWEEK", Part::Week),
    ("DAY", Part::Day),
    ("HOUR", Part::Hour),
    ("MINUTE", Part::Minute),
    ("SECOND", Part::Second),
    ("MILLISECOND", Part::Millisecond),
    ("DOW", Part::Dow),
    ("DAYOFWEEK", Part::Dow),
    ("ISODOW", Part::IsoDow),
    ("DOY", Part::Doy),
    ("DAYOFYEAR", Part::Doy),
    ("ISOYEAR", Part::IsoYear),
    ("EPOCH", Part::Epoch),
];

/// Field `part` of the timestamp `ms`.
pub(crate) fn part_of(ms: i64, part: Part) -> Option<i64> {
    if part == Part::Epoch {
        return Some(ms.div_euclid(1000));
    }
    let dt = to_datetime(ms)?;
    Some(match part {
        Part::Year => dt.year() as i64,
        Part::Quarter => ((dt.month() - 1) / 3 + 1) as i64,
        Part::Month => dt.month() as i64,
        Part::Week => dt.iso_week().week() as i64,
        Part::Day => dt.day() as i64,
        Part::Hour => dt.hour() as i64,
        Part::Minute => dt.minute() as i64,
        Part::Second => dt.second() as i64,
        Part::Millisecond => (dt.second() * 1000 + dt.nanosecond() / 1_000_000) as i64,
        Part::Dow => dt.weekday().num_days_from_sunday() as i64 + 1,
        Part::IsoDow => dt.weekday().number_from_monday() as i64,
        Part::Doy => dt.ordinal() as i64,
        Part::IsoYear => dt.iso_week().year() as i64,
        Part::Epoch => ms.div_euclid(1000),
    })
}

fn parts(args: &[ColumnarValue], n: usize, i: usize, part: Part) -> EvalResult {
    let t = millis(args, i)?;
    Ok(match t {
        Prim::Array(a) => {
            std::sync::Arc::new(a.unary_opt::<_, arrow::datatypes::Int64Type>(|v| part_of(v, part)))
        }
        Prim::Scalar(v) => int_array(std::iter::repeat_n(v.and_then(|v| part_of(v, part)), n)),
    })
}

// ---------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// A run of one pattern letter: the letter and how many times it repeats.
    Field(char, usize),
}

/// A compiled Java-style date pattern (`yyyy-MM-dd HH:mm:ss.SSS`).
///
/// | letters | meaning |
/// |---|---|
/// | `yyyy`, `yy` | year (4+ digits), two-digit year (parsing: 2000-2099) |
/// | `MM`, `M`, `MMM`, `MMMM` | month number, `Jan`, `January` (names only when formatting) |
/// | `dd`, `d` | day of month |
/// | `HH`, `H` / `hh`, `h` + `a` | hour 0-23 / hour 1-12 with `AM`/`PM` |
/// | `mm`, `ss` | minute, second |
/// | `SSS` | fraction of a second (`S` = tenths, `SS` = hundredths) |
/// | `D`, `EEE`, `EEEE` | day of year, `Mon`, `Monday` (formatting only) |
/// | `'text'`, `''` | literal text, a single quote |
///
/// Other ASCII letters are errors; every other character is literal. In
/// parsing, a field of two or more letters takes exactly that many digits
/// (as does any field directly followed by another number field); a single
/// letter takes one or more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl Pattern {
    /// Compiles `pattern`, rejecting unknown letters and unclosed quotes.
    pub(crate) fn compile(pattern: &str) -> Result<Pattern, String> {
        let mut tokens: Vec<Token> = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        None => return Err(format!("unclosed quote in pattern '{pattern}'")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(q) => literal.push(q),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                if !"yMdHhmsSaDE".contains(c) {
                    return Err(format!(
                        "unsupported pattern letter '{c}' in '{pattern}' (use yyyy MM dd HH mm ss SSS)"
                    ));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field(c, count));
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Pattern { tokens })
    }

    /// Compiles a pattern for parsing, which needs numbers (and `a`) only.
    pub(crate) fn compile_for_parsing(pattern: &str) -> Result<Pattern, String> {
        let p = Pattern::compile(pattern)?;
        for t in &p.tokens {
            if let Token::Field(c, count) = t
                && (matches!(c, 'D' | 'E') || (*c == 'M' && *count > 2))
            {
                let run: String = std::iter::repeat_n(*c, *count).collect();
                return Err(format!(
                    "pattern field '{run}' cannot be parsed; use numbers (yyyy MM dd HH mm ss SSS)"
                ));
            }
        }
        Ok(p)
    }

    /// Formats a UTC date and time.
    pub(crate) fn format(&self, dt: &NaiveDateTime) -> String {
        let mut out = String::with_capacity(24);
        let pad = |out: &mut String, v: i64, width: usize| {
            if v < 0 {
                out.push('-');
            }
            out.push_str(&format!("{:0width$}", v.unsigned_abs()));
        };
        for t in &self.tokens {
            match t {
                Token::Literal(l) => out.push_str(l),
                Token::Field(c, n) => {
                    let n = *n;
                    match c {
                        'y' if n == 2 => pad(&mut out, dt.year().rem_euclid(100) as i64, 2),
                        'y' => pad(&mut out, dt.year() as i64, n),
                        'M' if n == 3 => out.push_str(&MONTHS[dt.month0() as usize][..3]),
                        'M' if n > 3 => out.push_str(MONTHS[dt.month0() as usize]),
                        'M' => pad(&mut out, dt.month() as i64, n),
                        'd' => pad(&mut out, dt.day() as i64, n),
                        'D' => pad(&mut out, dt.ordinal() as i64, n),
                        'H' => pad(&mut out, dt.hour() as i64, n),
                        'h' => pad(&mut out, dt.hour12().1 as i64, n),
                        'a' => out.push_str(if dt.hour12().0 { "PM" } else { "AM" }),
                        'm' => pad(&mut out, dt.minute() as i64, n),
                        's' => pad(&mut out, dt.second() as i64, n),
                        'S' => {
                            let ms = format!("{:03}", dt.nanosecond() / 1_000_000 % 1000);
                            if n <= 3 {
                                out.push_str(&ms[..n]);
                            } else {
                                out.push_str(&ms);
                                out.extend(std::iter::repeat_n('0', n - 3));
                            }
                        }
                        'E' => {
                            let name = WEEKDAYS[dt.weekday().num_days_from_monday() as usize];
                            out.push_str(if n <= 3 { &name[..3] } else { name });
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// Parses `s` as a UTC timestamp (milliseconds); the whole string must
    /// match and the date and time must exist. Missing fields default to
    /// 1970-01-01 00:00:00.000.
    pub(crate) fn parse(&self, s: &str) -> Option<i64> {
        let (mut year, mut month, mut day) = (1970i32, 1u32, 1u32);
        let (mut hour, mut minute, mut second, mut milli) = (0u32, 0u32, 0u32, 0u32);
        let (mut hour12, mut pm): (Option<u32>, Option<bool>) = (None, None);
        let mut rest = s;
        for (k, t) in self.tokens.iter().enumerate() {
            match t {
                Token::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Token::Field('a', _) => {
                    let head = rest.get(..2)?;
                    pm = Some(match head.to_ascii_uppercase().as_str() {
                        "AM" => false,
                        "PM" => true,
                        _ => return None,
                    });
                    rest = &rest[2..];
                }
                Token::Field(c, n) => {
                    let next_is_number =
                        matches!(self.tokens.get(k + 1), Some(Token::Field(d, _)) if *d != 'a');
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let take = if *n >= 2 || next_is_number {
                        if digits < *n {
                            return None;
                        }
                        *n
                    } else if digits == 0 {
                        return None;
                    } else {
                        digits.min(9)
                    };
                    let (text, tail) = rest.split_at(take);
                    rest = tail;
                    let v: u32 = text.parse().ok()?;
                    match c {
                        'y' if *n == 2 => year = 2000 + v as i32,
                        'y' => year = i32::try_from(v).ok()?,
                        'M' => month = v,
                        'd' => day = v,
                        'H' => hour = v,
                        'h' => hour12 = Some(v),
                        'm' => minute = v,
                        's' => second = v,
                        'S' => {
                            let mut frac = text.to_string();
                            frac.truncate(3);
                            while frac.len() < 3 {
                                frac.push('0');
                            }
                            milli = frac.parse().ok()?;
                        }
                        _ => return None,
                    }
                }
            }
        }
        if !rest.is_empty() {
            return None;
        }
        if let Some(h) = hour12 {
            if !(1..=12).contains(&h) {
                return None;
            }
            hour = h % 12 + if pm == Some(true) { 12 } else { 0 };
        } else if pm == Some(true) && hour < 12 {
            hour += 12;
        }
        let dt = NaiveDate::from_ymd_opt(year, month, day)?
            .and_hms_milli_opt(hour, minute, second, milli)?;
        representable(from_datetime(dt))
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.f`, `.ff` or `.fff`, strictly.
pub(crate) fn parse_sql_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = |i: usize, c: u8| {
        b.get(i).is_some_and(|&x| {
            if c == b'9' {
                x.is_ascii_digit()
            } else {
                x == c
            }
        })
    };
    if !b"9999-99-99 99:99:99"
        .iter()
        .enumerate()
        .all(|(i, &c)| shape(i, c))
    {
        return None;
    }
    let frac = &s[19..];
    let millis = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if (1..=3).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(3 - f.len() as u32)
        }
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let dt = date.and_hms_milli_opt(num(11..13)?, num(14..16)?, num(17..19)?, millis)?;
    Some(from_datetime(dt))
}

/// `YYYY-MM-DD`, strictly, as days since the epoch.
pub(crate) fn parse_sql_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !b
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        s[0..4].parse().ok()?,
        s[5..7].parse().ok()?,
        s[8..10].parse().ok()?,
    )?;
    Some((date - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// A pattern argument: compiled once when it is a constant, per distinct
/// value otherwise (an invalid pattern in a column gives NULL).
pub(crate) struct Patterns {
    source: Str,
    fixed: Option<Option<Pattern>>,
    last: Option<(String, Option<Pattern>)>,
    parsing: bool,
}

impl Patterns {
    pub(crate) fn new(args: &[ColumnarValue], i: usize, parsing: bool) -> Result<Patterns, String> {
        let source = strs(args, i)?;
        let compile = |p: &str| {
            if parsing {
                Pattern::compile_for_parsing(p)
            } else {
                Pattern::compile(p)
            }
        };
        let fixed = match &source {
            Str::Scalar(Some(p)) => Some(Some(compile(p)?)),
            Str::Scalar(None) => Some(None),
            Str::Array(_) => None,
        };
        Ok(Patterns {
            source,
            fixed,
            last: None,
            parsing,
        })
    }

    pub(crate) fn get(&mut self, i: usize) -> Option<&Pattern> {
        if let Some(fixed) = &self.fixed {
            return fixed.as_ref();
        }
        let text = self.source.get(i)?;
        if self.last.as_ref().is_none_or(|(t, _)| t != text) {
            let p = if self.parsing {
                Pattern::compile_for_parsing(text)
            } else {
                Pattern::compile(text)
            };
            self.last = Some((text.to_string(), p.ok()));
        }
        self.last.as_ref().and_then(|(_, p)| p.as_ref())
    }
}

/// Checks a constant pattern argument at plan time.
pub(crate) fn check_pattern(a: &[ArgInfo<'_>], i: usize, parsing: bool) -> Result<(), String> {
    want_string(a, i)?;
    if let Some(Value::String(p)) = a[i].literal {
        let r = if parsing {
            Pattern::compile_for_parsing(p)
        } else {
            Pattern::compile(p)
        };
        r.map_err(|e| format!("argument {}: {e}", i + 1))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

/// FLOOR(t, unit) / CEIL(t, unit); a DATE stays a DATE.
pub(crate) fn floor_ceil_time(args: &[ColumnarValue], n: usize, ceil: bool) -> EvalResult {
    let u = unit_value(args, 1, UNITS)?;
    let is_date = matches!(arg(args, 0)?, ColumnarValue::Scalar(Value::Date(_)))
        || matches!(arg(args, 0)?, ColumnarValue::Array(a) if *a.data_type() == arrow::datatypes::DataType::Date32);
    let t = millis(args, 0)?;
    let f = |v: i64| if ceil { ceil_ms(v, u) } else { floor_ms(v, u) };
    let values = (0..n).map(|i| t.get(i).and_then(f));
    Ok(if is_date {
        date_array(values.map(|v| v.and_then(|ms| i32::try_from(ms.div_euclid(DAY_MS)).ok())))
    } else {
        timestamp_array(values)
    })
}

fn part_function(
    name: &'static str,
    doc: &'static str,
    signature: &'static str,
    part: Part,
) -> Builtin {
    Builtin::new(
        name,
        signature,
        doc,
        |a| {
            arity(a, 1, Some(1))?;
            want_temporal(a, 0)?;
            Ok(DataType::Int64)
        },
        move |a, n| parts(a, n, 0, part),
    )
}

/// The date and time functions (FLOOR and CEIL are in [`crate::math`]).
pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        Builtin::new(
            "EXTRACT",
            "EXTRACT(unit FROM t)",
            "A field of `t` as BIGINT: YEAR, QUARTER, MONTH, WEEK (ISO), DAY, HOUR, MINUTE, SECOND, MILLISECOND, DOW (1 = Sunday), ISODOW, DOY, ISOYEAR, EPOCH (floor seconds).",
            |a| {
                arity(a, 2, Some(2))?;
                unit(a, 0, PARTS)?;
                want_temporal(a, 1)?;
                Ok(DataType::Int64)
            },
            |a, n| parts(a, n, 1, unit_value(a, 0, PARTS)?),
        ),
        part_function("YEAR", "The year of `t`.", "YEAR(t)", Part::Year),
        part_function(
            "QUARTER",
            "The quarter of `t` (1-4).",
            "QUARTER(t)",
            Part::Quarter,
        ),
        part_function("MONTH", "The month of `t` (1-12).", "MONTH(t)", Part::Month),
        part_function("WEEK", "The ISO week of `t` (1-53).", "WEEK(t)", Part::Week),
        part_function(
            "DAYOFMONTH",
            "The day of the month of `t` (1-31).",
            "DAYOFMONTH(t)",
            Part::Day,
        ),
        part_function(
            "DAYOFYEAR",
            "The day of the year of `t` (1-366).",
            "DAYOFYEAR(t)",
            Part::Doy,
        ),
        part_function(
            "DAYOFWEEK",
            "The day of the week of `t`, 1 = Sunday .. 7 = Saturday.",
            "DAYOFWEEK(t)",
            Part::Dow,
        ),
        part_function("HOUR", "The hour of `t` (0-23).", "HOUR(t)", Part::Hour),
        part_function(
            "MINUTE",
            "The minute of `t` (0-59).",
            "MINUTE(t)",
            Part::Minute,
        ),
        part_function(
            "SECOND",
            "The second of `t` (0-59).",
            "SECOND(t)",
            Part::Second,
        ),
        Builtin::new(
            "DATE_FORMAT",
            "DATE_FORMAT(t, pattern)",
            "`t` (UTC) formatted with a Java-style pattern such as 'yyyy-MM-dd HH:mm:ss.SSS'.",
            |a| {
                arity(a, 2, Some(2))?;
                want_temporal(a, 0)?;
                check_pattern(a, 1, false)?;
                Ok(DataType::String)
            },
            date_format,
        ),
        Builtin::new(
            "TIMESTAMPADD",
            "TIMESTAMPADD(unit, n, t)",
            "`t` plus `n` SECONDs .. YEARs, as TIMESTAMP; months clamp to the month end; NULL on overflow.",
            |a| {
                arity(a, 3, Some(3))?;
                unit(a, 0, UNITS)?;
                want(a, 1, &[DataType::Int64])?;
                want_temporal(a, 2)?;
                Ok(DataType::Timestamp)
            },
            |a, n| {
                let u = unit_value(a, 0, UNITS)?;
                let (k, t) = (ints(a, 1)?, millis(a, 2)?);
                Ok(timestamp_array(
                    (0..n).map(|i| add_units(t.get(i)?, u, k.get(i)?)),
                ))
            },
        ),
        Builtin::new(
            "TIMESTAMPDIFF",
            "TIMESTAMPDIFF(unit, a, b)",
            "Whole SECONDs .. YEARs from `a` to `b`, truncated toward zero (months compare day and time of day).",
            |a| {
                arity(a, 3, Some(3))?;
                unit(a, 0, UNITS)?;
                want_temporal(a, 1)?;
                want_temporal(a, 2)?;
                Ok(DataType::Int64)
            },
            |a, n| {
                let u = unit_value(a, 0, UNITS)?;
                let (x, y) = (millis(a, 1)?, millis(a, 2)?);
                Ok(int_array(
                    (0..n).map(|i| diff_units(x.get(i)?, y.get(i)?, u)),
                ))
            },
        ),
        Builtin::new(
            "TO_TIMESTAMP",
            "TO_TIMESTAMP(s [, pattern])",
            "Parses 'YYYY-MM-DD HH:MM:SS[.fff]' (or a Java-style pattern) as a UTC TIMESTAMP; NULL if it does not match.",
            |a| {
                arity(a, 1, Some(2))?;
                want_string(a, 0)?;
                if a.len() > 1 {
                    check_pattern(a, 1, true)?;
                }
                Ok(DataType::Timestamp)
            },
            |a, n| {
                let s = strs(a, 0)?;
                if a.len() < 2 {
                    return Ok(timestamp_array(
                        (0..n).map(|i| parse_sql_timestamp(s.get(i)?)),
                    ));
                }
                let mut p = Patterns::new(a, 1, true)?;
                Ok(timestamp_array((0..n).map(|i| p.get(i)?.parse(s.get(i)?))))
            },
        ),
        Builtin::new(
            "TO_DATE",
            "TO_DATE(s [, pattern])",
            "Parses 'YYYY-MM-DD' (or a Java-style pattern) as a DATE; NULL if it does not match.",
            |a| {
                arity(a, 1, Some(2))?;
                want_string(a, 0)?;
                if a.len() > 1 {
                    check_pattern(a, 1, true)?;
                }
                Ok(DataType::Date)
            },
            |a, n| {
                let s = strs(a, 0)?;
                if a.len() < 2 {
                    return Ok(date_array((0..n).map(|i| parse_sql_date(s.get(i)?))));
                }
                let mut p = Patterns::new(a, 1, true)?;
                let day = |ms: i64| i32::try_from(ms.div_euclid(DAY_MS)).ok();
                Ok(date_array((0..n).map(|i| day(p.get(i)?.parse(s.get(i)?)?))))
            },
        ),
        Builtin::new(
            "TO_TIMESTAMP_LTZ",
            "TO_TIMESTAMP_LTZ(n, precision)",
            "The TIMESTAMP `n` seconds (precision 0) or milliseconds (precision 3) after the epoch.",
            |a| {
                arity(a, 2, Some(2))?;
                want_number(a, 0)?;
                precision(a[1].literal)?;
                Ok(DataType::Timestamp)
            },
            to_timestamp_ltz,
        ),
    ]
}

/// The precision argument of TO_TIMESTAMP_LTZ: the constant 0 or 3.
fn precision(v: Option<&Value>) -> Result<i64, String> {
    match v {
        Some(Value::Int64(p @ (0 | 3))) => Ok(*p),
        _ => Err("argument 2 must be the constant 0 (seconds) or 3 (milliseconds)".to_string()),
    }
}

fn to_timestamp_ltz(args: &[ColumnarValue], n: usize) -> EvalResult {
    let p = match arg(args, 1)? {
        ColumnarValue::Scalar(v) => precision(Some(v))?,
        ColumnarValue::Array(_) => return Err(precision(None).unwrap_err()),
    };
    let scale: i64 = if p == 0 { 1000 } else { 1 };
    let is_float = matches!(arg(args, 0)?, ColumnarValue::Scalar(Value::Float64(_)))
        || matches!(arg(args, 0)?, ColumnarValue::Array(a) if a.data_type().is_floating());
    if is_float {
        let x = floats(args, 0)?;
        let to_ms = |v: f64| {
            let ms = (v * scale as f64).floor();
            // 2^63 is exactly representable; anything at or beyond it overflows.
            (ms.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&ms))
                .then_some(ms as i64)
        };
        return Ok(timestamp_array(
            (0..n).map(|i| representable(to_ms(x.get(i)?)?)),
        ));
    }
    let x = ints(args, 0)?;
    Ok(timestamp_array(
        (0..n).map(|i| representable(x.get(i)?.checked_mul(scale)?)),
    ))
}

fn date_format(args: &[ColumnarValue], n: usize) -> EvalResult {
    let t = millis(args, 0)?;
    let mut p = Patterns::new(args, 1, false)?;
    Ok(string_array((0..n).map(|i| {
        let dt = to_datetime(t.get(i)?)?;
        Some(p.get(i)?.format(&dt))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::*;

    /// The `ts` column of the golden `dates` dataset.
    fn dates_ts() -> Vec<Option<i64>> {
        [
            Some("2024-01-31 10:15:30.250"),
            Some("2024-02-29 23:59:59.999"),
            Some("2023-12-31 00:00:00"),
            Some("2024-07-04 12:00:00"),
            Some("1969-07-20 20:17:40"),
            Some("2024-03-10 01:02:03.004"),
            Some("2025-01-01 00:00:00"),
            Some("2024-12-30 08:00:00"),
            Some("2021-01-03 18:30:00"),
            None,
            Some("1969-12-31 23:59:59.500"),
            Some("2024-06-15 00:00:00"),
        ]
        .iter()
        .map(|s| s.map(ts))
        .collect()
    }

    fn iv(vs: &[Option<i64>]) -> Vec<Value> {
        vs.iter()
            .map(|v| v.map_or(Value::Null, Value::Int64))
            .collect()
    }

    fn tsv(vs: &[Option<&str>]) -> Vec<Value> {
        vs.iter()
            .map(|v| v.map_or(Value::Null, |v| Value::Timestamp(ts(v))))
            .collect()
    }

    fn extract(unit: &str) -> Vec<Value> {
        call("EXTRACT", &[lit(s(unit)), ts_col(&dates_ts())])
    }

    #[test]
    fn extract_golden() {
        assert_eq!(
            extract("YEAR"),
            iv(&[
                Some(2024),
                Some(2024),
                Some(2023),
                Some(2024),
                Some(1969),
                Some(2024),
                Some(2025),
                Some(2024),
                Some(2021),
                None,
                Some(1969),
                Some(2024)
            ])
        );
        assert_eq!(
            extract("QUARTER"),
            iv(&[
                Some(1),
                Some(1),
                Some(4),
                Some(3),
                Some(3),
                Some(1),
                Some(1),
                Some(4),
                Some(1),
                None,
                Some(4),
                Some(2)
            ])
        );
        assert_eq!(
            extract("WEEK"),
            iv(&[
                Some(5),
                Some(9),
                Some(52),
                Some(27),
                Some(29),
                Some(10),
                Some(1),
                Some(1),
                Some(53),
                None,
                Some(1),
                Some(24)
            ])
        );
        assert_eq!(
            extract("DOW"),
            iv(&[
                Some(4),
                Some(5),
                Some(1),
                Some(5),
                Some(1),
                Some(1),
                Some(4),
                Some(2),
                Some(1),
                None,
                Some(4),
                Some(7)
            ])
        );
        assert_eq!(
            extract("DOY"),
            iv(&[
                Some(31),
                Some(60),
                Some(365),
                Some(186),
                Some(201),
                Some(70),
                Some(1),
                Some(365),
                Some(3),
                None,
                Some(365),
                Some(167)
            ])
        );
        assert_eq!(
            extract("EPOCH"),
            iv(&[
                Some(1706696130),
                Some(1709251199),
                Some(1703980800),
                Some(1720094400),
                Some(-14182940),
                Some(1710032523),
                Some(1735689600),
                Some(1735545600),
                Some(1609698600),
                None,
                Some(-1),
                Some(1718409600)
            ])
        );
        assert_eq!(extract("SECOND")[..2], iv(&[Some(30), Some(59)]));
        assert_eq!(extract("MILLISECOND")[..2], iv(&[Some(30250), Some(59999)]));
        assert_eq!(extract("ISODOW")[2], Value::Int64(7));
        assert_eq!(extract("ISOYEAR")[8], Value::Int64(2020));
        assert_eq!(extract("DAYOFWEEK"), extract("DOW"));
        // DATE input.
        let d = call("EXTRACT", &[lit(s("DAY")), lit(Value::Date(19_782))]);
        assert_eq!(d, iv(&[Some(29)]));
        assert_eq!(
            call("EXTRACT", &[lit(s("EPOCH")), lit(Value::Date(-1))]),
            iv(&[Some(-86400)])
        );
        assert_eq!(
            call_n("EXTRACT", &[lit(s("HOUR")), lit(Value::Null)], 2),
            iv(&[None, None])
        );
    }

    #[test]
    fn shorthands_golden() {
        let t = ts_col(&dates_ts());
        let f = |name: &str| call(name, std::slice::from_ref(&t));
        assert_eq!(f("YEAR")[4], Value::Int64(1969));
        assert_eq!(f("MONTH")[..3], iv(&[Some(1), Some(2), Some(12)]));
        assert_eq!(f("DAYOFMONTH")[..3], iv(&[Some(31), Some(29), Some(31)]));
        assert_eq!(f("HOUR")[..2], iv(&[Some(10), Some(23)]));
        assert_eq!(f("MINUTE")[..2], iv(&[Some(15), Some(59)]));
        assert_eq!(f("SECOND")[10], Value::Int64(59));
        assert_eq!(
            f("DAYOFWEEK"),
            iv(&[
                Some(4),
                Some(5),
                Some(1),
                Some(5),
                Some(1),
                Some(1),
                Some(4),
                Some(2),
                Some(1),
                None,
                Some(4),
                Some(7)
            ])
        );
        assert_eq!(f("QUARTER")[3], Value::Int64(3));
        assert_eq!(f("WEEK")[8], Value::Int64(53));
        assert_eq!(f("DAYOFYEAR")[1], Value::Int64(60));
        assert_eq!(call("HOUR", &[lit(Value::Date(5))]), iv(&[Some(0)]));
    }

    #[test]
    fn floor_ceil_golden() {
        let t = ts_col(&dates_ts());
        let fc = |name: &str, u: &str| call(name, &[t.clone(), lit(s(u))]);
        let floor_month = fc("FLOOR", "MONTH");
        assert_eq!(floor_month[4], Value::Timestamp(ts("1969-07-01")));
        assert_eq!(floor_month[9], Value::Null);
        assert_eq!(fc("FLOOR", "YEAR")[10], Value::Timestamp(ts("1969-01-01")));
        assert_eq!(
            fc("FLOOR", "SECOND")[10],
            Value::Timestamp(ts("1969-12-31 23:59:59"))
        );
        assert_eq!(fc("FLOOR", "DAY")[0], Value::Timestamp(ts("2024-01-31")));
        let ceil_second = fc("CEIL", "SECOND");
        assert_eq!(
            ceil_second[..4],
            tsv(&[
                Some("2024-01-31 10:15:31"),
                Some("2024-03-01 00:00:00"),
                Some("2023-12-31"),
                Some("2024-07-04 12:00:00")
            ])
        );
        assert_eq!(fc("CEIL", "MINUTE")[10], Value::Timestamp(ts("1970-01-01")));
        assert_eq!(
            fc("CEIL", "HOUR")[8],
            Value::Timestamp(ts("2021-01-03 19:00:00"))
        );
        assert_eq!(fc("CEIL", "DAY")[7], Value::Timestamp(ts("2024-12-31")));
        assert_eq!(
            fc("CEIL", "MONTH")[..3],
            tsv(&[Some("2024-02-01"), Some("2024-03-01"), Some("2024-01-01")])
        );
        assert_eq!(
            fc("CEIL", "YEAR")[..7],
            tsv(&[
                Some("2025-01-01"),
                Some("2025-01-01"),
                Some("2024-01-01"),
                Some("2025-01-01"),
                Some("1970-01-01"),
                Some("2025-01-01"),
                Some("2025-01-01")
            ])
        );
        // Aligned values stay; weeks start on Monday; quarters.
        assert_eq!(fc("CEIL", "YEAR")[6], Value::Timestamp(ts("2025-01-01")));
        assert_eq!(
            call(
                "FLOOR",
                &[
                    lit(Value::Timestamp(ts("2024-01-07 12:00"))),
                    lit(s("WEEK"))
                ]
            ),
            tsv(&[Some("2024-01-01")])
        );
        assert_eq!(
            call(
                "CEIL",
                &[lit(Value::Timestamp(ts("2024-01-01"))), lit(s("WEEK"))]
            ),
            tsv(&[Some("2024-01-01")])
        );
        assert_eq!(
            call(
                "FLOOR",
                &[lit(Value::Timestamp(ts("1970-01-01"))), lit(s("week"))]
            ),
            tsv(&[Some("1969-12-29")])
        );
        assert_eq!(
            call(
                "CEIL",
                &[lit(Value::Timestamp(ts("2024-05-15"))), lit(s("QUARTER"))]
            ),
            tsv(&[Some("2024-07-01")])
        );
        assert_eq!(
            call(
                "FLOOR",
                &[lit(Value::Timestamp(ts("2024-05-15"))), lit(s("QUARTER"))]
            ),
            tsv(&[Some("2024-04-01")])
        );
        // DATE in, DATE out.
        assert_eq!(
            call("FLOOR", &[lit(Value::Date(19_782)), lit(s("MONTH"))]),
            vec![Value::Date(19_754)]
        );
        assert_eq!(
            call("CEIL", &[lit(Value::Date(19_782)), lit(s("MONTH"))]),
            vec![Value::Date(19_783)]
        );
        assert_eq!(
            call("CEIL", &[lit(Value::Date(19_782)), lit(s("HOUR"))]),
            vec![Value::Date(19_782)]
        );
        // Extremes give NULL rather than overflow.
        assert_eq!(
            call("CEIL", &[lit(Value::Timestamp(i64::MAX)), lit(s("DAY"))]),
            vec![Value::Null]
        );
        assert_eq!(
            call("FLOOR", &[lit(Value::Timestamp(i64::MIN)), lit(s("WEEK"))]),
            vec![Value::Null]
        );
    }

    #[test]
    fn date_format_golden() {
        let t = ts_col(&dates_ts());
        let f = |p: &str| call("DATE_FORMAT", &[t.clone(), lit(s(p))]);
        let full = f("yyyy-MM-dd HH:mm:ss");
        assert_eq!(
            (&full[0], &full[4], &full[9]),
            (
                &s("2024-01-31 10:15:30"),
                &s("1969-07-20 20:17:40"),
                &Value::Null
            )
        );
        assert_eq!(f("yyyy/MM/dd")[1], s("2024/02/29"));
        assert_eq!(
            f("HH:mm:ss.SSS")[..2],
            vec![s("10:15:30.250"), s("23:59:59.999")]
        );
        assert_eq!(f("HH:mm:ss.SSS")[10], s("23:59:59.500"));
        assert_eq!(f("yyyyMMddHHmm")[5], s("202403100102"));
        assert_eq!(f("yy-M-d h:mm a '(T)' ''")[5], s("24-3-10 1:02 AM (T) '"));
        assert_eq!(f("yyyy-MM-dd'T'HH:mm:ss.S")[0], s("2024-01-31T10:15:30.2"));
        assert_eq!(
            f("EEE, d MMM yyyy; EEEE MMMM; D")[0],
            s("Wed, 31 Jan 2024; Wednesday January; 31")
        );
        // A pattern per row; a bad one gives NULL.
        let per_row = call(
            "DATE_FORMAT",
            &[
                lit(Value::Timestamp(0)),
                strings(&[Some("yyyy"), Some("Q"), None, Some("yyyy")]),
            ],
        );
        assert_eq!(
            per_row,
            vec![s("1970"), Value::Null, Value::Null, s("1970")]
        );
        assert_eq!(
            call(
                "DATE_FORMAT",
                &[lit(Value::Date(1)), lit(s("yyyy-MM-dd HH"))]
            ),
            vec![s("1970-01-02 00")]
        );
    }

    #[test]
    fn timestampadd_golden() {
        let t = ts_col(&dates_ts());
        let add = |u: &str, k: i64| {
            call(
                "TIMESTAMPADD",
                &[lit(s(u)), lit(Value::Int64(k)), t.clone()],
            )
        };
        assert_eq!(
            add("SECOND", -90)[10],
            Value::Timestamp(ts("1969-12-31 23:58:29.500"))
        );
        assert_eq!(
            add("MINUTE", 45)[1],
            Value::Timestamp(ts("2024-03-01 00:44:59.999"))
        );
        assert_eq!(
            add("HOUR", -5)[5],
            Value::Timestamp(ts("2024-03-09 20:02:03.004"))
        );
        assert_eq!(add("DAY", 1)[2], Value::Timestamp(ts("2024-01-01")));
        assert_eq!(add("WEEK", 2)[7], Value::Timestamp(ts("2025-01-13 08:00")));
        assert_eq!(
            add("MONTH", 1),
            tsv(&[
                Some("2024-02-29 10:15:30.250"),
                Some("2024-03-29 23:59:59.999"),
                Some("2024-01-31"),
                Some("2024-08-04 12:00"),
                Some("1969-08-20 20:17:40"),
                Some("2024-04-10 01:02:03.004"),
                Some("2025-02-01"),
                Some("2025-01-30 08:00"),
                Some("2021-02-03 18:30"),
                None,
                Some("1970-01-31 23:59:59.500"),
                Some("2024-07-15")
            ])
        );
        assert_eq!(
            add("MONTH", -13)[..3],
            tsv(&[
                Some("2022-12-31 10:15:30.250"),
                Some("2023-01-29 23:59:59.999"),
                Some("2022-11-30")
            ])
        );
        assert_eq!(
            add("YEAR", 1)[1],
            Value::Timestamp(ts("2025-02-28 23:59:59.999"))
        );
        assert_eq!(
            add("QUARTER", 1)[0],
            Value::Timestamp(ts("2024-04-30 10:15:30.250"))
        );
        // Per-row amounts, NULL amounts, overflow.
        let per_row = call(
            "TIMESTAMPADD",
            &[
                lit(s("DAY")),
                int_col(&[Some(1), None, Some(i64::MAX)]),
                lit(Value::Timestamp(0)),
            ],
        );
        assert_eq!(per_row, tsv(&[Some("1970-01-02"), None, None]));
        assert_eq!(
            call(
                "TIMESTAMPADD",
                &[
                    lit(s("YEAR")),
                    lit(Value::Int64(1_000_000)),
                    lit(Value::Timestamp(0))
                ]
            ),
            vec![Value::Null]
        );
        assert_eq!(
            call(
                "TIMESTAMPADD",
                &[lit(s("DAY")), lit(Value::Int64(1)), lit(Value::Date(0))]
            ),
            tsv(&[Some("1970-01-02")])
        );
    }

    #[test]
    fn timestampdiff_golden() {
        let t = ts_col(&dates_ts());
        let end = lit(Value::Timestamp(ts("2024-03-15 12:00:00")));
        let diff = |u: &str| call("TIMESTAMPDIFF", &[lit(s(u)), t.clone(), end.clone()]);
        assert_eq!(diff("SECOND")[..2], iv(&[Some(3807869), Some(1252800)]));
        assert_eq!(diff("MINUTE")[3], Value::Int64(-159840));
        assert_eq!(diff("HOUR")[4], Value::Int64(479079));
        assert_eq!(
            diff("DAY"),
            iv(&[
                Some(44),
                Some(14),
                Some(75),
                Some(-111),
                Some(19961),
                Some(5),
                Some(-291),
                Some(-289),
                Some(1166),
                None,
                Some(19797),
                Some(-91)
            ])
        );
        assert_eq!(
            diff("MONTH"),
            iv(&[
                Some(1),
                Some(0),
                Some(2),
                Some(-3),
                Some(655),
                Some(0),
                Some(-9),
                Some(-9),
                Some(38),
                None,
                Some(650),
                Some(-2)
            ])
        );
        assert_eq!(
            diff("YEAR"),
            iv(&[
                Some(0),
                Some(0),
                Some(0),
                Some(0),
                Some(54),
                Some(0),
                Some(0),
                Some(0),
                Some(3),
                None,
                Some(54),
                Some(0)
            ])
        );
        assert_eq!(diff("WEEK")[0], Value::Int64(6));
        assert_eq!(diff("QUARTER")[4], Value::Int64(218));
    }

    #[test]
    fn months_between_matches_duckdb_date_sub() {
        // (start, end, date_sub('month', start, end)) on TIMESTAMPTZ in DuckDB 2.0 (UTC).
        let cases = [
            ("2024-01-31 00:00:00", "2024-02-29 00:00:00", 1),
            ("2024-01-31 10:00:00", "2024-02-29 09:00:00", 0),
            ("2024-01-31 10:00:00", "2024-02-29 11:00:00", 1),
            ("2024-01-30 00:00:00", "2024-02-29 00:00:00", 1),
            ("2024-01-29 12:00:00", "2024-02-29 00:00:00", 0),
            ("2024-01-29 12:00:00", "2024-02-28 00:00:00", 0),
            ("2024-02-29 00:00:00", "2024-01-31 00:00:00", 0),
            ("2024-03-31 00:00:00", "2024-02-29 00:00:00", -1),
            ("2024-03-31 10:00:00", "2024-02-29 11:00:00", 0),
            ("2023-01-31 00:00:00", "2023-02-28 00:00:00", 1),
            ("2024-05-31 00:00:00", "2024-06-30 00:00:00", 1),
            ("2024-05-31 00:00:01", "2024-06-30 00:00:00", 0),
            ("2024-01-15 00:00:00", "2024-01-15 00:00:00", 0),
            ("1969-12-31 23:59:59.500", "1970-01-31 23:59:59.499", 0),
            ("1969-12-31 23:59:59.500", "1970-01-31 23:59:59.500", 1),
            ("2023-02-28 23:59:00.500", "1969-11-30 23:59:00.500", -638),
            ("2023-10-30 23:00:00.500", "2023-02-28 23:59:59.999", -7),
            ("2024-04-30 12:00:59.999", "2023-03-31 00:59:59", -12),
            ("1970-05-29 00:00:00", "1970-02-28 23:59:59.999", -2),
        ];
        for (a, b, want) in cases {
            assert_eq!(months_between(ts(a), ts(b)), Some(want), "{a} -> {b}");
        }
    }

    #[test]
    fn to_timestamp_golden() {
        let input = strings(&[
            Some("2024-01-01 10:00:00"),
            Some("2024-01-01 10:00:00.123"),
            Some("2024-02-30 00:00:00"),
            Some("garbage"),
            Some("1969-12-31 23:59:59.999"),
            None,
            Some("2024-06-15 23:59:59"),
            Some("2024-01-01 00:00:00.000"),
            Some("2020-02-29 12:00:00.5"),
            Some("2024-01-01 25:00:00"),
            Some("12:00:00"),
            Some("2024-01-01"),
            Some("2024-01-01 10:00:00.1234"),
            Some(" 2024-01-01 10:00:00"),
            Some("2024-01-01T10:00:00"),
        ]);
        let out = call("TO_TIMESTAMP", &[input]);
        let want = tsv(&[
            Some("2024-01-01 10:00:00"),
            Some("2024-01-01 10:00:00.123"),
            None,
            None,
            Some("1969-12-31 23:59:59.999"),
            None,
            Some("2024-06-15 23:59:59"),
            Some("2024-01-01 00:00:00"),
            Some("2020-02-29 12:00:00.500"),
            None,
            None,
            None,
            None,
            None,
            None,
        ]);
        assert_eq!(out, want);
    }

    #[test]
    fn to_timestamp_with_pattern() {
        let f = |v: &str, p: &str| call("TO_TIMESTAMP", &[lit(s(v)), lit(s(p))]).remove(0);
        assert_eq!(
            f("31/01/2024 10:15", "dd/MM/yyyy HH:mm"),
            Value::Timestamp(ts("2024-01-31 10:15"))
        );
        assert_eq!(
            f("20240131101530250", "yyyyMMddHHmmssSSS"),
            Value::Timestamp(ts("2024-01-31 10:15:30.250"))
        );
        assert_eq!(
            f("2024-01-31T10:15:30Z", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
            Value::Timestamp(ts("2024-01-31 10:15:30"))
        );
        assert_eq!(
            f("1/2/24 3:04 PM", "d/M/yy h:mm a"),
            Value::Timestamp(ts("2024-02-01 15:04"))
        );
        assert_eq!(
            f("12:30 am", "hh:mm a"),
            Value::Timestamp(ts("1970-01-01 00:30"))
        );
        assert_eq!(f("2024-02-30", "yyyy-MM-dd"), Value::Null);
        assert_eq!(f("2024-01-31 extra", "yyyy-MM-dd"), Value::Null);
        assert_eq!(f("24-01-31", "yyyy-MM-dd"), Value::Null);
        assert_eq!(f("2024-01-31 24:00", "yyyy-MM-dd HH:mm"), Value::Null);
        assert_eq!(
            f("2024.5", "yyyy.S"),
            Value::Timestamp(ts("2024-01-01 00:00:00.500"))
        );
        let per_row = call(
            "TO_TIMESTAMP",
            &[lit(s("2024")), strings(&[Some("yyyy"), Some("EEE"), None])],
        );
        assert_eq!(
            per_row,
            vec![Value::Timestamp(ts("2024-01-01")), Value::Null, Value::Null]
        );
    }

    #[test]
    fn to_date_strict() {
        let out = call(
            "TO_DATE",
            &[strings(&[
                Some("2024-02-29"),
                Some("2023-02-29"),
                Some("1969-07-20"),
                Some("not a date"),
                Some("2024-1-01"),
                None,
                Some("1970-01-01"),
            ])],
        );
        assert_eq!(
            out,
            vec![
                Value::Date(19_782),
                Value::Null,
                Value::Date(-165),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Date(0)
            ]
        );
        assert_eq!(
            call("TO_DATE", &[lit(s("29.02.2024")), lit(s("dd.MM.yyyy"))]),
            vec![Value::Date(19_782)]
        );
    }

    #[test]
    fn to_timestamp_ltz_golden() {
        let secs = int_col(&[
            Some(0),
            Some(1704067200),
            Some(-1),
            None,
            Some(2147483648),
            Some(-86400),
            Some(i64::MAX),
        ]);
        let out = call("TO_TIMESTAMP_LTZ", &[secs, lit(Value::Int64(0))]);
        assert_eq!(
            out,
            tsv(&[
                Some("1970-01-01"),
                Some("2024-01-01"),
                Some("1969-12-31 23:59:59"),
                None,
                Some("2038-01-19 03:14:08"),
                Some("1969-12-31"),
                None
            ])
        );
        let ms = int_col(&[
            Some(1704067200123),
            Some(-500),
            Some(253402300799999),
            Some(-86400001),
        ]);
        let out = call("TO_TIMESTAMP_LTZ", &[ms, lit(Value::Int64(3))]);
        assert_eq!(
            out,
            tsv(&[
                Some("2024-01-01 00:00:00.123"),
                Some("1969-12-31 23:59:59.500"),
                Some("9999-12-31 23:59:59.999"),
                Some("1969-12-30 23:59:59.999")
            ])
        );
        let f = float_col(&[Some(1.5), Some(-0.0005), Some(f64::NAN), Some(1e300)]);
        assert_eq!(
            call("TO_TIMESTAMP_LTZ", &[f, lit(Value::Int64(0))]),
            vec![
                Value::Timestamp(1500),
                Value::Timestamp(-1),
                Value::Null,
                Value::Null
            ]
        );
    }

    #[test]
    fn type_errors() {
        let unit_lit = Value::String("FORTNIGHT".into());
        let lit_info = |v: &'static Value| ArgInfo {
            data_type: v.data_type(),
            literal: Some(v),
        };
        let unit_lit: &'static Value = Box::leak(Box::new(unit_lit));
        assert_eq!(
            type_error("EXTRACT", &[lit_info(unit_lit), ty(DataType::Timestamp)]),
            "unknown unit 'FORTNIGHT'; expected one of YEAR, QUARTER, MONTH, WEEK, ISOWEEK, DAY, HOUR, MINUTE, SECOND, MILLISECOND, DOW, DAYOFWEEK, ISODOW, DOY, DAYOFYEAR, ISOYEAR, EPOCH"
        );
        assert_eq!(
            type_error(
                "TIMESTAMPADD",
                &[
                    ty(DataType::String),
                    ty(DataType::Int64),
                    ty(DataType::Timestamp)
                ]
            ),
            "the unit must be a constant like 'DAY'"
        );
        let day: &'static Value = Box::leak(Box::new(Value::String("DAY".into())));
        assert_eq!(
            type_error(
                "TIMESTAMPADD",
                &[
                    lit_info(day),
                    ty(DataType::Float64),
                    ty(DataType::Timestamp)
                ]
            ),
            "argument 2 must be BIGINT, found DOUBLE"
        );
        assert_eq!(
            type_error(
                "TIMESTAMPDIFF",
                &[lit_info(day), ty(DataType::Timestamp), ty(DataType::String)]
            ),
            "argument 3 must be TIMESTAMP or DATE, found VARCHAR"
        );
        assert_eq!(
            type_error("FLOOR", &[ty(DataType::String), lit_info(day)]),
            "argument 1 must be TIMESTAMP or DATE, found VARCHAR"
        );
        assert_eq!(
            type_error("YEAR", &[ty(DataType::Int64)]),
            "argument 1 must be TIMESTAMP or DATE, found BIGINT"
        );
        let bad: &'static Value = Box::leak(Box::new(Value::String("yyyy-QQ".into())));
        assert_eq!(
            type_error("DATE_FORMAT", &[ty(DataType::Timestamp), lit_info(bad)]),
            "argument 2: unsupported pattern letter 'Q' in 'yyyy-QQ' (use yyyy MM dd HH mm ss SSS)"
        );
        let one: &'static Value = Box::leak(Box::new(Value::Int64(1)));
        assert_eq!(
            type_error("TO_TIMESTAMP_LTZ", &[ty(DataType::Int64), lit_info(one)]),
            "argument 2 must be the constant 0 (seconds) or 3 (milliseconds)"
        );
        assert_eq!(
            type_error(
                "TO_TIMESTAMP_LTZ",
                &[ty(DataType::Int64), ty(DataType::Int64)]
            ),
            "argument 2 must be the constant 0 (seconds) or 3 (milliseconds)"
        );
        // Return types: DATE stays DATE under FLOOR, TIMESTAMPADD gives TIMESTAMP.
        let f = crate::registry();
        use quiver_sql::FunctionRegistry;
        assert_eq!(
            f.scalar("FLOOR")
                .unwrap()
                .return_type(&[ty(DataType::Date), lit_info(day)]),
            Ok(DataType::Date)
        );
        assert_eq!(
            f.scalar("CEIL")
                .unwrap()
                .return_type(&[ty(DataType::Null), lit_info(day)]),
            Ok(DataType::Timestamp)
        );
    }
}
