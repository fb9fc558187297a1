//! One scalar value.

use std::fmt;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, TimestampMillisecondType,
};

use crate::DataType;
use crate::time::{format_date, format_timestamp};

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
            _ => Value::Null,
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
        }
    }
}
