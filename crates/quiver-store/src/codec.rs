//! Bytes of stored keys and rows (postcard, a compact serde format).
//!
//! Entity keys are encoded canonically, so the same key always gives the
//! same bytes: `int64` 7 and `float64` 7.0 are different keys.

use quiver_types::Value;
use serde::{Deserialize, Serialize};

use crate::{FeatureRow, StoreError};

#[derive(Serialize, Deserialize)]
enum Stored {
    Null,
    Bool(bool),
    Int64(i64),
    Float64(f64),
    String(String),
    Timestamp(i64),
    Date(i32),
    Bytes(Vec<u8>),
}

impl From<&Value> for Stored {
    fn from(v: &Value) -> Stored {
        match v {
            Value::Null => Stored::Null,
            Value::Bool(b) => Stored::Bool(*b),
            Value::Int64(i) => Stored::Int64(*i),
            Value::Float64(f) => Stored::Float64(*f),
            Value::String(s) => Stored::String(s.clone()),
            Value::Timestamp(t) => Stored::Timestamp(*t),
            Value::Date(d) => Stored::Date(*d),
            Value::Bytes(b) => Stored::Bytes(b.clone()),
        }
    }
}

impl From<Stored> for Value {
    fn from(s: Stored) -> Value {
        match s {
            Stored::Null => Value::Null,
            Stored::Bool(b) => Value::Bool(b),
            Stored::Int64(i) => Value::Int64(i),
            Stored::Float64(f) => Value::Float64(f),
            Stored::String(s) => Value::String(s),
            Stored::Timestamp(t) => Value::Timestamp(t),
            Stored::Date(d) => Value::Date(d),
            Stored::Bytes(b) => Value::Bytes(b),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredRow {
    event_time: i64,
    values: Vec<Stored>,
}

/// The bytes of an entity key.
pub fn encode_key(key: &[Value]) -> Vec<u8> {
    let stored: Vec<Stored> = key.iter().map(Stored::from).collect();
    postcard::to_stdvec(&stored).unwrap_or_default()
}

/// The entity key of some bytes.
pub fn decode_key(bytes: &[u8]) -> Result<Vec<Value>, StoreError> {
    let stored: Vec<Stored> =
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(stored.into_iter().map(Value::from).collect())
}

pub(crate) fn encode_row(row: &FeatureRow) -> Vec<u8> {
    let stored = StoredRow {
        event_time: row.event_time,
        values: row.values.iter().map(Stored::from).collect(),
    };
    postcard::to_stdvec(&stored).unwrap_or_default()
}

pub(crate) fn decode_row(bytes: &[u8]) -> Result<FeatureRow, StoreError> {
    let s: StoredRow =
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(FeatureRow {
        event_time: s.event_time,
        values: s.values.into_iter().map(Value::from).collect(),
    })
}

/// The bytes of one feature value (the Redis backend stores one per hash
/// field): the same tagged encoding rows use, so every type round-trips.
pub(crate) fn encode_value(v: &Value) -> Vec<u8> {
    postcard::to_stdvec(&Stored::from(v)).unwrap_or_default()
}

/// The feature value of some bytes.
pub(crate) fn decode_value(bytes: &[u8]) -> Result<Value, StoreError> {
    postcard::from_bytes::<Stored>(bytes)
        .map(Value::from)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The event time of encoded row bytes, without decoding the values.
pub(crate) fn row_time(bytes: &[u8]) -> Result<i64, StoreError> {
    let (t, _): (i64, _) =
        postcard::take_from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let k = vec![Value::Int64(7), Value::String("x".into()), Value::Null];
        assert_eq!(decode_key(&encode_key(&k)).unwrap(), k);
        assert_ne!(
            encode_key(&[Value::Int64(7)]),
            encode_key(&[Value::Float64(7.0)])
        );
        let r = FeatureRow {
            event_time: -5,
            values: vec![Value::Float64(1.5), Value::Timestamp(3)],
        };
        let b = encode_row(&r);
        assert_eq!(decode_row(&b).unwrap(), r);
        assert_eq!(row_time(&b).unwrap(), -5);
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int64(-3),
            Value::Float64(-0.5),
            Value::String("é".into()),
            Value::Timestamp(1_700_000_000_123),
            Value::Date(-2),
            Value::Bytes(vec![0, 255]),
        ] {
            assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
        }
        // The documented tags (README, "Redis online store").
        assert_eq!(encode_value(&Value::Null), [0]);
        assert_eq!(encode_value(&Value::Int64(-3)), [2, 5]);
        assert_eq!(encode_value(&Value::String("a".into())), [4, 1, b'a']);
    }
}
