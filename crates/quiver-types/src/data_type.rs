//! The logical column types of Quiver and their Arrow representation.
//!
//! Besides the scalar types there are two collection types, one level deep:
//! `ARRAY<t>` ([`DataType::List`]) and `MAP<k, v>` ([`DataType::Map`]),
//! whose elements, keys and values are scalars ([`ElementType`]). One level
//! covers what feature jobs put in collections (Dagger's array and map
//! UDFs, Protobuf repeated and map fields, JSON arrays of scalars) and
//! keeps [`DataType`] `Copy`, so plans, schemas and function signatures
//! pass types by value as before. Nested collections (an array of arrays,
//! an array of structs) are refused with a message when a job declares or
//! a file holds them.
//!
//! | job file            | SQL                    | Arrow                                                  |
//! |---------------------|------------------------|--------------------------------------------------------|
//! | `array<int64>`      | `ARRAY<BIGINT>`        | `List(Field "item" Int64, nullable)`                   |
//! | `map<string,int64>` | `MAP<VARCHAR, BIGINT>` | `Map(Field "entries" Struct{keys: Utf8 (not null), values: Int64}, unsorted)` |
//!
//! Elements and map values may be NULL; map keys may not (Arrow's rule).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field as ArrowField, Fields, TimeUnit};

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
    /// `array<t>`: a list of values of one scalar type (elements may be NULL).
    List(ElementType),
    /// `map<k,v>`: key/value pairs with scalar keys (never NULL) and values.
    Map(ElementType, ElementType),
}

/// The scalar type of an array's elements or a map's keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// `bool`
    Bool,
    /// `int64`
    Int64,
    /// `float64`
    Float64,
    /// `string`
    String,
    /// `timestamp`
    Timestamp,
    /// `date`
    Date,
    /// `bytes`
    Bytes,
}

impl ElementType {
    /// The scalar [`DataType`] of one element.
    pub fn data_type(self) -> DataType {
        match self {
            ElementType::Bool => DataType::Bool,
            ElementType::Int64 => DataType::Int64,
            ElementType::Float64 => DataType::Float64,
            ElementType::String => DataType::String,
            ElementType::Timestamp => DataType::Timestamp,
            ElementType::Date => DataType::Date,
            ElementType::Bytes => DataType::Bytes,
        }
    }

    /// The element type of a scalar [`DataType`]; `None` for `NULL` and
    /// the collection types (collections do not nest).
    pub fn from_data_type(t: DataType) -> Option<ElementType> {
        Some(match t {
            DataType::Bool => ElementType::Bool,
            DataType::Int64 => ElementType::Int64,
            DataType::Float64 => ElementType::Float64,
            DataType::String => ElementType::String,
            DataType::Timestamp => ElementType::Timestamp,
            DataType::Date => ElementType::Date,
            DataType::Bytes => ElementType::Bytes,
            DataType::Null | DataType::List(_) | DataType::Map(_, _) => return None,
        })
    }
}

/// Splits `array<...>` / `ARRAY<...>` / `map<..., ...>` into the name
/// before `<` (lower-cased) and the text inside the brackets.
fn generic(name: &str) -> Option<(String, &str)> {
    let name = name.trim();
    let open = name.find('<')?;
    let inner = name[open + 1..].strip_suffix('>')?;
    Some((name[..open].trim().to_ascii_lowercase(), inner))
}

/// Splits `k, v` at the top-level comma.
fn key_value(inner: &str) -> Option<(&str, &str)> {
    let (k, v) = inner.split_once(',')?;
    Some((k.trim(), v.trim()))
}

/// Parses a collection type spelled with `parse` for the element names:
/// `array<t>`, `list<t>`, `map<k, v>`, and SQL's postfix `t ARRAY`.
fn parse_collection(name: &str, parse: fn(&str) -> Option<DataType>) -> Option<DataType> {
    let elem = |n: &str| parse(n).and_then(ElementType::from_data_type);
    if let Some((outer, inner)) = generic(name) {
        return match outer.as_str() {
            "array" | "list" => Some(DataType::List(elem(inner)?)),
            "map" => {
                let (k, v) = key_value(inner)?;
                Some(DataType::Map(elem(k)?, elem(v)?))
            }
            _ => None,
        };
    }
    let trimmed = name.trim();
    let upper = trimmed.to_ascii_uppercase();
    let base = upper.strip_suffix(" ARRAY")?;
    Some(DataType::List(elem(&trimmed[..base.len()])?))
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
        if name.contains('<') || name.trim().to_ascii_lowercase().ends_with(" array") {
            return parse_collection(name, DataType::parse_spec);
        }
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

    /// Parses a SQL type name as used in `CAST(x AS ...)`, including
    /// `ARRAY<BIGINT>`, `BIGINT ARRAY`, `BIGINT[]` and `MAP<VARCHAR,
    /// BIGINT>` (also `MAP(VARCHAR, BIGINT)`, the spelling sqlparser's
    /// generic dialect reads).
    pub fn parse_sql(name: &str) -> Option<DataType> {
        let trimmed = name.trim();
        let upper = trimmed.to_ascii_uppercase();
        if let Some(elem) = trimmed.strip_suffix("[]") {
            return Some(DataType::List(ElementType::from_data_type(
                DataType::parse_sql(elem)?,
            )?));
        }
        if (upper.starts_with("MAP(") || upper.starts_with("ARRAY(")) && upper.ends_with(')') {
            let open = trimmed.find('(')?;
            let inner = &trimmed[open + 1..trimmed.len() - 1];
            return parse_collection(
                &format!("{}<{inner}>", &trimmed[..open]),
                DataType::parse_sql,
            );
        }
        if name.contains('<') || upper.ends_with(" ARRAY") {
            return parse_collection(name, DataType::parse_sql);
        }
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

    /// The name used in job files (`int64`, `array<string>`,
    /// `map<string,int64>`); [`DataType::parse_spec`] reads it back.
    pub fn spec_name(self) -> Cow<'static, str> {
        self.name(DataType::scalar_spec_name, ("array", "map", ","))
    }

    /// The SQL name, as shown in plans and error messages (`BIGINT`,
    /// `ARRAY<VARCHAR>`, `MAP<VARCHAR, BIGINT>`).
    pub fn sql_name(self) -> Cow<'static, str> {
        self.name(DataType::scalar_sql_name, ("ARRAY", "MAP", ", "))
    }

    /// A name built from `scalar` names: `array<t>`, `map<k,v>` spelled
    /// with the given words and separator.
    fn name(
        self,
        scalar: fn(DataType) -> &'static str,
        (array, map, sep): (&str, &str, &str),
    ) -> Cow<'static, str> {
        match self {
            DataType::List(e) => format!("{array}<{}>", scalar(e.data_type())).into(),
            DataType::Map(k, v) => format!(
                "{map}<{}{sep}{}>",
                scalar(k.data_type()),
                scalar(v.data_type())
            )
            .into(),
            t => scalar(t).into(),
        }
    }

    fn scalar_spec_name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int64 => "int64",
            DataType::Float64 => "float64",
            DataType::String => "string",
            DataType::Timestamp => "timestamp",
            DataType::Date => "date",
            DataType::Bytes => "bytes",
            DataType::Null => "null",
            DataType::List(_) => "array",
            DataType::Map(_, _) => "map",
        }
    }

    fn scalar_sql_name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOLEAN",
            DataType::Int64 => "BIGINT",
            DataType::Float64 => "DOUBLE",
            DataType::String => "VARCHAR",
            DataType::Timestamp => "TIMESTAMP",
            DataType::Date => "DATE",
            DataType::Bytes => "BYTES",
            DataType::Null => "NULL",
            DataType::List(_) => "ARRAY",
            DataType::Map(_, _) => "MAP",
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
            DataType::List(e) => ArrowType::List(Arc::new(list_item(e))),
            DataType::Map(k, v) => ArrowType::Map(Arc::new(map_entries(k, v)), false),
        }
    }

    /// The element type of an array, `None` for other types.
    pub fn element(self) -> Option<ElementType> {
        match self {
            DataType::List(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is `array<..>` or `map<..>`.
    pub fn is_collection(self) -> bool {
        matches!(self, DataType::List(_) | DataType::Map(_, _))
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
            ArrowType::List(f) | ArrowType::LargeList(f) | ArrowType::FixedSizeList(f, _) => {
                DataType::List(ElementType::from_data_type(DataType::from_arrow(
                    f.data_type(),
                )?)?)
            }
            ArrowType::Map(entries, _) => {
                let ArrowType::Struct(kv) = entries.data_type() else {
                    return None;
                };
                let [k, v] = kv.iter().collect::<Vec<_>>()[..] else {
                    return None;
                };
                let elem = |t| ElementType::from_data_type(DataType::from_arrow(t)?);
                DataType::Map(elem(k.data_type())?, elem(v.data_type())?)
            }
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

/// The item field of an array column: Arrow's default (`item`, nullable),
/// which `ListBuilder` and the Parquet reader also produce.
pub fn list_item(e: ElementType) -> ArrowField {
    ArrowField::new("item", e.data_type().to_arrow(), true)
}

/// The entries field of a map column, named as `MapBuilder` names it
/// (`entries` of `keys` not null and `values` nullable).
pub fn map_entries(k: ElementType, v: ElementType) -> ArrowField {
    ArrowField::new(
        "entries",
        ArrowType::Struct(Fields::from(vec![
            ArrowField::new("keys", k.data_type().to_arrow(), false),
            ArrowField::new("values", v.data_type().to_arrow(), true),
        ])),
        false,
    )
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name())
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
    fn collections_parse_and_round_trip() {
        let arr = DataType::List(ElementType::String);
        let map = DataType::Map(ElementType::String, ElementType::Int64);
        assert_eq!(DataType::parse_spec("array<string>"), Some(arr));
        assert_eq!(DataType::parse_spec("Array< varchar >"), Some(arr));
        assert_eq!(DataType::parse_spec("map<string, int64>"), Some(map));
        assert_eq!(DataType::parse_sql("ARRAY<VARCHAR>"), Some(arr));
        assert_eq!(DataType::parse_sql("VARCHAR ARRAY"), Some(arr));
        assert_eq!(DataType::parse_sql("MAP<VARCHAR, BIGINT>"), Some(map));
        assert_eq!(DataType::parse_sql("Map(VARCHAR, BIGINT)"), Some(map));
        assert_eq!(DataType::parse_sql("VARCHAR[]"), Some(arr));
        assert_eq!(DataType::parse_sql("Array(VARCHAR)"), Some(arr));
        for t in [arr, map, DataType::List(ElementType::Timestamp)] {
            assert_eq!(DataType::parse_spec(&t.spec_name()), Some(t));
            assert_eq!(DataType::parse_sql(&t.sql_name()), Some(t));
            assert_eq!(DataType::from_arrow(&t.to_arrow()), Some(t));
        }
        assert_eq!(map.to_string(), "MAP<VARCHAR, BIGINT>");
        // One level only.
        assert_eq!(DataType::parse_spec("array<array<int64>>"), None);
        assert_eq!(DataType::parse_spec("map<string>"), None);
        assert_eq!(DataType::parse_spec("array<null>"), None);
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
