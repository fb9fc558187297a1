//! Protobuf message types of Kafka payloads: loading them from a
//! descriptor set, and matching their fields to columns.
//!
//! A job names a descriptor-set file (a serialized
//! `google.protobuf.FileDescriptorSet`: `protoc --include_imports
//! --descriptor_set_out=F x.proto`, or `buf build -o F`) and a fully
//! qualified message name. The well-known types (`google/protobuf/*.proto`)
//! are always available, so a set written without `--include_imports`
//! still resolves `google.protobuf.Timestamp`. Nothing is generated at build
//! time: messages are read and written through `prost-reflect`. Each file
//! is read and parsed once per process (validation, the sources and the
//! sink share it), and again only if its size or modification time changes.
//!
//! **Columns and fields are matched by name** (exactly, else ignoring ASCII
//! case, as SQL identifiers are). Only top-level fields are used; a field
//! that no column names is ignored when reading and left unset when
//! writing. Every source column must have a field, and every output
//! column of a job with a Protobuf Kafka sink must have a field: a missing
//! field or a type that cannot carry the column is a validation error
//! (`quiver validate`), naming the column, the field, both types and a fix.
//!
//! **Types.** A column reads from (↤) and writes to (↦) these field types;
//! `sint`/`sfixed` variants count as their `int` kind, `fixed32/64` as
//! `uint32/64`, and each scalar may also be its `google.protobuf.*Value`
//! wrapper (`Int64Value`, `DoubleValue`, `StringValue`, ...):
//!
//! | column | reads from | writes to |
//! |---|---|---|
//! | `bool` | `bool` | `bool` |
//! | `int64` | `int32`, `int64`, `uint32`, `uint64`, an enum (its number) | `int64` |
//! | `float64` | `double`, `float`, `int32`, `uint32` (all exact) | `double` |
//! | `string` | `string`, an enum (its name) | `string` |
//! | `bytes` | `bytes` | `bytes` |
//! | `timestamp` | `google.protobuf.Timestamp`; `int64`/`uint64` as epoch milliseconds | `google.protobuf.Timestamp`, `int64` (epoch ms) |
//! | `date` | `int32` (days since the epoch) | `int32`, `int64` (days since the epoch) |
//!
//! A `repeated` field of one of those types reads as an `array<t>` column
//! of the element's column type (an unset repeated field, which proto3
//! cannot tell from an empty one, is an empty array), and a `map<k, v>`
//! field as a `map<k,v>` column, keys in ascending order (the wire order is
//! not kept, so decoding stays deterministic). Writing them is not
//! supported yet.
//!
//! Refused: writing repeated and map fields, repeated messages other than
//! `Timestamp`, and message fields other than `Timestamp` and the wrappers
//! (flatten them into scalar fields). A 64-bit
//! integer does not become a `float64` column (not every value is exact):
//! declare `int64` and `CAST` in SQL.
//!
//! **Presence and defaults, as proto3 defines them.** A field that tracks
//! presence (proto2 `optional`/`required`, proto3 `optional`, oneof members,
//! message fields such as `Timestamp` and the wrappers) is NULL when unset.
//! A proto3 scalar without `optional` has no presence: on the wire, unset
//! and the default are the same thing, so it reads as its default (`0`,
//! `false`, `""`, empty bytes, the enum's first value) and never as NULL.
//! Declare such fields `optional` (or use a wrapper) when NULL must be
//! told apart — in particular for an event time in int64 milliseconds, where
//! an unset field would read as 1970-01-01 rather than as a missing event
//! time. When writing, NULL leaves a field unset; a reader of a proto3 field
//! without presence then sees its default.
//!
//! **Per-message failures** are not errors of the job: bytes that are not a
//! message of the type (truncated, a wrong wire type for a known field,
//! invalid UTF-8 in a string) are rejected as `undecodable`; a value that
//! does not fit its column (a `uint64` above the `int64` range, a
//! `Timestamp` outside the representable milliseconds or with nanos out of
//! range, an enum number the descriptor does not name) as `wrong_type`. An
//! empty payload is a valid message with every field unset.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use quiver_spec::{JobSpec, ProtobufSpec};
use quiver_types::{DataType, Diagnostic, Diagnostics, Position, Schema};

/// A Protobuf message type that cannot be loaded, or that does not match
/// the columns it is read into or written from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtobufError {
    /// The descriptor-set file cannot be read.
    #[error("cannot read the descriptor set `{path}`: {reason}")]
    ReadDescriptorSet {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The file is not a valid descriptor set.
    #[error("`{path}` is not a valid Protobuf descriptor set: {reason}")]
    BadDescriptorSet {
        /// The file.
        path: String,
        /// What prost-reflect said.
        reason: String,
    },
    /// No message of that name in the set.
    #[error("message `{message}` is not in the descriptor set `{path}`")]
    MessageNotFound {
        /// The name asked for.
        message: String,
        /// The file.
        path: String,
        /// The closest message names in the set, best first (or all of
        /// them, up to a dozen, when none is close).
        close: Vec<String>,
    },
    /// A column with no field of its name.
    #[error("{side} column `{column}` has no field in message `{message}`")]
    NoField {
        /// `source` or `output`.
        side: &'static str,
        /// The column.
        column: String,
        /// The message type.
        message: String,
        /// Field names close to the column's, or all of them (up to a dozen).
        close: Vec<String>,
        /// Whether `close` holds likely typos (else it lists the fields).
        similar: bool,
    },
    /// A field whose type cannot carry the column's (boxed: the largest
    /// variant, and errors travel in `Result`s).
    #[error("{0}")]
    Incompatible(Box<Incompatible>),
    /// A field of a kind Quiver does not map to columns at all.
    #[error(
        "field `{field}` of message `{message}` is {field_type}, which cannot be a column ({side} column `{column}`)"
    )]
    Unsupported {
        /// `source` or `output`.
        side: &'static str,
        /// The column.
        column: String,
        /// The field.
        field: String,
        /// The field's type, as written in a .proto file.
        field_type: String,
        /// The message type.
        message: String,
    },
}

/// A column and a field whose types do not agree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{side} column `{column}` is {column_type} but field `{field}` of message `{message}` is {field_type}"
)]
pub struct Incompatible {
    /// `source` or `output`.
    pub side: &'static str,
    /// The column.
    pub column: String,
    /// The column's type.
    pub column_type: String,
    /// The field.
    pub field: String,
    /// The field's type, as written in a .proto file.
    pub field_type: String,
    /// The message type.
    pub message: String,
    /// How to make them agree.
    pub fix: String,
}

impl ProtobufError {
    /// How to fix it.
    pub fn help(&self) -> String {
        match self {
            ProtobufError::ReadDescriptorSet { .. } => "write the set with `protoc --include_imports --descriptor_set_out=FILE x.proto` (or `buf build -o FILE`); a relative `descriptor_set` is resolved against the job file's directory".into(),
            ProtobufError::BadDescriptorSet { .. } => "the file must be a serialized google.protobuf.FileDescriptorSet, as `protoc --include_imports --descriptor_set_out=FILE` writes it (not a .proto file)".into(),
            ProtobufError::MessageNotFound { close, .. } if close.is_empty() => {
                "the descriptor set defines no messages; check that it was built from the right .proto files".into()
            }
            ProtobufError::MessageNotFound { close, message, .. } => {
                let list = close.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
                if close.len() == 1 || is_close(message, &close[0]) {
                    format!("did you mean {list}? (use the fully qualified name: package.Message)")
                } else {
                    format!("messages in the set: {list} (use the fully qualified name: package.Message)")
                }
            }
            ProtobufError::NoField { side, close, similar, column, .. } => {
                let list = close.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
                let alt = if *side == "source" {
                    "or remove the column from the schema"
                } else {
                    "or rename the column in the SQL (`... AS name`)"
                };
                if *similar {
                    format!("did you mean {list}? columns match fields by name; add a field `{column}` to the message {alt}")
                } else if close.is_empty() {
                    format!("the message has no fields; add a field `{column}` {alt}")
                } else {
                    format!("its fields are {list}; add a field `{column}` to the message {alt}")
                }
            }
            ProtobufError::Incompatible(i) => i.fix.clone(),
            ProtobufError::Unsupported { field_type, .. } if field_type.starts_with("repeated ") || field_type.starts_with("map") => "a repeated field holds an `array<T>` column and a map field a `map<K,V>` column, read or written (declare or CAST the column so)".into(),
            ProtobufError::Unsupported { .. } => "Quiver maps scalar fields, enums, google.protobuf.Timestamp and the google.protobuf wrapper types (Int64Value, DoubleValue, StringValue, ...) to columns; flatten the field into scalar fields of the message".into(),
        }
    }

    /// The column the problem is about, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            ProtobufError::NoField { column, .. } | ProtobufError::Unsupported { column, .. } => {
                Some(column)
            }
            ProtobufError::Incompatible(i) => Some(&i.column),
            _ => None,
        }
    }

    /// Whether the problem is with the file rather than the message name.
    fn is_file_problem(&self) -> bool {
        matches!(
            self,
            ProtobufError::ReadDescriptorSet { .. } | ProtobufError::BadDescriptorSet { .. }
        )
    }
}

/// Loads message `name` (fully qualified; a leading `.` is allowed) from
/// the descriptor-set file at `path`.
pub fn load_message(path: &str, name: &str) -> Result<MessageDescriptor, ProtobufError> {
    let pool = load_pool(path)?;
    let wanted = name.strip_prefix('.').unwrap_or(name);
    pool.get_message_by_name(wanted).ok_or_else(|| {
        let names: Vec<String> = pool
            .all_messages()
            .map(|m| m.full_name().to_string())
            .filter(|n| !n.starts_with("google.protobuf."))
            .collect();
        ProtobufError::MessageNotFound {
            message: name.to_string(),
            path: path.to_string(),
            close: closest(wanted, &names),
        }
    })
}

/// A descriptor set loaded earlier, with the size and modification time
/// its file had then.
struct CachedPool {
    stamp: (u64, SystemTime),
    pool: DescriptorPool,
}

/// Descriptor sets by path. A job's set is looked up several times (when
/// the job is validated, for each source and for the sink), but read and
/// parsed once per process, and again only when the file's size or
/// modification time changes. Failures are not kept.
static POOLS: Mutex<BTreeMap<String, CachedPool>> = Mutex::new(BTreeMap::new());

/// The descriptor set at `path`, with the well-known types.
fn load_pool(path: &str) -> Result<DescriptorPool, ProtobufError> {
    let pools = || POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    // Taken before reading: a file that changes meanwhile is read again
    // next time.
    let stamp = std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.len(), m.modified().ok()?)));
    if let Some(stamp) = stamp
        && let Some(c) = pools().get(path).filter(|c| c.stamp == stamp)
    {
        return Ok(c.pool.clone());
    }
    let bytes = std::fs::read(path).map_err(|e| ProtobufError::ReadDescriptorSet {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    // Starting from the global pool puts the well-known types in; files of
    // the same name in the set are skipped as duplicates.
    let mut pool = DescriptorPool::global();
    pool.decode_file_descriptor_set(bytes.as_slice())
        .map_err(|e| ProtobufError::BadDescriptorSet {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    if let Some(stamp) = stamp {
        let cached = CachedPool {
            stamp,
            pool: pool.clone(),
        };
        pools().insert(path.to_string(), cached);
    }
    Ok(pool)
}

/// Whether `b` looks like a typo of `a` (or its short name matches).
fn is_close(a: &str, b: &str) -> bool {
    let short = |s: &str| s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase();
    let (la, lb) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    la == lb || short(a) == short(b) || strsim::damerau_levenshtein(&la, &lb) <= 2.max(lb.len() / 4)
}

/// The names close to `word`, best first; all of them (up to a dozen) when
/// none is close.
fn closest(word: &str, names: &[String]) -> Vec<String> {
    let mut close: Vec<(usize, &String)> = names
        .iter()
        .filter(|n| is_close(word, n))
        .map(|n| {
            (
                strsim::damerau_levenshtein(&word.to_ascii_lowercase(), &n.to_ascii_lowercase()),
                n,
            )
        })
        .collect();
    close.sort();
    if close.is_empty() {
        let mut all = names.to_vec();
        all.sort();
        all.truncate(12);
        return all;
    }
    close.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}

/// What a field holds, after unwrapping a `google.protobuf.*Value` wrapper.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    Bool,
    /// `int32`, `sint32`, `sfixed32`.
    Int32,
    /// `int64`, `sint64`, `sfixed64`.
    Int64,
    /// `uint32`, `fixed32`.
    UInt32,
    /// `uint64`, `fixed64`.
    UInt64,
    Float,
    Double,
    String,
    Bytes,
    Enum(EnumDescriptor),
    /// `google.protobuf.Timestamp` (its descriptor, to build values).
    Timestamp(MessageDescriptor),
}

/// A column matched to a field.
#[derive(Debug, Clone)]
pub(crate) struct Mapped {
    /// The column's position.
    pub column: usize,
    /// The column's type.
    pub data_type: DataType,
    /// The field.
    pub field: FieldDescriptor,
    /// What the field holds.
    pub shape: Shape,
    /// The wrapper message type, when the field is a `google.protobuf.*Value`.
    pub wrapper: Option<MessageDescriptor>,
    /// Whether the field is repeated or a map (`shape` is then the shape of
    /// the elements, or of the map's values).
    pub collection: Collection,
}

/// A field of one value, a repeated field, or a map field.
#[derive(Debug, Clone)]
pub(crate) enum Collection {
    Single,
    Repeated,
    /// A map, with the shape of its keys.
    Map(Shape),
}

const WRAPPERS: &[&str] = &[
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

fn scalar_shape(kind: &Kind) -> Option<Shape> {
    Some(match kind {
        Kind::Bool => Shape::Bool,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Shape::Int32,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Shape::Int64,
        Kind::Uint32 | Kind::Fixed32 => Shape::UInt32,
        Kind::Uint64 | Kind::Fixed64 => Shape::UInt64,
        Kind::Float => Shape::Float,
        Kind::Double => Shape::Double,
        Kind::String => Shape::String,
        Kind::Bytes => Shape::Bytes,
        Kind::Enum(e) => Shape::Enum(e.clone()),
        Kind::Message(_) => return None,
    })
}

/// The shape of a field and its wrapper type, or `None` for fields that
/// cannot be columns.
fn shape_of(f: &FieldDescriptor) -> Option<(Shape, Option<MessageDescriptor>, Collection)> {
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return None;
        };
        let key = scalar_shape(&entry.map_entry_key_field().kind())?;
        let value = element_shape(&entry.map_entry_value_field().kind())?;
        return Some((value, None, Collection::Map(key)));
    }
    if f.is_list() {
        return Some((element_shape(&f.kind())?, None, Collection::Repeated));
    }
    let (shape, wrapper) = single_shape_of(f)?;
    Some((shape, wrapper, Collection::Single))
}

/// The shape of one element of a repeated field or a map value: a scalar
/// or a `Timestamp` (repeated wrappers do not exist in practice).
fn element_shape(kind: &Kind) -> Option<Shape> {
    match kind {
        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            Some(Shape::Timestamp(m.clone()))
        }
        k => scalar_shape(k),
    }
}

/// The shape of a field that is neither repeated nor a map.
fn single_shape_of(f: &FieldDescriptor) -> Option<(Shape, Option<MessageDescriptor>)> {
    match f.kind() {
        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            Some((Shape::Timestamp(m), None))
        }
        Kind::Message(m) if WRAPPERS.contains(&m.full_name()) => {
            let inner = m.get_field(1)?;
            Some((scalar_shape(&inner.kind())?, Some(m)))
        }
        k => Some((scalar_shape(&k)?, None)),
    }
}

/// A field's type as a .proto file writes it.
pub(crate) fn type_name(f: &FieldDescriptor) -> String {
    let base = match f.kind() {
        Kind::Double => "double".to_string(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => format!("enum {}", e.full_name()),
    };
    if f.is_map() {
        let entry = match f.kind() {
            Kind::Message(m) => m,
            _ => return format!("map {base}"),
        };
        return format!(
            "map<{}, {}>",
            type_name(&entry.map_entry_key_field()),
            type_name(&entry.map_entry_value_field())
        );
    }
    if f.is_list() {
        return format!("repeated {base}");
    }
    base
}

/// The column type a field reads as most naturally.
fn natural(shape: &Shape) -> DataType {
    match shape {
        Shape::Bool => DataType::Bool,
        Shape::Int32 | Shape::Int64 | Shape::UInt32 | Shape::UInt64 => DataType::Int64,
        Shape::Float | Shape::Double => DataType::Float64,
        Shape::String | Shape::Enum(_) => DataType::String,
        Shape::Bytes => DataType::Bytes,
        Shape::Timestamp(_) => DataType::Timestamp,
    }
}

/// Whether a column of type `t` can be read from a field of shape `s`.
fn readable(t: DataType, s: &Shape) -> bool {
    use Shape as S;
    match t {
        DataType::Bool => matches!(s, S::Bool),
        DataType::Int64 => matches!(s, S::Int32 | S::Int64 | S::UInt32 | S::UInt64 | S::Enum(_)),
        DataType::Float64 => matches!(s, S::Float | S::Double | S::Int32 | S::UInt32),
        DataType::String => matches!(s, S::String | S::Enum(_)),
        DataType::Bytes => matches!(s, S::Bytes),
        DataType::Timestamp => matches!(s, S::Timestamp(_) | S::Int64 | S::UInt64),
        DataType::Date => matches!(s, S::Int32),
        DataType::Null => false,
        // A collection column fits only a repeated or map field, whose
        // elements `map_columns` checks one by one; never a single value.
        DataType::List(_) | DataType::Map(_, _) => false,
    }
}

/// Whether a column of type `t` can be written to a field of shape `s`
/// without loss.
fn writable(t: DataType, s: &Shape) -> bool {
    use Shape as S;
    match t {
        DataType::Bool => matches!(s, S::Bool),
        DataType::Int64 => matches!(s, S::Int64),
        DataType::Float64 => matches!(s, S::Double),
        DataType::String => matches!(s, S::String),
        DataType::Bytes => matches!(s, S::Bytes),
        DataType::Timestamp => matches!(s, S::Timestamp(_) | S::Int64),
        DataType::Date => matches!(s, S::Int32 | S::Int64),
        // A bare NULL column: every field can be left unset.
        DataType::Null => true,
        // Only to a repeated or map field, element by element (see
        // `map_columns`).
        DataType::List(_) | DataType::Map(_, _) => false,
    }
}

/// The field type that best carries a column type.
fn proto_for(t: DataType, side: Side) -> String {
    match (t, side) {
        (DataType::Bool, _) => "bool".into(),
        (DataType::Int64, _) => "int64".into(),
        (DataType::Float64, _) => "double".into(),
        (DataType::String, _) => "string".into(),
        (DataType::Bytes, _) => "bytes".into(),
        (DataType::Timestamp, _) => "google.protobuf.Timestamp".into(),
        (DataType::Date, _) => "int32".into(),
        (DataType::Null, _) => "any type".into(),
        (DataType::List(e), _) => format!("repeated {}", proto_for(e.data_type(), side)),
        (DataType::Map(k, v), _) => format!(
            "map<{}, {}>",
            proto_for(k.data_type(), side),
            proto_for(v.data_type(), side)
        ),
    }
}

/// The field of `message` a column named `name` matches.
fn field_for(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message.get_field_by_name(name).or_else(|| {
        message
            .fields()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    })
}

/// Which way columns and fields are matched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Source columns read from fields.
    Read,
    /// Output columns written to fields.
    Write,
}

fn map_columns(
    message: &MessageDescriptor,
    schema: &Schema,
    side: Side,
) -> Result<Vec<Mapped>, Vec<ProtobufError>> {
    let label = match side {
        Side::Read => "source",
        Side::Write => "output",
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (column, c) in schema.fields.iter().enumerate() {
        let Some(field) = field_for(message, &c.name) else {
            let names: Vec<String> = message.fields().map(|f| f.name().to_string()).collect();
            let similar = names.iter().any(|n| is_close(&c.name, n));
            errors.push(ProtobufError::NoField {
                side: label,
                column: c.name.clone(),
                message: message.full_name().to_string(),
                close: closest(&c.name, &names),
                similar,
            });
            continue;
        };
        let unsupported = match shape_of(&field) {
            // A scalar column neither comes from nor goes to a repeated or
            // map field.
            Some((_, _, Collection::Repeated | Collection::Map(_)))
                if !c.data_type.is_collection() =>
            {
                None
            }
            other => other,
        };
        let Some((shape, wrapper, collection)) = unsupported else {
            errors.push(ProtobufError::Unsupported {
                side: label,
                column: c.name.clone(),
                field: field.name().to_string(),
                field_type: type_name(&field),
                message: message.full_name().to_string(),
            });
            continue;
        };
        let fits = match (side, c.data_type, &collection) {
            (Side::Read, DataType::List(e), Collection::Repeated) => {
                readable(e.data_type(), &shape)
            }
            (Side::Read, DataType::Map(k, v), Collection::Map(key)) => {
                readable(k.data_type(), key) && readable(v.data_type(), &shape)
            }
            (Side::Read, t, Collection::Single) => readable(t, &shape),
            (Side::Write, DataType::List(e), Collection::Repeated) => {
                writable(e.data_type(), &shape)
            }
            (Side::Write, DataType::Map(k, v), Collection::Map(key)) => {
                writable(k.data_type(), key) && writable(v.data_type(), &shape)
            }
            (Side::Write, t, Collection::Single) => writable(t, &shape),
            _ => false,
        };
        if !fits {
            let field_type = type_name(&field);
            let want = proto_for(c.data_type, side);
            let elem = |s: &Shape| {
                quiver_types::ElementType::from_data_type(natural(s))
                    .unwrap_or(quiver_types::ElementType::String)
            };
            let nat = match &collection {
                Collection::Single => natural(&shape),
                Collection::Repeated => DataType::List(elem(&shape)),
                Collection::Map(key) => DataType::Map(elem(key), elem(&shape)),
            };
            let fix = match side {
                Side::Read
                    if c.data_type == DataType::Float64
                        && matches!(shape, Shape::Int64 | Shape::UInt64) =>
                {
                    format!(
                        "not every 64-bit integer is exact as float64: declare `{}: int64` and CAST it to DOUBLE in the SQL, or make the field {want}",
                        c.name
                    )
                }
                Side::Read => format!(
                    "declare `{}: {}` in the schema (CAST it in the SQL if needed), or make the field {want}",
                    c.name,
                    nat.spec_name()
                ),
                Side::Write => format!(
                    "make the field {want} in the .proto, or CAST the column to {} in the SQL",
                    nat.sql_name()
                ),
            };
            errors.push(ProtobufError::Incompatible(Box::new(Incompatible {
                side: label,
                column: c.name.clone(),
                column_type: c.data_type.spec_name().into_owned(),
                field: field.name().to_string(),
                field_type,
                message: message.full_name().to_string(),
                fix,
            })));
            continue;
        }
        out.push(Mapped {
            column,
            data_type: c.data_type,
            field,
            shape,
            wrapper,
            collection,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Matches a source's declared columns to the fields they are read from.
pub(crate) fn read_columns(
    message: &MessageDescriptor,
    schema: &Schema,
) -> Result<Vec<Mapped>, Vec<ProtobufError>> {
    map_columns(message, schema, Side::Read)
}

/// Matches a job's output columns to the fields they are written to.
pub(crate) fn write_columns(
    message: &MessageDescriptor,
    schema: &Schema,
) -> Result<Vec<Mapped>, Vec<ProtobufError>> {
    map_columns(message, schema, Side::Write)
}

/// Checks a job's Protobuf payloads: each descriptor set loads, each
/// message exists, each source column can be read from its field and each
/// output column (`output`, the compiled job's) written to its field of a
/// Protobuf Kafka sink. JSON payloads have nothing to check here.
pub fn check_job(spec: &JobSpec, output: &Schema) -> Diagnostics {
    let mut errors = Diagnostics::new();
    let mut report = |e: ProtobufError, at: Position| {
        errors.push(
            Diagnostic::at(at, e.to_string())
                .with_help(e.help())
                .in_file(&spec.file),
        );
    };
    for source in &spec.sources {
        let Some(p) = source.unbounded.as_ref().and_then(|u| u.protobuf.as_ref()) else {
            continue;
        };
        match load_located(p) {
            Err((e, at)) => report(e, at),
            Ok(m) => {
                for e in read_columns(&m, &source.schema()).err().unwrap_or_default() {
                    // At the column's declaration in the schema.
                    let at = e
                        .column()
                        .and_then(|c| source.schema.iter().find(|s| s.name == c))
                        .map_or(p.message.pos, |s| s.pos);
                    report(e, at);
                }
            }
        }
    }
    if let Some(p) = spec.sinks.kafka.as_ref().and_then(|k| k.protobuf.as_ref()) {
        match load_located(p) {
            Err((e, at)) => report(e, at),
            Ok(m) => {
                for e in write_columns(&m, output).err().unwrap_or_default() {
                    report(e, p.message.pos);
                }
            }
        }
    }
    errors
}

/// Loads the message a Kafka block names; a failure comes with the
/// position of the key it is about (`descriptor_set` or `message`).
fn load_located(p: &ProtobufSpec) -> Result<MessageDescriptor, (ProtobufError, Position)> {
    load_message(&p.descriptor_set.value, &p.message.value).map_err(|e| {
        let at = if e.is_file_problem() {
            p.descriptor_set.pos
        } else {
            p.message.pos
        };
        (e, at)
    })
}

/// Descriptors of `tests/data/bookings.proto`, compiled with protox.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use prost::Message as _;
    use prost_reflect::MessageDescriptor;
    use quiver_types::{DataType, Field, Schema};

    /// Compiles the tests' .proto into a descriptor-set file in `dir`.
    pub fn descriptor_set(dir: &Path) -> String {
        let root =
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
                .join("../../tests/data");
        let set = protox::compile(["bookings.proto"], [&root]).expect("bookings.proto compiles");
        let path = dir.join("bookings.desc");
        std::fs::write(&path, set.encode_to_vec()).expect("write descriptor set");
        path.display().to_string()
    }

    /// Message `quiver.test.<name>`.
    pub fn message(name: &str) -> MessageDescriptor {
        let dir = tempfile::tempdir().expect("tempdir");
        super::load_message(&descriptor_set(dir.path()), &format!("quiver.test.{name}"))
            .expect("message exists")
    }

    /// A column for each field of `quiver.test.Booking` that can be one,
    /// of a type it can be read as.
    pub const BOOKING_COLUMNS: &[(&str, DataType)] = &[
        ("event_time", DataType::Timestamp),
        ("customer_id", DataType::Int64),
        ("amount", DataType::Float64),
        ("city", DataType::String),
        ("service", DataType::String),
        ("driver_id", DataType::Int64),
        ("points", DataType::Int64),
        ("token", DataType::Bytes),
        ("day", DataType::Date),
        ("created_ms", DataType::Timestamp),
        ("rating", DataType::Float64),
        ("paid", DataType::Bool),
    ];

    /// A schema of these columns.
    pub fn schema(cols: &[(&str, DataType)]) -> Schema {
        Schema::new(cols.iter().map(|(n, t)| Field::new(*n, *t)).collect())
    }

    /// A schema of these columns of [`BOOKING_COLUMNS`].
    pub fn booking_schema(names: &[&str]) -> Schema {
        let cols: Vec<(&str, DataType)> = names
            .iter()
            .map(|n| {
                *BOOKING_COLUMNS
                    .iter()
                    .find(|(c, _)| c == n)
                    .expect("a Booking column")
            })
            .collect();
        schema(&cols)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{BOOKING_COLUMNS, descriptor_set, message, schema};
    use super::*;

    #[test]
    fn messages_load_and_missing_ones_name_close_names() {
        let dir = tempfile::tempdir().unwrap();
        let set = descriptor_set(dir.path());
        assert_eq!(
            load_message(&set, ".quiver.test.Booking")
                .unwrap()
                .full_name(),
            "quiver.test.Booking"
        );
        let e = load_message(&set, "quiver.test.Bookin").unwrap_err();
        assert!(
            matches!(&e, ProtobufError::MessageNotFound { close, .. } if close[0] == "quiver.test.Booking"),
            "{e:?}"
        );
        assert!(
            e.help().starts_with("did you mean `quiver.test.Booking`"),
            "{}",
            e.help()
        );
        // A short name finds its package.
        let e = load_message(&set, "BookingOut").unwrap_err();
        assert!(
            e.help().contains("`quiver.test.BookingOut`"),
            "{}",
            e.help()
        );
        // Nothing close: the set's messages are listed.
        let e = load_message(&set, "zzz.Nothing").unwrap_err();
        assert!(e.help().starts_with("messages in the set:"), "{}", e.help());
        assert!(e.help().contains("quiver.test.SpendFeatures"));
    }

    #[test]
    fn unreadable_and_invalid_descriptor_sets_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.desc").display().to_string();
        assert!(matches!(
            load_message(&missing, "a.B"),
            Err(ProtobufError::ReadDescriptorSet { .. })
        ));
        let proto_text = dir.path().join("x.desc");
        std::fs::write(&proto_text, "syntax = \"proto3\";\nmessage B {}\n").unwrap();
        let e = load_message(&proto_text.display().to_string(), "B").unwrap_err();
        assert!(matches!(e, ProtobufError::BadDescriptorSet { .. }), "{e:?}");
    }

    #[test]
    fn a_descriptor_set_is_parsed_once_until_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let set = descriptor_set(dir.path());
        let a = load_message(&set, "quiver.test.Booking").unwrap();
        let b = load_message(&set, "quiver.test.SpendFeatures").unwrap();
        // One pool (pools compare by identity).
        assert!(a.parent_pool() == b.parent_pool());
        // Another size: read again.
        std::fs::write(&set, "not a descriptor set").unwrap();
        let e = load_message(&set, "quiver.test.Booking").unwrap_err();
        assert!(matches!(e, ProtobufError::BadDescriptorSet { .. }), "{e:?}");
        // Restored: loads again.
        let set = descriptor_set(dir.path());
        assert!(load_message(&set, "quiver.test.Booking").is_ok());
    }

    #[test]
    fn source_columns_match_fields_by_name_and_type() {
        let m = message("Booking");
        let mut good = BOOKING_COLUMNS.to_vec();
        // Matched ignoring case.
        good[1].0 = "Customer_ID";
        let cols = read_columns(&m, &schema(&good)).unwrap();
        assert_eq!(cols.len(), 12);
        assert_eq!(cols[1].field.name(), "customer_id");

        let bad = schema(&[
            ("city", DataType::Int64),
            ("big", DataType::Float64),
            ("amout", DataType::Float64),
            ("tags", DataType::String),
            ("address", DataType::String),
            ("nothing_like_it", DataType::Bool),
        ]);
        let errors = read_columns(&m, &bad).unwrap_err();
        let text: Vec<String> = errors
            .iter()
            .map(|e| format!("{e} | {}", e.help()))
            .collect();
        assert_eq!(errors.len(), 6, "{text:#?}");
        assert_eq!(
            text[0],
            "source column `city` is int64 but field `city` of message `quiver.test.Booking` is string | declare `city: string` in the schema (CAST it in the SQL if needed), or make the field int64"
        );
        assert!(
            text[1].contains("is float64 but field `big`") && text[1].contains("CAST it to DOUBLE"),
            "{}",
            text[1]
        );
        assert!(
            text[2].starts_with("source column `amout` has no field")
                && text[2].contains("did you mean `amount`?"),
            "{}",
            text[2]
        );
        assert!(
            text[3].contains("is repeated string, which cannot be a column"),
            "{}",
            text[3]
        );
        assert!(
            text[4].contains("is quiver.test.Address, which cannot be a column"),
            "{}",
            text[4]
        );
        assert!(text[5].contains("its fields are `"), "{}", text[5]);
    }

    #[test]
    fn output_columns_must_fit_their_fields_without_loss() {
        let m = message("SpendFeatures");
        let good = schema(&[
            ("customer_id", DataType::Int64),
            ("bookings", DataType::Int64),
            ("spend", DataType::Float64),
            ("biggest", DataType::Float64),
            ("window_end", DataType::Timestamp),
        ]);
        assert_eq!(write_columns(&m, &good).unwrap().len(), 5);
        let bad = schema(&[
            ("customer_id", DataType::String),
            ("spend", DataType::Int64),
            ("extra", DataType::Int64),
        ]);
        let errors = write_columns(&m, &bad).unwrap_err();
        assert_eq!(errors.len(), 3);
        assert_eq!(
            errors[0].to_string(),
            "output column `customer_id` is string but field `customer_id` of message `quiver.test.SpendFeatures` is int64"
        );
        assert_eq!(
            errors[0].help(),
            "make the field string in the .proto, or CAST the column to BIGINT in the SQL"
        );
        assert!(errors[2].help().contains("rename the column in the SQL"));
    }

    #[test]
    fn job_checks_point_at_the_job_file() {
        let dir = tempfile::tempdir().unwrap();
        descriptor_set(dir.path());
        let text = r#"name: j
sources:
  bookings:
    schema:
      event_time: timestamp
      customer_id: string
    event_time: event_time
    unbounded:
      kafka: {topic: t, format: protobuf, descriptor_set: bookings.desc, message: quiver.test.Booking}
sql: SELECT event_time, customer_id FROM bookings
sinks:
  kafka: {topic: out, format: protobuf, descriptor_set: missing.desc, message: quiver.test.BookingOut}
"#;
        let jobs = quiver_spec::parse_jobs(text, "job.yaml", dir.path(), &|_| None).unwrap();
        let output = schema(&[
            ("event_time", DataType::Timestamp),
            ("customer_id", DataType::String),
        ]);
        let d = check_job(&jobs[0], &output);
        let shown: Vec<String> = d.0.iter().map(|d| d.to_string()).collect();
        assert_eq!(d.0.len(), 2, "{shown:#?}");
        assert!(
            shown[0].starts_with("job.yaml:6:7: source column `customer_id` is string but field `customer_id` of message `quiver.test.Booking` is int64"),
            "{}",
            shown[0]
        );
        assert!(shown[1].starts_with("job.yaml:12:"), "{}", shown[1]);
        assert!(
            shown[1].contains("cannot read the descriptor set")
                && shown[1].contains("missing.desc"),
            "{}",
            shown[1]
        );
    }
}
