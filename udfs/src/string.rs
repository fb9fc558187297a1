//! String functions. Inputs are VARCHAR; a NULL input gives NULL. Lengths
//! and positions count Unicode code points, not bytes.

use std::sync::Arc;

use arrow::array::{Array, StringArray, new_null_array};
use arrow::compute::cast;
use arrow::compute::kernels::concat_elements::concat_elements_utf8_many;
use arrow::compute::kernels::length::length;
use arrow::datatypes::DataType as ArrowType;
use quiver_sql::{ArgInfo, ColumnarValue};
use quiver_types::DataType;

use crate::args::{
    Builtin, EvalResult, arity, broadcast, int_array, ints, string_array, strs, want_int,
    want_string,
};

/// LPAD/RPAD refuse to build strings longer than this many code points
/// (the result is NULL) so that a bad length cannot exhaust memory.
pub(crate) const MAX_PAD_LEN: i64 = 1 << 24;

/// The string functions.
pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        Builtin::new("UPPER", "UPPER(s)", "`s` in upper case (Unicode).", strings_to(DataType::String, 1, 1), |a, n| {
            case_map(a, n, true)
        }),
        Builtin::new("LOWER", "LOWER(s)", "`s` in lower case (Unicode).", strings_to(DataType::String, 1, 1), |a, n| {
            case_map(a, n, false)
        }),
        Builtin::new(
            "TRIM",
            "TRIM(s [, chars])",
            "`s` without leading and trailing spaces (or characters in `chars`).",
            strings_to(DataType::String, 1, 2),
            |a, n| trim(a, n, Side::Both),
        ),
        Builtin::new(
            "LTRIM",
            "LTRIM(s [, chars])",
            "`s` without leading spaces (or characters in `chars`).",
            strings_to(DataType::String, 1, 2),
            |a, n| trim(a, n, Side::Left),
        ),
        Builtin::new(
            "RTRIM",
            "RTRIM(s [, chars])",
            "`s` without trailing spaces (or characters in `chars`).",
            strings_to(DataType::String, 1, 2),
            |a, n| trim(a, n, Side::Right),
        ),
        Builtin::new(
            "CHAR_LENGTH",
            "CHAR_LENGTH(s)",
            "Number of characters (code points) in `s`, as BIGINT.",
            strings_to(DataType::Int64, 1, 1),
            char_length,
        )
        .aliases(&["CHARACTER_LENGTH", "LENGTH"]),
        Builtin::new(
            "SUBSTRING",
            "SUBSTRING(s, start [, len])",
            "`len` characters of `s` from 1-based `start` (0 = before the first, negative = from the end; as DuckDB).",
            |a| {
                arity(a, 2, Some(3))?;
                want_string(a, 0)?;
                (1..a.len()).try_for_each(|i| want_int(a, i))?;
                Ok(DataType::String)
            },
            substring,
        )
        .aliases(&["SUBSTR"]),
        Builtin::new(
            "CONCAT",
            "CONCAT(s1, s2, ...)",
            "The arguments joined; NULL if any argument is NULL.",
            |a| {
                arity(a, 1, None)?;
                (0..a.len()).try_for_each(|i| want_string(a, i))?;
                Ok(DataType::String)
            },
            concat,
        ),
        Builtin::new(
            "REPLACE",
            "REPLACE(s, from, to)",
            "`s` with every occurrence of `from` replaced by `to`.",
            strings_to(DataType::String, 3, 3),
            replace,
        ),
        Builtin::new(
            "POSITION",
            "POSITION(sub IN s)",
            "1-based character position of the first `sub` in `s`; 0 if absent.",
            strings_to(DataType::Int64, 2, 2),
            position,
        ),
        Builtin::new(
            "LPAD",
            "LPAD(s, n, pad)",
            "`s` left-padded with `pad` to `n` characters, or cut to its first `n`.",
            pad_check,
            |a, n| pad(a, n, true),
        ),
        Builtin::new(
            "RPAD",
            "RPAD(s, n, pad)",
            "`s` right-padded with `pad` to `n` characters, or cut to its first `n`.",
            pad_check,
            |a, n| pad(a, n, false),
        ),
        Builtin::new("REVERSE", "REVERSE(s)", "The characters of `s` in reverse order.", strings_to(DataType::String, 1, 1), reverse),
        Builtin::new(
            "SPLIT_INDEX",
            "SPLIT_INDEX(s, delim, i)",
            "Token `i` (0-based) of `s` split by `delim`, empty tokens kept; NULL when out of range.",
            |a| {
                arity(a, 3, Some(3))?;
                want_string(a, 0)?;
                want_string(a, 1)?;
                want_int(a, 2)?;
                Ok(DataType::String)
            },
            split_index,
        ),
    ]
}

/// A check for `min..=max` VARCHAR arguments returning `out`.
fn strings_to(
    out: DataType,
    min: usize,
    max: usize,
) -> impl Fn(&[ArgInfo<'_>]) -> Result<DataType, String> {
    move |a| {
        arity(a, min, Some(max))?;
        (0..a.len()).try_for_each(|i| want_string(a, i))?;
        Ok(out)
    }
}

fn pad_check(a: &[ArgInfo<'_>]) -> Result<DataType, String> {
    arity(a, 3, Some(3))?;
    want_string(a, 0)?;
    want_int(a, 1)?;
    want_string(a, 2)?;
    Ok(DataType::String)
}

/// UPPER / LOWER. An all-ASCII column keeps its offsets and has its bytes
/// mapped in one pass.
fn case_map(args: &[ColumnarValue], n: usize, upper: bool) -> EvalResult {
    let s = strs(args, 0)?;
    if let crate::args::Str::Array(a) = &s
        && a.values().is_ascii()
    {
        let bytes: Vec<u8> = if upper {
            a.values().to_ascii_uppercase()
        } else {
            a.values().to_ascii_lowercase()
        };
        let out = StringArray::try_new(a.offsets().clone(), bytes.into(), a.nulls().cloned())
            .map_err(|e| e.to_string())?;
        return Ok(Arc::new(out));
    }
    Ok(string_array((0..n).map(|i| {
        s.get(i).map(|v| {
            if upper {
                v.to_uppercase()
            } else {
                v.to_lowercase()
            }
        })
    })))
}

#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
    Both,
}

fn trim(args: &[ColumnarValue], n: usize, side: Side) -> EvalResult {
    let s = strs(args, 0)?;
    let chars = if args.len() > 1 {
        Some(strs(args, 1)?)
    } else {
        None
    };
    let cut = |v: &'_ str, set: &dyn Fn(char) -> bool| -> String {
        match side {
            Side::Left => v.trim_start_matches(set),
            Side::Right => v.trim_end_matches(set),
            Side::Both => v.trim_matches(set),
        }
        .to_string()
    };
    Ok(string_array((0..n).map(|i| {
        let v = s.get(i)?;
        match &chars {
            None => Some(cut(v, &|c| c == ' ')),
            Some(chars) => {
                let set = chars.get(i)?;
                Some(cut(v, &|c| set.contains(c)))
            }
        }
    })))
}

/// CHAR_LENGTH. An all-ASCII column uses Arrow's byte-length kernel.
fn char_length(args: &[ColumnarValue], n: usize) -> EvalResult {
    let s = strs(args, 0)?;
    if let crate::args::Str::Array(a) = &s
        && a.values().is_ascii()
    {
        let bytes = length(a).map_err(|e| e.to_string())?;
        return cast(&bytes, &ArrowType::Int64).map_err(|e| e.to_string());
    }
    Ok(int_array(
        (0..n).map(|i| s.get(i).map(|v| v.chars().count() as i64)),
    ))
}

/// DuckDB's substring on code points: the selected range is
/// `[start0, start0 + len)` for `len >= 0` and `[start0 + len, start0)` for a
/// negative `len`, where `start0` is `start - 1` (so 0 is the position before
/// the first character) or `chars + start` for a negative `start`; the range
/// is then clipped to the string.
pub(crate) fn substring_of(s: &str, start: i64, len: Option<i64>) -> String {
    let count = s.chars().count() as i128;
    let start = start as i128;
    let begin = if start < 0 { count + start } else { start - 1 };
    let (lo, hi) = match len {
        None => (begin, count),
        Some(l) if l >= 0 => (begin, begin + l as i128),
        Some(l) => (begin + l as i128, begin),
    };
    let (lo, hi) = (lo.clamp(0, count) as usize, hi.clamp(0, count) as usize);
    if lo >= hi {
        return String::new();
    }
    s.chars().skip(lo).take(hi - lo).collect()
}

fn substring(args: &[ColumnarValue], n: usize) -> EvalResult {
    let s = strs(args, 0)?;
    let start = ints(args, 1)?;
    let len = if args.len() > 2 {
        Some(ints(args, 2)?)
    } else {
        None
    };
    Ok(string_array((0..n).map(|i| {
        let v = s.get(i)?;
        let st = start.get(i)?;
        let l = match &len {
            Some(l) => Some(l.get(i)?),
            None => None,
        };
        Some(substring_of(v, st, l))
    })))
}

/// CONCAT through Arrow's element-wise concatenation (NULL if any is NULL).
fn concat(args: &[ColumnarValue], n: usize) -> EvalResult {
    if args
        .iter()
        .any(|a| matches!(a, ColumnarValue::Scalar(v) if v.is_null()))
    {
        return Ok(new_null_array(&ArrowType::Utf8, n));
    }
    let arrays = args
        .iter()
        .map(|a| broadcast(a, DataType::String, n))
        .collect::<Result<Vec<_>, _>>()?;
    let strings: Vec<&StringArray> = arrays
        .iter()
        .map(|a| {
            a.as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| format!("expected VARCHAR, found {}", a.data_type()))
        })
        .collect::<Result<_, _>>()?;
    let out = concat_elements_utf8_many(&strings).map_err(|e| e.to_string())?;
    Ok(Arc::new(out))
}

fn replace(args: &[ColumnarValue], n: usize) -> EvalResult {
    let (s, from, to) = (strs(args, 0)?, strs(args, 1)?, strs(args, 2)?);
    Ok(string_array((0..n).map(|i| {
        let (v, f, t) = (s.get(i)?, from.get(i)?, to.get(i)?);
        // An empty pattern matches nothing (str::replace would insert `to`
        // between every character).
        Some(if f.is_empty() {
            v.to_string()
        } else {
            v.replace(f, t)
        })
    })))
}

fn position(args: &[ColumnarValue], n: usize) -> EvalResult {
    let (sub, s) = (strs(args, 0)?, strs(args, 1)?);
    Ok(int_array((0..n).map(|i| {
        let (needle, hay) = (sub.get(i)?, s.get(i)?);
        Some(match hay.find(needle) {
            Some(byte) => hay[..byte].chars().count() as i64 + 1,
            None => 0,
        })
    })))
}

/// LPAD/RPAD as DuckDB: cut to `n` characters when longer, pad (repeating
/// `pad`, possibly partially) when shorter; `n <= 0` gives ''. Padding with
/// an empty `pad` is impossible, which gives NULL.
pub(crate) fn pad_of(s: &str, n: i64, pad: &str, left: bool) -> Option<String> {
    if n <= 0 {
        return Some(String::new());
    }
    if n > MAX_PAD_LEN {
        return None;
    }
    let n = n as usize;
    let len = s.chars().count();
    if len >= n {
        return Some(s.chars().take(n).collect());
    }
    if pad.is_empty() {
        return None;
    }
    let fill: String = pad.chars().cycle().take(n - len).collect();
    Some(if left {
        fill + s
    } else {
        s.to_string() + &fill
    })
}

fn pad(args: &[ColumnarValue], n: usize, left: bool) -> EvalResult {
    let (s, len, p) = (strs(args, 0)?, ints(args, 1)?, strs(args, 2)?);
    Ok(string_array(
        (0..n).map(|i| pad_of(s.get(i)?, len.get(i)?, p.get(i)?, left)),
    ))
}

fn reverse(args: &[ColumnarValue], n: usize) -> EvalResult {
    let s = strs(args, 0)?;
    Ok(string_array((0..n).map(|i| {
        s.get(i).map(|v| v.chars().rev().collect::<String>())
    })))
}

/// Token `index` of `s` split by `delim`. An empty delimiter gives NULL.
pub(crate) fn split_index_of<'a>(s: &'a str, delim: &str, index: i64) -> Option<&'a str> {
    if delim.is_empty() || index < 0 {
        return None;
    }
    s.split(delim).nth(usize::try_from(index).ok()?)
}

fn split_index(args: &[ColumnarValue], n: usize) -> EvalResult {
    let (s, d, idx) = (strs(args, 0)?, strs(args, 1)?, ints(args, 2)?);
    Ok(string_array((0..n).map(|i| {
        split_index_of(s.get(i)?, d.get(i)?, idx.get(i)?)
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::*;
    use quiver_types::Value;

    /// The `s` column of the golden `texts` dataset.
    const TEXTS: [Option<&str>; 12] = [
        Some("Hello World"),
        Some("  padded  "),
        Some("café"),
        Some("naïve résumé"),
        Some("東京タワー"),
        Some("emoji 🚀 rocket"),
        Some("50% off_now"),
        Some("MiXeD CaSe"),
        Some(""),
        None,
        Some("ПРИВЕТ мир"),
        Some("a_b%c"),
    ];

    fn sv(v: Option<&str>) -> Value {
        v.map_or(Value::Null, |v| Value::String(v.to_string()))
    }

    fn svs(vs: &[Option<&str>]) -> Vec<Value> {
        vs.iter().map(|v| sv(*v)).collect()
    }

    fn iv(vs: &[Option<i64>]) -> Vec<Value> {
        vs.iter()
            .map(|v| v.map_or(Value::Null, Value::Int64))
            .collect()
    }

    #[test]
    fn upper_lower_golden() {
        let up = call("UPPER", &[strings(&TEXTS)]);
        assert_eq!(up[2], s("CAFÉ"));
        assert_eq!(up[3], s("NAÏVE RÉSUMÉ"));
        assert_eq!(up[9], Value::Null);
        assert_eq!(up[10], s("ПРИВЕТ МИР"));
        let low = call("LOWER", &[strings(&TEXTS)]);
        assert_eq!(low[7], s("mixed case"));
        assert_eq!(low[5], s("emoji 🚀 rocket"));
        // ASCII fast path keeps NULLs and offsets.
        let ascii = call(
            "UPPER",
            &[strings(&[Some("ab"), None, Some(""), Some("x_y%")])],
        );
        assert_eq!(ascii, svs(&[Some("AB"), None, Some(""), Some("X_Y%")]));
        assert_eq!(call("LOWER", &[lit(s("ÜBER"))]), vec![s("über")]);
        assert_eq!(
            call_n("UPPER", &[lit(Value::Null)], 2),
            vec![Value::Null, Value::Null]
        );
    }

    #[test]
    fn trims_golden_and_with_chars() {
        let col = strings(&[Some("  padded  "), Some("\tx "), None]);
        assert_eq!(
            call("TRIM", std::slice::from_ref(&col)),
            svs(&[Some("padded"), Some("\tx"), None])
        );
        assert_eq!(
            call("LTRIM", std::slice::from_ref(&col)),
            svs(&[Some("padded  "), Some("\tx "), None])
        );
        assert_eq!(
            call("RTRIM", std::slice::from_ref(&col)),
            svs(&[Some("  padded"), Some("\tx"), None])
        );
        assert_eq!(
            call("TRIM", &[lit(s("xyhiyx")), lit(s("xy"))]),
            vec![s("hi")]
        );
        assert_eq!(
            call("LTRIM", &[lit(s("xxhixx")), lit(s("x"))]),
            vec![s("hixx")]
        );
        assert_eq!(
            call("RTRIM", &[lit(s("ééhéé")), lit(s("é"))]),
            vec![s("ééh")]
        );
        assert_eq!(
            call("TRIM", &[lit(s("xx")), lit(Value::Null)]),
            vec![Value::Null]
        );
    }

    #[test]
    fn lengths_count_code_points() {
        let expected = iv(&[
            Some(11),
            Some(10),
            Some(4),
            Some(12),
            Some(5),
            Some(14),
            Some(11),
            Some(10),
            Some(0),
            None,
            Some(10),
            Some(5),
        ]);
        for name in ["CHAR_LENGTH", "CHARACTER_LENGTH", "LENGTH"] {
            assert_eq!(call(name, &[strings(&TEXTS)]), expected);
        }
        // ASCII fast path through the Arrow kernel.
        assert_eq!(
            call("LENGTH", &[strings(&[Some("abc"), None, Some("")])]),
            iv(&[Some(3), None, Some(0)])
        );
        assert_eq!(
            call_n("LENGTH", &[lit(s("日本"))], 2),
            iv(&[Some(2), Some(2)])
        );
    }

    #[test]
    fn substring_matches_duckdb() {
        // (start, len, expected) checked against DuckDB 2.0 on 'hello'.
        let cases: &[(i64, Option<i64>, &str)] = &[
            (0, Some(2), "h"),
            (-3, None, "llo"),
            (-1, Some(3), "o"),
            (3, Some(-1), "e"),
            (3, Some(-2), "he"),
            (3, Some(-5), "he"),
            (0, Some(-1), ""),
            (1, Some(-1), ""),
            (6, Some(-2), "lo"),
            (10, Some(-7), "llo"),
            (-2, Some(-2), "el"),
            (-7, Some(3), "h"),
            (-7, Some(4), "he"),
            (-10, None, "hello"),
            (0, None, "hello"),
            (6, None, ""),
            (7, None, ""),
            (2, Some(0), ""),
            (-5, Some(2), "he"),
            (-6, Some(2), "h"),
            (-1, Some(-2), "ll"),
            (i64::MAX, Some(2), ""),
            (i64::MIN, Some(i64::MAX), "hell"),
            (2, Some(i64::MAX), "ello"),
        ];
        for (start, len, want) in cases {
            assert_eq!(
                substring_of("hello", *start, *len),
                *want,
                "SUBSTRING('hello', {start}, {len:?})"
            );
        }
    }

    #[test]
    fn substring_golden() {
        let sub = call(
            "SUBSTRING",
            &[strings(&TEXTS), lit(Value::Int64(2)), lit(Value::Int64(3))],
        );
        assert_eq!(sub[4], s("京タワ"));
        assert_eq!(sub[5], s("moj"));
        assert_eq!(sub[9], Value::Null);
        let sub0 = call(
            "SUBSTR",
            &[strings(&TEXTS), lit(Value::Int64(0)), lit(Value::Int64(3))],
        );
        assert_eq!(sub0[0], s("He"));
        assert_eq!(sub0[1], s("  "));
        let last3 = call("SUBSTR", &[strings(&TEXTS), lit(Value::Int64(-3))]);
        assert_eq!(last3[3], s("umé"));
        assert_eq!(last3[8], s(""));
        // Per-row start and length, with NULLs.
        let per_row = call(
            "SUBSTRING",
            &[
                lit(s("abcdef")),
                int_col(&[Some(2), None, Some(-2)]),
                int_col(&[Some(2), Some(1), None]),
            ],
        );
        assert_eq!(per_row, svs(&[Some("bc"), None, None]));
    }

    #[test]
    fn concat_is_null_if_any_argument_is() {
        let out = call(
            "CONCAT",
            &[
                strings(&[Some("Hello World"), Some("emoji"), None]),
                lit(s("|")),
                strings(&[Some("a,b,c"), None, Some("x")]),
            ],
        );
        assert_eq!(out, svs(&[Some("Hello World|a,b,c"), None, None]));
        assert_eq!(
            call_n(
                "CONCAT",
                &[strings(&[Some("a"), Some("b")]), lit(Value::Null)],
                2
            ),
            vec![Value::Null, Value::Null]
        );
        assert_eq!(call("CONCAT", &[lit(s("solo"))]), vec![s("solo")]);
        assert_eq!(
            call("CONCAT", &[lit(s("-5")), lit(s("-0")), lit(s("true"))]),
            vec![s("-5-0true")]
        );
    }

    #[test]
    fn replace_position_reverse_golden() {
        let rep = call("REPLACE", &[strings(&TEXTS), lit(s(" ")), lit(s("_"))]);
        assert_eq!(rep[1], s("__padded__"));
        assert_eq!(rep[5], s("emoji_🚀_rocket"));
        assert_eq!(
            call("REPLACE", &[lit(s("abc")), lit(s("")), lit(s("x"))]),
            vec![s("abc")]
        );
        assert_eq!(
            call("REPLACE", &[lit(s("aaa")), lit(s("a")), lit(Value::Null)]),
            vec![Value::Null]
        );

        let pos_a = call("POSITION", &[lit(s("a")), strings(&TEXTS)]);
        assert_eq!(
            pos_a,
            iv(&[
                Some(0),
                Some(4),
                Some(2),
                Some(2),
                Some(0),
                Some(0),
                Some(0),
                Some(8),
                Some(0),
                None,
                Some(0),
                Some(1)
            ])
        );
        let pos_ta = call("POSITION", &[lit(s("タ")), strings(&TEXTS)]);
        assert_eq!(pos_ta[4], Value::Int64(3));
        assert_eq!(
            call("POSITION", &[lit(s("")), lit(s("abc"))]),
            iv(&[Some(1)])
        );
        assert_eq!(
            call("POSITION", &[lit(s("é")), lit(s("résumé"))]),
            iv(&[Some(2)])
        );

        let rev = call("REVERSE", &[strings(&TEXTS)]);
        assert_eq!(rev[3], s("émusér evïan"));
        assert_eq!(rev[5], s("tekcor 🚀 ijome"));
        assert_eq!(rev[9], Value::Null);
    }

    #[test]
    fn pads_golden() {
        let l = call(
            "LPAD",
            &[strings(&TEXTS), lit(Value::Int64(8)), lit(s("*"))],
        );
        assert_eq!(l[0], s("Hello Wo"));
        assert_eq!(l[2], s("****café"));
        assert_eq!(l[4], s("***東京タワー"));
        assert_eq!(l[8], s("********"));
        assert_eq!(l[9], Value::Null);
        let r = call(
            "RPAD",
            &[strings(&TEXTS), lit(Value::Int64(8)), lit(s("."))],
        );
        assert_eq!(r[2], s("café...."));
        assert_eq!(r[5], s("emoji 🚀 "));
        let ints = call(
            "LPAD",
            &[
                strings(&[
                    Some("42"),
                    Some("-17"),
                    Some("9223372036854775808"),
                    Some(""),
                ]),
                lit(Value::Int64(5)),
                lit(s("0")),
            ],
        );
        assert_eq!(
            ints,
            svs(&[Some("00042"), Some("00-17"), Some("92233"), Some("00000")])
        );
        // DuckDB: partial repeat, n <= 0, empty pad.
        assert_eq!(pad_of("abc", 5, "xy", true).as_deref(), Some("xyabc"));
        assert_eq!(pad_of("abc", 6, "xy", false).as_deref(), Some("abcxyx"));
        assert_eq!(pad_of("abc", 2, "xy", true).as_deref(), Some("ab"));
        assert_eq!(pad_of("abc", 0, "xy", true).as_deref(), Some(""));
        assert_eq!(pad_of("abc", -1, "xy", false).as_deref(), Some(""));
        assert_eq!(pad_of("abc", 3, "", true).as_deref(), Some("abc"));
        assert_eq!(pad_of("abc", 5, "", true), None);
        assert_eq!(pad_of("abc", i64::MAX, "x", true), None);
        assert_eq!(
            call("RPAD", &[lit(s("a")), lit(Value::Null), lit(s("x"))]),
            vec![Value::Null]
        );
    }

    #[test]
    fn split_index_golden() {
        let parts = strings(&[
            Some("a,b,c"),
            Some("a,,c"),
            Some("single"),
            Some(",lead"),
            None,
            Some("tail,"),
            Some("p1,p2,p3,p4"),
            Some("a;b"),
        ]);
        let p = |i: i64| {
            call(
                "SPLIT_INDEX",
                &[parts.clone(), lit(s(",")), lit(Value::Int64(i))],
            )
        };
        assert_eq!(
            p(0),
            svs(&[
                Some("a"),
                Some("a"),
                Some("single"),
                Some(""),
                None,
                Some("tail"),
                Some("p1"),
                Some("a;b")
            ])
        );
        assert_eq!(
            p(1),
            svs(&[
                Some("b"),
                Some(""),
                None,
                Some("lead"),
                None,
                Some(""),
                Some("p2"),
                None
            ])
        );
        assert_eq!(
            p(3),
            svs(&[None, None, None, None, None, None, Some("p4"), None])
        );
        assert_eq!(p(-1), svs(&[None; 8]));
        assert_eq!(split_index_of("a::b", "::", 1), Some("b"));
        assert_eq!(split_index_of("", ",", 0), Some(""));
        assert_eq!(split_index_of("abc", "", 0), None);
    }

    #[test]
    fn type_errors_name_the_argument() {
        assert_eq!(
            type_error("UPPER", &[ty(DataType::Float64)]),
            "argument 1 must be VARCHAR, found DOUBLE"
        );
        assert_eq!(type_error("UPPER", &[]), "takes 1 argument, found 0");
        assert_eq!(
            type_error("SUBSTRING", &[ty(DataType::String), ty(DataType::String)]),
            "argument 2 must be BIGINT, found VARCHAR"
        );
        assert_eq!(
            type_error("CONCAT", &[ty(DataType::String), ty(DataType::Int64)]),
            "argument 2 must be VARCHAR, found BIGINT"
        );
        assert_eq!(
            type_error("CONCAT", &[]),
            "takes at least 1 argument, found 0"
        );
        assert_eq!(
            type_error(
                "LPAD",
                &[
                    ty(DataType::String),
                    ty(DataType::Float64),
                    ty(DataType::String)
                ]
            ),
            "argument 2 must be BIGINT, found DOUBLE"
        );
        assert_eq!(
            type_error(
                "SPLIT_INDEX",
                &[
                    ty(DataType::String),
                    ty(DataType::String),
                    ty(DataType::String)
                ]
            ),
            "argument 3 must be BIGINT, found VARCHAR"
        );
    }

    #[test]
    fn untyped_null_arguments_give_null() {
        for (name, args) in [
            ("UPPER", vec![lit(Value::Null)]),
            ("SUBSTRING", vec![lit(s("abc")), lit(Value::Null)]),
            ("POSITION", vec![lit(Value::Null), lit(s("abc"))]),
            (
                "LPAD",
                vec![lit(s("abc")), lit(Value::Int64(5)), lit(Value::Null)],
            ),
            (
                "SPLIT_INDEX",
                vec![lit(s("a,b")), lit(s(",")), lit(Value::Null)],
            ),
            ("REVERSE", vec![lit(Value::Null)]),
        ] {
            assert_eq!(call_n(name, &args, 3), vec![Value::Null; 3], "{name}");
        }
    }
}
