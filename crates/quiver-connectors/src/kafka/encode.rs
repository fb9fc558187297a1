//! Output rows → Kafka payloads, one per row: JSON objects or Protobuf
//! messages.
//!
//! * JSON: an object of the row's columns (NULLs left out, timestamps as
//!   RFC 3339 text, dates as `YYYY-MM-DD`), as arrow-json writes them.
//! * Protobuf: a message of the configured type, each output column in the
//!   field of its name (see [`crate::kafka::protobuf`] for the types each
//!   column may be written to). NULL leaves the field unset; a timestamp
//!   becomes a `google.protobuf.Timestamp` (or epoch milliseconds in an
//!   `int64` field), a date the days since the epoch. Fields no column
//!   names stay unset.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType as ArrowType, Schema as ArrowSchema};
use arrow::error::ArrowError;
use arrow::json::LineDelimitedWriter;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MapKey, MessageDescriptor, Value as Proto};
use quiver_spec::KafkaSinkSpec;
use quiver_types::{Schema, Value};

use super::protobuf::{Collection, Mapped, ProtobufError, Shape, load_message, write_columns};

/// Rows that could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// arrow-json failed.
    #[error("encoding rows as JSON: {0}")]
    Json(#[from] ArrowError),
    /// A value the field cannot hold (validation rules this out; the
    /// descriptor would have to change under a running job).
    #[error("output column `{column}`: {detail}")]
    Value {
        /// The column.
        column: String,
        /// What went wrong.
        detail: String,
    },
}

// Sinks report errors as text, like every `SinkWriter`.
impl From<EncodeError> for String {
    fn from(e: EncodeError) -> String {
        e.to_string()
    }
}

/// Payloads of consecutive rows in one buffer.
#[derive(Debug, Default)]
pub struct Encoded {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Encoded {
    /// Each row's payload, in row order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(a, b)| &self.bytes[a..b])
    }

    /// How many payloads.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Each row of `batch` as a JSON object.
pub fn json_rows(batch: &RecordBatch) -> Result<Encoded, EncodeError> {
    let batch = utc_as_offset(batch)?;
    let mut bytes = Vec::new();
    let mut w = LineDelimitedWriter::new(&mut bytes);
    w.write(&batch)?;
    w.finish()?;
    // One line per row: cut at the newlines, and drop them.
    let mut out = Encoded::default();
    let mut kept = Vec::with_capacity(bytes.len());
    for line in bytes.split(|b| *b == b'\n') {
        if out.ends.len() == batch.num_rows() {
            break;
        }
        kept.extend_from_slice(line);
        out.ends.push(kept.len());
    }
    out.bytes = kept;
    Ok(out)
}

/// `batch` with its `UTC` timestamp columns tagged `+00:00` (the same
/// instants): arrow-json formats only offset time zones without chrono-tz,
/// and fails on a `UTC` column.
fn utc_as_offset(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let retag = json_type;
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| retag(f.data_type()).is_some())
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        match retag(f.data_type()) {
            Some(t) => {
                fields.push(f.as_ref().clone().with_data_type(t.clone()));
                columns.push(arrow::compute::cast(c, &t)?);
            }
            None => {
                fields.push(f.as_ref().clone());
                columns.push(c.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), columns)
}

/// The type a column is cast to before arrow-json writes it, `None` when
/// it is written as it is: `UTC` timestamps (also inside arrays and maps)
/// become `+00:00`, and map keys that are not strings become strings
/// (JSON object keys are strings; arrow-json writes only string keys), so
/// `MAP<BIGINT, BIGINT>` `{1: 3}` is written `{"1": 3}`.
fn json_type(t: &ArrowType) -> Option<ArrowType> {
    use arrow::datatypes::Field;
    let field = |f: &Field, t: Option<ArrowType>| {
        Arc::new(
            f.clone()
                .with_data_type(t.unwrap_or_else(|| f.data_type().clone())),
        )
    };
    match t {
        ArrowType::Timestamp(unit, Some(_)) => {
            Some(ArrowType::Timestamp(*unit, Some("+00:00".into())))
        }
        ArrowType::List(f) => json_type(f.data_type()).map(|t| ArrowType::List(field(f, Some(t)))),
        ArrowType::Map(entries, sorted) => {
            let ArrowType::Struct(kv) = entries.data_type() else {
                return None;
            };
            let key = (kv[0].data_type() != &ArrowType::Utf8).then_some(ArrowType::Utf8);
            let value = json_type(kv[1].data_type());
            if key.is_none() && value.is_none() {
                return None;
            }
            let kv = vec![field(&kv[0], key), field(&kv[1], value)];
            Some(ArrowType::Map(
                field(entries, Some(ArrowType::Struct(kv.into()))),
                *sorted,
            ))
        }
        _ => None,
    }
}

/// How a Kafka sink encodes rows.
#[derive(Debug, Clone)]
pub enum Encoder {
    /// JSON objects.
    Json,
    /// Protobuf messages.
    Protobuf(ProtobufEncoder),
}

impl Encoder {
    /// The encoder of a job's `sinks.kafka` block for its `output` columns,
    /// loading the descriptor set for Protobuf.
    pub fn for_sink(spec: &KafkaSinkSpec, output: &Schema) -> Result<Encoder, ProtobufError> {
        match &spec.protobuf {
            None => Ok(Encoder::Json),
            Some(p) => {
                let m = load_message(&p.descriptor_set.value, &p.message.value)?;
                ProtobufEncoder::new(m, output).map(Encoder::Protobuf)
            }
        }
    }

    /// Each row of `batch` (the output columns) as a payload.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Encoded, EncodeError> {
        match self {
            Encoder::Json => json_rows(batch),
            Encoder::Protobuf(p) => p.encode(batch),
        }
    }
}

/// Encodes rows of a job's output as Protobuf messages of one type.
#[derive(Debug, Clone)]
pub struct ProtobufEncoder {
    message: MessageDescriptor,
    /// The output columns with their fields, in column order.
    columns: Vec<Mapped>,
}

impl ProtobufEncoder {
    /// An encoder of rows of `output` as `message`; fails (with the first
    /// problem) when a column has no field or one of an unfit type.
    pub fn new(
        message: MessageDescriptor,
        output: &Schema,
    ) -> Result<ProtobufEncoder, ProtobufError> {
        let columns = write_columns(&message, output).map_err(|mut e| e.swap_remove(0))?;
        Ok(ProtobufEncoder { message, columns })
    }

    /// Each row of `batch` as one encoded message.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Encoded, EncodeError> {
        let mut out = Encoded::default();
        for row in 0..batch.num_rows() {
            let mut msg = DynamicMessage::new(self.message.clone());
            for c in &self.columns {
                let v = Value::from_array(batch.column(c.column).as_ref(), row);
                if v.is_null() {
                    continue;
                }
                let error = |detail: String| EncodeError::Value {
                    column: batch.schema().field(c.column).name().clone(),
                    detail,
                };
                let value = proto_value(c, v).map_err(error)?;
                msg.try_set_field(&c.field, value)
                    .map_err(|e| error(e.to_string()))?;
            }
            msg.encode(&mut out.bytes).map_err(|e| EncodeError::Value {
                column: String::new(),
                detail: e.to_string(),
            })?;
            out.ends.push(out.bytes.len());
        }
        Ok(out)
    }
}

/// The field value for a non-NULL column value: one value, or every
/// element of an array or map (whose elements may not be NULL: Protobuf
/// has no NULL inside a repeated or map field).
fn proto_value(c: &Mapped, v: Value) -> Result<Proto, String> {
    let field = c.field.name();
    let element = |v: Value, what: &str| {
        if v.is_null() {
            return Err(format!(
                "a NULL {what} cannot be written to field `{field}` (Protobuf has no NULL inside a repeated or map field; COALESCE it or filter it out in the SQL)"
            ));
        }
        scalar(&c.shape, v, field)
    };
    let inner = match (&c.collection, v) {
        (Collection::Repeated, Value::List(_, items)) => Proto::List(
            items
                .into_iter()
                .map(|v| element(v, "element"))
                .collect::<Result<_, _>>()?,
        ),
        (Collection::Map(key), Value::Map(_, _, entries)) => Proto::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((map_key(key, k, field)?, element(v, "map value")?)))
                .collect::<Result<_, String>>()?,
        ),
        (_, v) => scalar(&c.shape, v, field)?,
    };
    Ok(match &c.wrapper {
        None => inner,
        Some(w) => {
            let mut m = DynamicMessage::new(w.clone());
            m.try_set_field_by_number(1, inner)
                .map_err(|e| e.to_string())?;
            Proto::Message(m)
        }
    })
}

/// One non-NULL value for a field (or element) of shape `shape`.
fn scalar(shape: &Shape, v: Value, field: &str) -> Result<Proto, String> {
    Ok(match (shape, v) {
        (Shape::Bool, Value::Bool(b)) => Proto::Bool(b),
        (Shape::Int64, Value::Int64(x)) => Proto::I64(x),
        (Shape::Double, Value::Float64(x)) => Proto::F64(x),
        (Shape::String, Value::String(s)) => Proto::String(s),
        (Shape::Bytes, Value::Bytes(b)) => Proto::Bytes(b.into()),
        (Shape::Timestamp(md), Value::Timestamp(ms)) => {
            let mut ts = DynamicMessage::new(md.clone());
            ts.try_set_field_by_number(1, Proto::I64(ms.div_euclid(1000)))
                .map_err(|e| e.to_string())?;
            // rem_euclid keeps nanos in 0..1e9 for times before 1970 too.
            let nanos = (ms.rem_euclid(1000) * 1_000_000) as i32;
            ts.try_set_field_by_number(2, Proto::I32(nanos))
                .map_err(|e| e.to_string())?;
            Proto::Message(ts)
        }
        (Shape::Int64, Value::Timestamp(ms)) => Proto::I64(ms),
        (Shape::Int32, Value::Date(d)) => Proto::I32(d),
        (Shape::Int64, Value::Date(d)) => Proto::I64(d.into()),
        (_, v) => {
            return Err(format!(
                "a {} value does not fit field `{field}`",
                v.data_type().spec_name(),
            ));
        }
    })
}

/// A map key for a key field of shape `shape`.
fn map_key(shape: &Shape, k: Value, field: &str) -> Result<MapKey, String> {
    match scalar(shape, k, field)? {
        Proto::Bool(b) => Ok(MapKey::Bool(b)),
        Proto::I64(x) => Ok(MapKey::I64(x)),
        Proto::I32(x) => Ok(MapKey::I32(x)),
        Proto::String(s) => Ok(MapKey::String(s)),
        other => Err(format!("{other:?} is not a key of map field `{field}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::protobuf::testing::{message, schema};
    use arrow::array::{ArrayRef, Float64Array, Int64Array, TimestampMillisecondArray};
    use quiver_types::DataType;

    /// Output rows of these columns, with these values.
    fn rows_of(columns: &[(&str, DataType)], values: Vec<ArrayRef>) -> (Schema, RecordBatch) {
        let schema = schema(columns);
        let batch = RecordBatch::try_new(schema.to_arrow(), values).unwrap();
        (schema, batch)
    }

    fn output() -> (Schema, RecordBatch) {
        rows_of(
            &[
                ("customer_id", DataType::Int64),
                ("spend", DataType::Float64),
                ("window_end", DataType::Timestamp),
            ],
            vec![
                Arc::new(Int64Array::from(vec![Some(7), None])),
                Arc::new(Float64Array::from(vec![None, Some(2.5)])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![1_700_000_000_123, -1_500])
                        .with_timezone("UTC"),
                ),
            ],
        )
    }

    /// The rows of `batch` encoded as message `quiver.test.<name>`, one
    /// each, and decoded back.
    fn round_trip(name: &str, schema: &Schema, batch: &RecordBatch) -> Vec<DynamicMessage> {
        let m = message(name);
        let out = ProtobufEncoder::new(m.clone(), schema)
            .unwrap()
            .encode(batch)
            .unwrap();
        assert_eq!(out.len(), batch.num_rows());
        out.iter()
            .map(|p| DynamicMessage::decode(m.clone(), p).unwrap())
            .collect()
    }

    #[test]
    fn arrays_and_maps_are_json_arrays_and_objects() {
        use quiver_types::ElementType as E;
        let list = DataType::List(E::Timestamp);
        let map = DataType::Map(E::Int64, E::Float64);
        let lists = Value::to_array(
            &[
                Value::List(E::Timestamp, vec![Value::Timestamp(0), Value::Null]),
                Value::Null,
            ],
            list,
        );
        let maps = Value::to_array(
            &[
                Value::Map(
                    E::Int64,
                    E::Float64,
                    vec![(Value::Int64(1), Value::Float64(0.5))],
                ),
                Value::Map(E::Int64, E::Float64, vec![]),
            ],
            map,
        );
        let (_, batch) = rows_of(&[("times", list), ("counts", map)], vec![lists, maps]);
        let out = json_rows(&batch).unwrap();
        let rows: Vec<&str> = out
            .iter()
            .map(|r| std::str::from_utf8(r).unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                r#"{"times":["1970-01-01T00:00:00Z",null],"counts":{"1":0.5}}"#,
                r#"{"counts":{}}"#
            ]
        );
    }

    #[test]
    fn maps_keyed_by_int64_and_bool_become_proto_maps() {
        use quiver_types::ElementType as E;
        let (days, labels) = (
            DataType::Map(E::Int64, E::Int64),
            DataType::Map(E::Bool, E::String),
        );
        let (columns, batch) = rows_of(
            &[("counts_by_day", days), ("labels", labels)],
            vec![
                Value::to_array(
                    &[Value::Map(
                        E::Int64,
                        E::Int64,
                        vec![
                            (Value::Int64(i64::MIN), Value::Int64(1)),
                            (Value::Int64(2), Value::Int64(3)),
                        ],
                    )],
                    days,
                ),
                Value::to_array(
                    &[Value::Map(
                        E::Bool,
                        E::String,
                        vec![(Value::Bool(false), Value::String("f".into()))],
                    )],
                    labels,
                ),
            ],
        );
        let rows = round_trip("Booking", &columns, &batch);
        let days = rows[0].get_field_by_name("counts_by_day").unwrap();
        let days = days.as_map().unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[&MapKey::I64(i64::MIN)].as_i64(), Some(1));
        assert_eq!(days[&MapKey::I64(2)].as_i64(), Some(3));
        let labels = rows[0].get_field_by_name("labels").unwrap();
        assert_eq!(
            labels.as_map().unwrap()[&MapKey::Bool(false)].as_str(),
            Some("f")
        );
        // int64 keys do not fit an int32-keyed map without loss: refused
        // when the encoder is built, not row by row.
        let narrow = schema(&[("fares_by_zone", DataType::Map(E::Int64, E::Float64))]);
        let Err(e) = ProtobufEncoder::new(message("Booking"), &narrow) else {
            panic!("map<int64, float64> into map<int32, double> was accepted")
        };
        assert!(e.to_string().contains("fares_by_zone"), "{e}");
    }

    #[test]
    fn rows_become_messages_with_nulls_unset() {
        let (schema, batch) = output();
        let rows = round_trip("SpendFeatures", &schema, &batch);
        assert_eq!(
            rows[0].get_field_by_name("customer_id").unwrap().as_i64(),
            Some(7)
        );
        assert!(!rows[0].has_field_by_name("spend"));
        assert_eq!(
            rows[1].get_field_by_name("spend").unwrap().as_f64(),
            Some(2.5)
        );
        let ts = |r: &DynamicMessage| {
            let v = r.get_field_by_name("window_end").unwrap();
            let t = v.as_message().unwrap();
            (
                t.get_field_by_name("seconds").unwrap().as_i64().unwrap(),
                t.get_field_by_name("nanos").unwrap().as_i32().unwrap(),
            )
        };
        assert_eq!(ts(&rows[0]), (1_700_000_000, 123_000_000));
        assert_eq!(ts(&rows[1]), (-2, 500_000_000));
    }

    #[test]
    fn wrappers_and_millisecond_fields_are_written() {
        let (schema, batch) = rows_of(
            &[
                ("amount", DataType::Float64),
                ("event_time_ms", DataType::Timestamp),
            ],
            vec![
                Arc::new(Float64Array::from(vec![Some(0.0), None])),
                Arc::new(TimestampMillisecondArray::from(vec![5, 6]).with_timezone("UTC")),
            ],
        );
        let rows = round_trip("BookingOut", &schema, &batch);
        // A wrapper tells 0.0 from NULL.
        assert!(rows[0].has_field_by_name("amount"));
        assert!(!rows[1].has_field_by_name("amount"));
        assert_eq!(
            rows[1].get_field_by_name("event_time_ms").unwrap().as_i64(),
            Some(6)
        );
    }

    #[test]
    fn arrays_and_maps_go_to_repeated_and_map_fields() {
        use quiver_types::ElementType as E;
        let (tags, items, seen) = (
            DataType::List(E::String),
            DataType::Map(E::String, E::Int64),
            DataType::List(E::Timestamp),
        );
        let s = |t: &str| Value::String(t.into());
        let column = |values: &[Value], t| Value::to_array(values, t);
        let (schema, batch) = rows_of(
            &[("tags", tags), ("items", items), ("seen", seen)],
            vec![
                column(
                    &[
                        Value::List(E::String, vec![s("vip"), s("new")]),
                        Value::Null,
                    ],
                    tags,
                ),
                column(
                    &[
                        Value::Map(E::String, E::Int64, vec![(s("tea"), Value::Int64(2))]),
                        Value::Map(E::String, E::Int64, vec![]),
                    ],
                    items,
                ),
                column(
                    &[
                        Value::List(E::Timestamp, vec![Value::Timestamp(1_500)]),
                        Value::List(E::Timestamp, vec![]),
                    ],
                    seen,
                ),
            ],
        );
        let rows = round_trip("Booking", &schema, &batch);
        let names: Vec<String> = rows[0]
            .get_field_by_name("tags")
            .unwrap()
            .as_list()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["vip", "new"]);
        let items = rows[0].get_field_by_name("items").unwrap();
        let items = items.as_map().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[&MapKey::String("tea".into())].as_i64(), Some(2));
        let seen = rows[0].get_field_by_name("seen").unwrap();
        let t = seen.as_list().unwrap()[0].as_message().unwrap().clone();
        assert_eq!(t.get_field_by_name("seconds").unwrap().as_i64(), Some(1));
        assert_eq!(
            t.get_field_by_name("nanos").unwrap().as_i32(),
            Some(500_000_000)
        );
        // A NULL array, an empty map and an empty array are all empty.
        for f in ["tags", "items", "seen"] {
            assert!(!rows[1].has_field_by_name(f), "{f}");
        }
        // A NULL element cannot be written: the row fails, naming it.
        let (schema, batch) = rows_of(
            &[("tags", tags)],
            vec![column(
                &[Value::List(E::String, vec![s("a"), Value::Null])],
                tags,
            )],
        );
        let e = ProtobufEncoder::new(message("Booking"), &schema)
            .unwrap()
            .encode(&batch)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a NULL element cannot be written to field `tags`"),
            "{e}"
        );
        // An element type that does not fit is refused when the job loads.
        let (schema, _) = rows_of(
            &[("tags", DataType::List(E::Int64))],
            vec![column(&[Value::Null], DataType::List(E::Int64))],
        );
        let e = ProtobufEncoder::new(message("Booking"), &schema).unwrap_err();
        assert!(
            e.help().contains(
                "make the field repeated int64 in the .proto, or CAST the column to ARRAY<VARCHAR>"
            ),
            "{}",
            e.help()
        );
    }

    #[test]
    fn json_rows_are_one_object_per_row() {
        let (_, batch) = output();
        let out = json_rows(&batch).unwrap();
        let rows: Vec<&str> = out
            .iter()
            .map(|p| std::str::from_utf8(p).unwrap())
            .collect();
        assert_eq!(
            rows,
            vec![
                r#"{"customer_id":7,"window_end":"2023-11-14T22:13:20.123Z"}"#,
                r#"{"spend":2.5,"window_end":"1969-12-31T23:59:58.500Z"}"#,
            ]
        );
    }
}
