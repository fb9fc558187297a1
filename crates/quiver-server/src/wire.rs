//! Values on the wire: how a [`Value`] of each type is written as JSON, and
//! how a JSON entity-key value is read as a column's type.
//!
//! Written: numbers as JSON numbers (a non-finite double as `null`),
//! timestamps as RFC 3339 strings in UTC with milliseconds, dates as
//! `YYYY-MM-DD`, bytes as lowercase hex. Read (entity keys): `int64` from a
//! JSON integer or a string of digits (Feast clients send either), `string`
//! from a string, `bool` from `true`/`false`, `float64` from a number,
//! `timestamp` from RFC 3339 or epoch milliseconds, `date` from
//! `YYYY-MM-DD`, `bytes` from hex.

use quiver_types::time::{format_date, format_timestamp, parse_date, parse_timestamp};
use quiver_types::{DataType, Value};
use serde_json::{Value as Json, json};

/// A value as JSON.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int64(i) => json!(i),
        Value::Float64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => json!(s),
        Value::Timestamp(t) => json!(format_timestamp(*t)),
        Value::Date(d) => json!(format_date(*d)),
        Value::Bytes(b) => json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        Value::List(..) | Value::Map(..) => collection_to_json(v, to_json),
    }
}

/// An array as a JSON array and a map as a JSON object, with `scalar`
/// writing the elements, keys and values; a key that is not a string is
/// written as its JSON text (`{"1": 3}`), since JSON object keys are strings.
/// The golden test harness shares it with its own scalar form.
pub fn collection_to_json(v: &Value, scalar: fn(&Value) -> Json) -> Json {
    match v {
        Value::List(_, xs) => Json::Array(xs.iter().map(scalar).collect()),
        Value::Map(_, _, pairs) => Json::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    let key = match scalar(k) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, scalar(v))
                })
                .collect(),
        ),
        other => scalar(other),
    }
}

/// Appends a value as JSON text (the same text as [`to_json`] gives).
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = match v {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Int64(i) => write!(out, "{i}"),
        Value::Float64(f) if f.is_finite() => {
            serde_json::to_writer(&mut *out, f).map_err(Into::into)
        }
        Value::Float64(_) => out.write_all(b"null"),
        Value::String(s) => serde_json::to_writer(&mut *out, s).map_err(Into::into),
        other => serde_json::to_writer(&mut *out, &to_json(other)).map_err(Into::into),
    };
}

/// A JSON value as a value of type `t`, `None` when it is not one.
pub fn from_json(j: &Json, t: DataType) -> Option<Value> {
    Some(match (t, j) {
        (DataType::Int64, Json::Number(n)) => Value::Int64(n.as_i64()?),
        (DataType::Int64, Json::String(s)) => Value::Int64(s.trim().parse().ok()?),
        (DataType::Float64, Json::Number(n)) => Value::Float64(n.as_f64()?),
        (DataType::Bool, Json::Bool(b)) => Value::Bool(*b),
        (DataType::String, Json::String(s)) => Value::String(s.clone()),
        (DataType::Timestamp, Json::String(s)) => Value::Timestamp(parse_timestamp(s).ok()?),
        (DataType::Timestamp, Json::Number(n)) => Value::Timestamp(n.as_i64()?),
        (DataType::Date, Json::String(s)) => Value::Date(parse_date(s)?),
        (DataType::Bytes, Json::String(s)) => Value::Bytes(from_hex(s)?),
        _ => return None,
    })
}

/// Parses a string as a value of type `t` (command-line keys).
pub fn parse_str(s: &str, t: DataType) -> Option<Value> {
    Some(match t {
        DataType::Int64 => Value::Int64(s.parse().ok()?),
        DataType::Float64 => Value::Float64(s.parse().ok()?),
        DataType::Bool => Value::Bool(s.parse().ok()?),
        DataType::String => Value::String(s.to_string()),
        DataType::Timestamp => Value::Timestamp(parse_timestamp(s).ok()?),
        DataType::Date => Value::Date(parse_date(s)?),
        DataType::Bytes => Value::Bytes(s.as_bytes().to_vec()),
        DataType::Null => Value::Null,
        DataType::List(_) | DataType::Map(_, _) => return None,
    })
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_keys_read_as_their_column_type() {
        assert_eq!(from_json(&json!(7), DataType::Int64), Some(Value::Int64(7)));
        assert_eq!(
            from_json(&json!("7"), DataType::Int64),
            Some(Value::Int64(7))
        );
        assert_eq!(from_json(&json!(7.5), DataType::Int64), None);
        assert_eq!(from_json(&json!("x"), DataType::Int64), None);
        assert_eq!(from_json(&json!(1), DataType::String), None);
        assert_eq!(
            from_json(&json!("0aff"), DataType::Bytes),
            Some(Value::Bytes(vec![10, 255]))
        );
        assert_eq!(from_json(&json!("é1"), DataType::Bytes), None);
        let t = Value::Timestamp(1_700_000_000_123);
        assert_eq!(from_json(&to_json(&t), DataType::Timestamp), Some(t));
    }

    #[test]
    fn written_values_are_the_json_values() {
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int64(-7),
            Value::Float64(2.5),
            Value::Float64(1e300),
            Value::Float64(f64::NAN),
            Value::String("a\"b\\\n".into()),
            Value::Timestamp(1_700_000_000_123),
            Value::List(
                quiver_types::ElementType::Int64,
                vec![Value::Int64(1), Value::Null],
            ),
            Value::Map(
                quiver_types::ElementType::Int64,
                quiver_types::ElementType::String,
                vec![(Value::Int64(1), Value::String("a".into()))],
            ),
            Value::Date(19_000),
            Value::Bytes(vec![1, 255]),
        ] {
            let mut out = Vec::new();
            write_value(&mut out, &v);
            let parsed: Json = serde_json::from_slice(&out).unwrap();
            assert_eq!(parsed, to_json(&v), "{v:?}");
        }
    }
}
