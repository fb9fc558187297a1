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
//! Arrays cast element by element and maps value by value, by these rules
//! (the binder keeps a map's key type).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array, ListArray, MapArray,
    StringArray, StructArray, TimestampMillisecondArray, new_null_array,
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
    match (from, to, to.to_arrow()) {
        (ArrowType::List(_), DataType::List(e), ArrowType::List(item)) => {
            let l = a.as_list::<i32>();
            let values = cast_array(l.values().as_ref(), e.data_type())?;
            return Ok(Arc::new(ListArray::try_new(
                item,
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?));
        }
        (ArrowType::Map(_, _), DataType::Map(k, v), ArrowType::Map(entries, sorted)) => {
            let m = a.as_map();
            let ArrowType::Struct(fields) = entries.data_type() else {
                unreachable!("a map's entries are a struct");
            };
            let keys = cast_array(m.keys().as_ref(), k.data_type())?;
            let values = cast_array(m.values().as_ref(), v.data_type())?;
            let entries_array = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
            return Ok(Arc::new(MapArray::try_new(
                entries,
                m.offsets().clone(),
                entries_array,
                m.nulls().cloned(),
                sorted,
            )?));
        }
        _ => {}
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
    fn arrays_cast_by_element_and_maps_by_value() {
        use quiver_types::{ElementType as E, Value};
        let s = |t: &str| Value::String(t.into());
        let lists = Value::to_array(
            &[
                Value::List(E::String, vec![s(" 1 "), s("x"), Value::Null]),
                Value::Null,
                Value::List(E::String, vec![]),
            ],
            DataType::List(E::String),
        );
        let out = cast_array(lists.as_ref(), DataType::List(E::Int64)).unwrap();
        let back: Vec<Value> = (0..3).map(|i| Value::from_array(out.as_ref(), i)).collect();
        assert_eq!(
            back,
            [
                Value::List(E::Int64, vec![Value::Int64(1), Value::Null, Value::Null]),
                Value::Null,
                Value::List(E::Int64, vec![]),
            ]
        );
        let times = Value::to_array(
            &[Value::List(E::Timestamp, vec![Value::Timestamp(1_500)])],
            DataType::List(E::Timestamp),
        );
        let out = cast_array(times.as_ref(), DataType::List(E::String)).unwrap();
        assert_eq!(
            Value::from_array(out.as_ref(), 0),
            Value::List(E::String, vec![s("1970-01-01 00:00:01.500")])
        );
        let maps = Value::to_array(
            &[Value::Map(
                E::String,
                E::String,
                vec![(s("a"), s("2.5")), (s("b"), s("?"))],
            )],
            DataType::Map(E::String, E::String),
        );
        let out = cast_array(maps.as_ref(), DataType::Map(E::String, E::Float64)).unwrap();
        assert_eq!(
            Value::from_array(out.as_ref(), 0),
            Value::Map(
                E::String,
                E::Float64,
                vec![(s("a"), Value::Float64(2.5)), (s("b"), Value::Null)]
            )
        );
    }

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
