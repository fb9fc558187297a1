//! One value: a scalar, or an array or map of scalars.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array,
    ListArray, MapArray, StringArray, StructArray, TimestampMillisecondArray, new_null_array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, TimestampMillisecondType,
};

use crate::data_type::{list_item, map_entries};
use crate::time::{format_date, format_timestamp};
use crate::{DataType, ElementType};

/// A single value of one of Quiver's types, or NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `bool`
    Bool(bool),
    /// `int64`
    Int64(i64),
    /// `float64`
    Float64(f64),
    /// `string`
    String(String),
    /// `timestamp`, milliseconds since the epoch (UTC).
    Timestamp(i64),
    /// `date`, days since the epoch.
    Date(i32),
    /// `bytes`
    Bytes(Vec<u8>),
    /// `array<t>`: elements of type `t` (each a value of that type or NULL).
    List(ElementType, Vec<Value>),
    /// `map<k,v>`: pairs in their stored order (keys are never NULL).
    Map(ElementType, ElementType, Vec<(Value, Value)>),
}

impl Value {
    /// The type of this value (`Null` for NULL).
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Null,
            Value::Bool(_) => DataType::Bool,
            Value::Int64(_) => DataType::Int64,
            Value::Float64(_) => DataType::Float64,
            Value::String(_) => DataType::String,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::Date(_) => DataType::Date,
            Value::Bytes(_) => DataType::Bytes,
            Value::List(e, _) => DataType::List(*e),
            Value::Map(k, v, _) => DataType::Map(*k, *v),
        }
    }

    /// A total order on values of one type, for sorting and ties: NULL
    /// first, numbers by value with NaN above every number and -0.0 below
    /// 0.0 (as MIN/MAX order them), strings and bytes by bytes, arrays element by element.
    /// Values of different types order by type, so the order is total.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value as V;
        match (self, other) {
            (V::Null, V::Null) => Ordering::Equal,
            (V::Null, _) => Ordering::Less,
            (_, V::Null) => Ordering::Greater,
            (V::Bool(a), V::Bool(b)) => a.cmp(b),
            (V::Int64(a), V::Int64(b)) | (V::Timestamp(a), V::Timestamp(b)) => a.cmp(b),
            (V::Date(a), V::Date(b)) => a.cmp(b),
            // IEEE 754's total order with every NaN made positive (NaN above
            // +inf), the order MIN/MAX use; -0.0 sorts below 0.0 so a sort
            // never depends on which zero arrived first.
            (V::Float64(a), V::Float64(b)) => canon_nan(*a).total_cmp(&canon_nan(*b)),
            (V::String(a), V::String(b)) => a.cmp(b),
            (V::Bytes(a), V::Bytes(b)) => a.cmp(b),
            (V::List(_, a), V::List(_, b)) => cmp_seq(a.iter(), b.iter()),
            (V::Map(_, _, a), V::Map(_, _, b)) => cmp_seq(
                a.iter().flat_map(|(k, v)| [k, v]),
                b.iter().flat_map(|(k, v)| [k, v]),
            ),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int64(_) => 2,
            Value::Float64(_) => 3,
            Value::String(_) => 4,
            Value::Timestamp(_) => 5,
            Value::Date(_) => 6,
            Value::Bytes(_) => 7,
            Value::List(_, _) => 8,
            Value::Map(_, _, _) => 9,
        }
    }

    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Reads row `row` of an Arrow column in one of Quiver's physical
    /// representations (see [`DataType::to_arrow`]).
    pub fn from_array(array: &dyn Array, row: usize) -> Value {
        if array.is_null(row) {
            return Value::Null;
        }
        match array.data_type() {
            ArrowType::Boolean => Value::Bool(array.as_boolean().value(row)),
            ArrowType::Int64 => Value::Int64(array.as_primitive::<Int64Type>().value(row)),
            ArrowType::Float64 => Value::Float64(array.as_primitive::<Float64Type>().value(row)),
            ArrowType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
            ArrowType::Timestamp(_, _) => {
                Value::Timestamp(array.as_primitive::<TimestampMillisecondType>().value(row))
            }
            ArrowType::Date32 => Value::Date(array.as_primitive::<Date32Type>().value(row)),
            ArrowType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
            ArrowType::List(f) => {
                let Some(e) =
                    DataType::from_arrow(f.data_type()).and_then(ElementType::from_data_type)
                else {
                    return Value::Null;
                };
                let items = array.as_list::<i32>().value(row);
                Value::List(
                    e,
                    (0..items.len())
                        .map(|i| Value::from_array(&items, i))
                        .collect(),
                )
            }
            ArrowType::Map(_, _) => {
                let Some(DataType::Map(k, v)) = DataType::from_arrow(array.data_type()) else {
                    return Value::Null;
                };
                let entries = array.as_map().value(row);
                let (keys, values) = (entries.column(0), entries.column(1));
                Value::Map(
                    k,
                    v,
                    (0..entries.len())
                        .map(|i| (Value::from_array(keys, i), Value::from_array(values, i)))
                        .collect(),
                )
            }
            _ => Value::Null,
        }
    }

    /// A column of type `t` holding `values` (each a value of type `t` or
    /// NULL; a value of another type is written as NULL). The inverse of
    /// [`Value::from_array`].
    pub fn to_array(values: &[Value], t: DataType) -> ArrayRef {
        fn prim<T, A: From<Vec<Option<T>>> + Array + 'static>(
            values: &[Value],
            f: impl Fn(&Value) -> Option<T>,
        ) -> ArrayRef {
            Arc::new(A::from(values.iter().map(f).collect::<Vec<_>>()))
        }
        match t {
            DataType::Null => new_null_array(&ArrowType::Null, values.len()),
            DataType::Bool => prim::<bool, BooleanArray>(values, |v| match v {
                Value::Bool(b) => Some(*b),
                _ => None,
            }),
            DataType::Int64 => prim::<i64, Int64Array>(values, |v| match v {
                Value::Int64(i) => Some(*i),
                _ => None,
            }),
            DataType::Float64 => prim::<f64, Float64Array>(values, |v| match v {
                Value::Float64(f) => Some(*f),
                Value::Int64(i) => Some(*i as f64),
                _ => None,
            }),
            DataType::String => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect::<StringArray>(),
            ),
            DataType::Timestamp => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Timestamp(t) => Some(*t),
                        _ => None,
                    })
                    .collect::<TimestampMillisecondArray>()
                    .with_timezone(crate::data_type::UTC),
            ),
            DataType::Date => prim::<i32, Date32Array>(values, |v| match v {
                Value::Date(d) => Some(*d),
                _ => None,
            }),
            DataType::Bytes => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Bytes(b) => Some(b.as_slice()),
                        _ => None,
                    })
                    .collect::<BinaryArray>(),
            ),
            DataType::List(e) => {
                let mut items = Vec::new();
                let mut lengths = Vec::with_capacity(values.len());
                let mut valid = Vec::with_capacity(values.len());
                for v in values {
                    match v {
                        Value::List(_, xs) => {
                            items.extend(xs.iter().cloned());
                            lengths.push(xs.len());
                            valid.push(true);
                        }
                        _ => {
                            lengths.push(0);
                            valid.push(false);
                        }
                    }
                }
                Arc::new(ListArray::new(
                    Arc::new(list_item(e)),
                    OffsetBuffer::from_lengths(lengths),
                    Value::to_array(&items, e.data_type()),
                    nulls(valid),
                ))
            }
            DataType::Map(k, v) => {
                let (mut keys, mut vals) = (Vec::new(), Vec::new());
                let mut lengths = Vec::with_capacity(values.len());
                let mut valid = Vec::with_capacity(values.len());
                for x in values {
                    match x {
                        Value::Map(_, _, pairs) => {
                            // Arrow's maps have no NULL keys: such pairs are dropped.
                            let pairs: Vec<_> =
                                pairs.iter().filter(|(k, _)| !k.is_null()).collect();
                            lengths.push(pairs.len());
                            for (a, b) in pairs {
                                keys.push(a.clone());
                                vals.push(b.clone());
                            }
                            valid.push(true);
                        }
                        _ => {
                            lengths.push(0);
                            valid.push(false);
                        }
                    }
                }
                let entries = map_entries(k, v);
                let ArrowType::Struct(fields) = entries.data_type().clone() else {
                    unreachable!("map entries are a struct")
                };
                let entries_array = StructArray::new(
                    fields,
                    vec![
                        Value::to_array(&keys, k.data_type()),
                        Value::to_array(&vals, v.data_type()),
                    ],
                    None,
                );
                Arc::new(MapArray::new(
                    Arc::new(entries),
                    OffsetBuffer::from_lengths(lengths),
                    entries_array,
                    nulls(valid),
                    false,
                ))
            }
        }
    }
}

fn canon_nan(x: f64) -> f64 {
    if x.is_nan() { f64::NAN } else { x }
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    }
}

fn cmp_seq<'a>(
    mut a: impl Iterator<Item = &'a Value>,
    mut b: impl Iterator<Item = &'a Value>,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match x.total_cmp(y) {
                Ordering::Equal => {}
                o => return o,
            },
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float64(v) => write!(f, "{v}"),
            Value::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Timestamp(t) => write!(f, "TIMESTAMP '{}'", format_timestamp(*t)),
            Value::Date(d) => write!(f, "DATE '{}'", format_date(*d)),
            Value::Bytes(b) => write!(
                f,
                "X'{}'",
                b.iter().map(|x| format!("{x:02X}")).collect::<String>()
            ),
            Value::List(_, xs) => {
                f.write_str("ARRAY[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Value::Map(_, _, pairs) => {
                f.write_str("MAP[")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}, {v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_round_trip_through_arrow() {
        let list = DataType::List(ElementType::Int64);
        let vals = vec![
            Value::List(ElementType::Int64, vec![Value::Int64(1), Value::Null]),
            Value::Null,
            Value::List(ElementType::Int64, vec![]),
        ];
        let a = Value::to_array(&vals, list);
        assert_eq!(a.data_type(), &list.to_arrow());
        let back: Vec<Value> = (0..3).map(|i| Value::from_array(a.as_ref(), i)).collect();
        assert_eq!(back, vals);

        let map = DataType::Map(ElementType::String, ElementType::Float64);
        let vals = vec![
            Value::Map(
                ElementType::String,
                ElementType::Float64,
                vec![(Value::String("a".into()), Value::Float64(1.5))],
            ),
            Value::Null,
        ];
        let a = Value::to_array(&vals, map);
        assert_eq!(a.data_type(), &map.to_arrow());
        let back: Vec<Value> = (0..2).map(|i| Value::from_array(a.as_ref(), i)).collect();
        assert_eq!(back, vals);
        assert_eq!(back[0].to_string(), "MAP['a', 1.5]");
    }

    #[test]
    fn total_order_puts_null_first_and_nan_last() {
        let mut v = [
            Value::Float64(f64::NAN),
            Value::Float64(1.0),
            Value::Null,
            Value::Float64(-2.0),
        ];
        v.sort_by(Value::total_cmp);
        assert!(v[0].is_null());
        assert_eq!(v[1], Value::Float64(-2.0));
        assert!(matches!(v[3], Value::Float64(x) if x.is_nan()));
    }
}
