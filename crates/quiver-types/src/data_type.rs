//! The logical column types of Quiver and their Arrow representation.

use std::fmt;

use arrow::datatypes::{DataType as ArrowType, TimeUnit};

/// The time zone Quiver attaches to every timestamp column: event times are UTC.
pub const UTC: &str = "UTC";

/// A column type, as declared in a job file's `schema:` or inferred for a SQL expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool`
    Bool,
    /// `int64`
    Int64,
    /// `float64`
    Float64,
    /// `string` (UTF-8)
    String,
    /// `timestamp`: milliseconds since the Unix epoch, UTC.
    Timestamp,
    /// `date`: days since the Unix epoch.
    Date,
    /// `bytes`
    Bytes,
    /// The type of a bare `NULL` literal; it takes the type of its context.
    Null,
}

impl DataType {
    /// The names a job file may use in `schema:`, canonical first.
    pub const SPEC_NAMES: &'static [&'static str] = &[
        "bool",
        "int64",
        "float64",
        "string",
        "timestamp",
        "date",
        "bytes",
    ];

    /// Parses a type name from a job file's `schema:` (`int64`, `float64`, ...).
    ///
    /// A few common synonyms are accepted (`int`, `bigint`, `double`, `boolean`,
    /// `varchar`, `binary`); anything else is `None`.
    pub fn parse_spec(name: &str) -> Option<DataType> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "bool" | "boolean" => DataType::Bool,
            "int64" | "int" | "bigint" | "long" | "integer" => DataType::Int64,
            "float64" | "double" | "float" => DataType::Float64,
            "string" | "varchar" | "text" => DataType::String,
            "timestamp" => DataType::Timestamp,
            "date" => DataType::Date,
            "bytes" | "binary" => DataType::Bytes,
            _ => return None,
        })
    }

    /// Parses a SQL type name as used in `CAST(x AS ...)`.
    pub fn parse_sql(name: &str) -> Option<DataType> {
        let upper = name.trim().to_ascii_uppercase();
        let base = upper.split('(').next().unwrap_or("").trim();
        Some(match base {
            "BOOLEAN" | "BOOL" => DataType::Bool,
            "TINYINT" | "SMALLINT" | "INT" | "INTEGER" | "BIGINT" | "INT64" | "LONG" => {
                DataType::Int64
            }
            "DOUBLE" | "FLOAT" | "REAL" | "FLOAT64" | "DOUBLE PRECISION" | "DECIMAL"
            | "NUMERIC" => DataType::Float64,
            "VARCHAR" | "STRING" | "TEXT" | "CHAR" | "CHARACTER VARYING" => DataType::String,
            "TIMESTAMP" | "TIMESTAMP_LTZ" | "TIMESTAMP WITH LOCAL TIME ZONE" => DataType::Timestamp,
            "DATE" => DataType::Date,
            "BYTES" | "BINARY" | "VARBINARY" | "BLOB" | "BYTEA" => DataType::Bytes,
            _ => return None,
        })
    }

    /// The name used in job files.
    pub fn spec_name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int64 => "int64",
            DataType::Float64 => "float64",
            DataType::String => "string",
            DataType::Timestamp => "timestamp",
            DataType::Date => "date",
            DataType::Bytes => "bytes",
            DataType::Null => "null",
        }
    }

    /// The SQL name, as shown in plans and error messages.
    pub fn sql_name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOLEAN",
            DataType::Int64 => "BIGINT",
            DataType::Float64 => "DOUBLE",
            DataType::String => "VARCHAR",
            DataType::Timestamp => "TIMESTAMP",
            DataType::Date => "DATE",
            DataType::Bytes => "BYTES",
            DataType::Null => "NULL",
        }
    }

    /// The Arrow type Quiver uses for columns of this type.
    pub fn to_arrow(self) -> ArrowType {
        match self {
            DataType::Bool => ArrowType::Boolean,
            DataType::Int64 => ArrowType::Int64,
            DataType::Float64 => ArrowType::Float64,
            DataType::String => ArrowType::Utf8,
            DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Millisecond, Some(UTC.into())),
            DataType::Date => ArrowType::Date32,
            DataType::Bytes => ArrowType::Binary,
            DataType::Null => ArrowType::Null,
        }
    }

    /// The Quiver type an Arrow column can be read as, widening where it is
    /// lossless (`Int32` to `int64`, `Float32` to `float64`, any timestamp
    /// unit to milliseconds, `LargeUtf8` to `string`). `None` when the column
    /// cannot be read as any Quiver type (`UInt64`, lists, structs, ...).
    pub fn from_arrow(t: &ArrowType) -> Option<DataType> {
        Some(match t {
            ArrowType::Boolean => DataType::Bool,
            ArrowType::Int8
            | ArrowType::Int16
            | ArrowType::Int32
            | ArrowType::Int64
            | ArrowType::UInt8
            | ArrowType::UInt16
            | ArrowType::UInt32 => DataType::Int64,
            ArrowType::Float16 | ArrowType::Float32 | ArrowType::Float64 => DataType::Float64,
            ArrowType::Decimal128(_, _) | ArrowType::Decimal256(_, _) => DataType::Float64,
            ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => DataType::String,
            ArrowType::Timestamp(_, _) => DataType::Timestamp,
            ArrowType::Date32 | ArrowType::Date64 => DataType::Date,
            ArrowType::Binary
            | ArrowType::LargeBinary
            | ArrowType::BinaryView
            | ArrowType::FixedSizeBinary(_) => DataType::Bytes,
            ArrowType::Null => DataType::Null,
            ArrowType::Dictionary(_, value) => return DataType::from_arrow(value),
            _ => return None,
        })
    }

    /// Whether a column of type `self` may be read where `want` is declared
    /// (exact match, or `int64` read as `float64`, or an untyped `NULL`).
    pub fn can_read_as(self, want: DataType) -> bool {
        self == want
            || self == DataType::Null
            || (self == DataType::Int64 && want == DataType::Float64)
    }

    /// `int64` or `float64`.
    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Int64 | DataType::Float64)
    }

    /// `timestamp` or `date`.
    pub fn is_temporal(self) -> bool {
        matches!(self, DataType::Timestamp | DataType::Date)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_names_round_trip() {
        for name in DataType::SPEC_NAMES {
            let t = DataType::parse_spec(name).unwrap();
            assert_eq!(t.spec_name(), *name);
            assert_eq!(DataType::from_arrow(&t.to_arrow()), Some(t));
        }
        assert_eq!(DataType::parse_spec("uint64"), None);
    }

    #[test]
    fn arrow_widening() {
        assert_eq!(
            DataType::from_arrow(&ArrowType::Int32),
            Some(DataType::Int64)
        );
        assert_eq!(
            DataType::from_arrow(&ArrowType::Timestamp(TimeUnit::Nanosecond, None)),
            Some(DataType::Timestamp)
        );
        assert_eq!(DataType::from_arrow(&ArrowType::UInt64), None);
        assert!(DataType::Int64.can_read_as(DataType::Float64));
        assert!(!DataType::Float64.can_read_as(DataType::Int64));
    }
}
