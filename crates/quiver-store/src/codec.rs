//! Bytes of stored keys and rows (postcard, a compact serde format).
//!
//! Entity keys are encoded canonically, so the same key always gives the
//! same bytes: `int64` 7 and `float64` 7.0 are different keys.
//!
//! Arrays and maps (variants 8 and 9, added after the scalars so stored
//! scalars keep their bytes) carry their element types as one-byte tags,
//! so a value read back has the type it was written with.

use arrow::array::{
    Array, AsArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType as ArrowType, TimeUnit};
use quiver_types::{ElementType, Value};
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
    List(u8, Vec<Stored>),
    Map(u8, u8, Vec<(Stored, Stored)>),
}

const ELEMENT_TAGS: [ElementType; 7] = [
    ElementType::Bool,
    ElementType::Int64,
    ElementType::Float64,
    ElementType::String,
    ElementType::Timestamp,
    ElementType::Date,
    ElementType::Bytes,
];

fn element_tag(e: ElementType) -> u8 {
    ELEMENT_TAGS.iter().position(|t| *t == e).unwrap_or(0) as u8
}

fn element_of(tag: u8) -> ElementType {
    ELEMENT_TAGS
        .get(usize::from(tag))
        .copied()
        .unwrap_or(ElementType::Bytes)
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
            Value::List(e, xs) => {
                Stored::List(element_tag(*e), xs.iter().map(Stored::from).collect())
            }
            Value::Map(k, v, pairs) => Stored::Map(
                element_tag(*k),
                element_tag(*v),
                pairs
                    .iter()
                    .map(|(a, b)| (Stored::from(a), Stored::from(b)))
                    .collect(),
            ),
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
            Stored::List(e, xs) => {
                Value::List(element_of(e), xs.into_iter().map(Value::from).collect())
            }
            Stored::Map(k, v, pairs) => Value::Map(
                element_of(k),
                element_of(v),
                pairs
                    .into_iter()
                    .map(|(a, b)| (Value::from(a), Value::from(b)))
                    .collect(),
            ),
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
    let mut out = Vec::with_capacity(1 + 10 * key.len());
    encode_key_into(key, &mut out);
    out
}

/// Appends the bytes of an entity key to `out` (the same bytes as
/// [`encode_key`], written by hand in postcard's format: no intermediate
/// values, no allocation beyond `out`).
pub fn encode_key_into(key: &[Value], out: &mut Vec<u8>) {
    varint(key.len() as u64, out);
    for v in key {
        encode_value_into(v, out);
    }
}

/// Appends the bytes of a row (event time, then values) to `out`: the
/// bytes [`encode_row`] gives.
pub(crate) fn encode_row_into(event_time: i64, values: &[Value], out: &mut Vec<u8>) {
    varint(zigzag(event_time), out);
    varint(values.len() as u64, out);
    for v in values {
        encode_value_into(v, out);
    }
}

/// Appends a row's event time: the start of [`encode_row_into`]'s bytes.
pub(crate) fn encode_time_into(event_time: i64, out: &mut Vec<u8>) {
    varint(zigzag(event_time), out);
}

/// One Arrow column, read for encoding: the common types typed once per
/// batch, so encoding a row neither matches on the data type nor builds a
/// [`Value`]. Every other type goes through [`Value::from_array`].
pub enum ColumnEncoder<'a> {
    /// `int64`.
    Int64(&'a Int64Array),
    /// `float64`.
    Float64(&'a Float64Array),
    /// `timestamp` (milliseconds).
    Timestamp(&'a TimestampMillisecondArray),
    /// `varchar`.
    Utf8(&'a StringArray),
    /// Any other type.
    Other(&'a dyn Array),
}

impl<'a> ColumnEncoder<'a> {
    /// Reads `array`.
    pub fn new(array: &'a dyn Array) -> ColumnEncoder<'a> {
        match array.data_type() {
            ArrowType::Int64 => ColumnEncoder::Int64(array.as_primitive()),
            ArrowType::Float64 => ColumnEncoder::Float64(array.as_primitive()),
            ArrowType::Timestamp(TimeUnit::Millisecond, _) => {
                ColumnEncoder::Timestamp(array.as_primitive())
            }
            ArrowType::Utf8 => ColumnEncoder::Utf8(array.as_string()),
            _ => ColumnEncoder::Other(array),
        }
    }

    /// Appends row `row`'s value: the bytes [`encode_value_into`] gives
    /// for it (scalars are built on the stack; strings are not copied).
    fn encode_into(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            ColumnEncoder::Int64(a) if a.is_valid(row) => {
                tagged_varint(2, zigzag(a.value(row)), out)
            }
            ColumnEncoder::Float64(a) if a.is_valid(row) => {
                let mut b = [3u8; 9];
                b[1..].copy_from_slice(&a.value(row).to_le_bytes());
                out.extend_from_slice(&b);
            }
            ColumnEncoder::Timestamp(a) if a.is_valid(row) => {
                tagged_varint(5, zigzag(a.value(row)), out)
            }
            ColumnEncoder::Utf8(a) if a.is_valid(row) => encode_str_into(a.value(row), out),
            ColumnEncoder::Other(a) => encode_value_into(&Value::from_array(*a, row), out),
            _ => encode_value_into(&Value::Null, out),
        }
    }
}

/// Appends row `row` of `columns` as a list of values: the bytes
/// [`encode_key_into`] gives for the key, and the rest of
/// [`encode_row_into`]'s after the time.
pub(crate) fn encode_columns_into(columns: &[ColumnEncoder<'_>], row: usize, out: &mut Vec<u8>) {
    varint(columns.len() as u64, out);
    for c in columns {
        c.encode_into(row, out);
    }
}

fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

/// Appends `u` as a varint (LEB128, postcard's integers).
pub(crate) fn varint(mut u: u64, out: &mut Vec<u8>) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// A tag byte, then a varint: the layout of the integer scalars.
fn tagged_varint(tag: u8, u: u64, out: &mut Vec<u8>) {
    out.push(tag);
    varint(u, out);
}

/// Appends one value as postcard writes a [`Stored`]: the variant index,
/// then the payload.
fn encode_value_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        Value::Int64(i) => {
            out.push(2);
            varint(zigzag(*i), out);
        }
        Value::Float64(f) => {
            out.push(3);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => encode_str_into(s, out),
        Value::Timestamp(t) => {
            out.push(5);
            varint(zigzag(*t), out);
        }
        Value::Date(d) => {
            out.push(6);
            varint(zigzag(i64::from(*d)), out);
        }
        Value::Bytes(b) => {
            out.push(7);
            varint(b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Value::List(e, xs) => {
            out.extend_from_slice(&[8, element_tag(*e)]);
            varint(xs.len() as u64, out);
            for x in xs {
                encode_value_into(x, out);
            }
        }
        Value::Map(k, v, pairs) => {
            out.extend_from_slice(&[9, element_tag(*k), element_tag(*v)]);
            varint(pairs.len() as u64, out);
            for (a, b) in pairs {
                encode_value_into(a, out);
                encode_value_into(b, out);
            }
        }
    }
}

/// Appends a string value (variant 4).
fn encode_str_into(s: &str, out: &mut Vec<u8>) {
    out.push(4);
    varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// The entity key of some bytes.
pub fn decode_key(bytes: &[u8]) -> Result<Vec<Value>, StoreError> {
    let stored: Vec<Stored> =
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(stored.into_iter().map(Value::from).collect())
}

#[cfg(test)]
pub(crate) fn encode_row(row: &FeatureRow) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 10 * row.values.len());
    encode_row_into(row.event_time, &row.values, &mut out);
    out
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
    let mut out = Vec::with_capacity(10);
    encode_value_into(v, &mut out);
    out
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
        // The hand-written encoder writes exactly what postcard writes.
        let all = vec![
            Value::Null,
            Value::Bool(false),
            Value::Int64(i64::MIN),
            Value::Int64(i64::MAX),
            Value::Int64(0),
            Value::Int64(-64),
            Value::Int64(300),
            Value::Float64(f64::NAN),
            Value::String("x".repeat(200)),
            Value::Timestamp(-1),
            Value::Date(i32::MIN),
            Value::Date(i32::MAX),
            Value::Bytes(vec![1; 130]),
            Value::List(
                ElementType::String,
                vec![Value::String("a".into()), Value::Null],
            ),
            Value::Map(
                ElementType::Int64,
                ElementType::Float64,
                vec![(Value::Int64(-1), Value::Float64(0.5))],
            ),
        ];
        for v in &all {
            // Debug, not ==: NaN is not equal to itself.
            assert_eq!(
                format!("{:?}", decode_value(&encode_value(v)).unwrap()),
                format!("{v:?}")
            );
            assert_eq!(
                encode_value(v),
                postcard::to_stdvec(&Stored::from(v)).unwrap()
            );
        }
        let stored: Vec<Stored> = all.iter().map(Stored::from).collect();
        assert_eq!(encode_key(&all), postcard::to_stdvec(&stored).unwrap());
        let row = FeatureRow {
            event_time: i64::MIN,
            values: all.clone(),
        };
        let stored = StoredRow {
            event_time: i64::MIN,
            values: all.iter().map(Stored::from).collect(),
        };
        assert_eq!(encode_row(&row), postcard::to_stdvec(&stored).unwrap());
        // The documented tags (README, "Redis online store").
        assert_eq!(encode_value(&Value::Null), [0]);
        assert_eq!(encode_value(&Value::Int64(-3)), [2, 5]);
        assert_eq!(encode_value(&Value::String("a".into())), [4, 1, b'a']);
    }
}
