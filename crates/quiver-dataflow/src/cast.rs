//! `CAST(x AS t)`: conversions that fail give NULL instead of an error.
//!
//! | from → to | rule |
//! |---|---|
//! | DOUBLE → BIGINT | truncates toward zero; NaN or out of range → NULL |
//! | VARCHAR → number, BOOLEAN, DATE, TIMESTAMP | parsed after trimming spaces; BOOLEAN accepts `true`/`false` (any case) |
//! | TIMESTAMP → VARCHAR | `YYYY-MM-DD HH:MM:SS.sss` (UTC) |
//! | DATE → VARCHAR | `YYYY-MM-DD` |
//! | TIMESTAMP ↔ DATE | UTC date; midnight |
//! | TIMESTAMP ↔ BIGINT | epoch milliseconds |
//! | BOOLEAN → BIGINT | 1 / 0 |
//!
//! Everything else numeric goes through Arrow's cast in its safe mode.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array, StringArray,
    TimestampMillisecondArray, new_null_array,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType,
};
use quiver_types::{DataType, time};

use crate::error::DataflowError;

/// Converts `a` to `to` with Quiver's CAST rules.
pub fn cast_array(a: &dyn Array, to: DataType) -> Result<ArrayRef, DataflowError> {
    let from = a.data_type();
    if *from == to.to_arrow() {
        return Ok(arrow::array::make_array(a.to_data()));
    }
    if *from == ArrowType::Null {
        return Ok(new_null_array(&to.to_arrow(), a.len()));
    }
    Ok(match (from, to) {
        (ArrowType::Utf8, DataType::Int64) => {
            let s = a.as_string::<i32>();
            Arc::new(
                s.iter()
                    .map(|v| v.and_then(|v| v.trim().parse::<i64>().ok()))
                    .collect::<Int64Array>(),
            )
        }
        (ArrowType::Utf8, DataType::Float64) => {
            let s = a.as_string::<i32>();
            Arc::new(
                s.iter()
                    .map(|v| v.and_then(|v| parse_f64(v.trim())))
                    .collect::<arrow::array::Float64Array>(),
            )
        }
        (ArrowType::Utf8, DataType::Bool) => {
            let s = a.as_string::<i32>();
            Arc::new(
                s.iter()
                    .map(|v| {
                        v.and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
                            "true" => Some(true),
                            "false" => Some(false),
                            _ => None,
                        })
                    })
                    .collect::<BooleanArray>(),
            )
        }
        (ArrowType::Utf8, DataType::Timestamp) => {
            let s = a.as_string::<i32>();
            let out: TimestampMillisecondArray = s
                .iter()
                .map(|v| v.and_then(|v| time::parse_timestamp(v).ok()))
                .collect();
            Arc::new(out.with_timezone("UTC"))
        }
        (ArrowType::Utf8, DataType::Date) => {
            let s = a.as_string::<i32>();
            Arc::new(
                s.iter()
                    .map(|v| v.and_then(time::parse_date))
                    .collect::<Date32Array>(),
            )
        }
        (ArrowType::Timestamp(_, _), DataType::String) => {
            let ts = a.as_primitive::<TimestampMillisecondType>();
            Arc::new(
                ts.iter()
                    .map(|v| v.map(format_sql_timestamp))
                    .collect::<StringArray>(),
            )
        }
        (ArrowType::Date32, DataType::String) => {
            let d = a.as_primitive::<Date32Type>();
            Arc::new(
                d.iter()
                    .map(|v| v.map(time::format_date))
                    .collect::<StringArray>(),
            )
        }
        (ArrowType::Timestamp(_, _), DataType::Date) => {
            let ts = a.as_primitive::<TimestampMillisecondType>();
            Arc::new(ts.unary::<_, Date32Type>(time::date_of))
        }
        (ArrowType::Date32, DataType::Timestamp) => {
            let d = a.as_primitive::<Date32Type>();
            Arc::new(
                d.unary::<_, TimestampMillisecondType>(|d| d as i64 * time::DAY)
                    .with_timezone("UTC"),
            )
        }
        (ArrowType::Timestamp(_, _), DataType::Int64) => {
            let ts = a.as_primitive::<TimestampMillisecondType>();
            Arc::new(Int64Array::new(ts.values().clone(), ts.nulls().cloned()))
        }
        (ArrowType::Int64, DataType::Timestamp) => {
            let i = a.as_primitive::<Int64Type>();
            Arc::new(
                TimestampMillisecondArray::new(i.values().clone(), i.nulls().cloned())
                    .with_timezone("UTC"),
            )
        }
        (ArrowType::Float64, DataType::Int64) => {
            let f = a.as_primitive::<Float64Type>();
            Arc::new(f.unary_opt::<_, Int64Type>(|v| {
                let t = v.trunc();
                (-9.223_372_036_854_776e18..9.223_372_036_854_776e18)
                    .contains(&t)
                    .then_some(t as i64)
            }))
        }
        (ArrowType::Binary, DataType::String) => {
            let b = a.as_binary::<i32>();
            Arc::new(
                b.iter()
                    .map(|v| v.and_then(|v| std::str::from_utf8(v).ok()))
                    .collect::<StringArray>(),
            )
        }
        (_, DataType::Timestamp) | (_, DataType::Date) => new_null_array(&to.to_arrow(), a.len()),
        (_, to) => {
            let opts = CastOptions {
                safe: true,
                ..Default::default()
            };
            let target = match to {
                DataType::Timestamp => {
                    ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
                }
                t => t.to_arrow(),
            };
            cast_with_options(a, &target, &opts)?
        }
    })
}

fn parse_f64(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "infinity" | "+inf" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// `YYYY-MM-DD HH:MM:SS.sss`, the string form of a TIMESTAMP(3).
pub fn format_sql_timestamp(t: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(t) {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_int_truncates_and_nulls_out_of_range() {
        let a = arrow::array::Float64Array::from(vec![
            Some(2.7),
            Some(-2.7),
            Some(f64::NAN),
            Some(1e300),
            None,
        ]);
        let out = cast_array(&a, DataType::Int64).unwrap();
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(2), Some(-2), None, None, None]
        );
    }

    #[test]
    fn strings_parse_or_become_null() {
        let a = StringArray::from(vec![Some(" 12 "), Some("x"), Some("TRUE"), None]);
        let i = cast_array(&a, DataType::Int64).unwrap();
        assert_eq!(
            i.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
            vec![Some(12), None, None, None]
        );
        let b = cast_array(&a, DataType::Bool).unwrap();
        assert_eq!(
            b.as_boolean().iter().collect::<Vec<_>>(),
            vec![None, None, Some(true), None]
        );
        let ts = StringArray::from(vec!["2024-01-01 00:00:01.5"]);
        let t = cast_array(&ts, DataType::Timestamp).unwrap();
        assert_eq!(
            t.as_primitive::<TimestampMillisecondType>().value(0),
            1_704_067_201_500
        );
        let s = cast_array(t.as_ref(), DataType::String).unwrap();
        assert_eq!(s.as_string::<i32>().value(0), "2024-01-01 00:00:01.500");
    }
}
