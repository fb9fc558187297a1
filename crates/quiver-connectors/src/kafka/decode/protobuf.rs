//! Protobuf payloads → Arrow batches of a source's declared columns.
//!
//! Each message is decoded on its own with `prost-reflect` into a dynamic
//! message of the configured type, then its fields are read into the
//! declared columns, matched by name (see [`crate::kafka::protobuf`] for
//! which field types feed which columns, and how proto3 presence and
//! defaults become values and NULLs). A message is all or nothing: its row
//! is appended only once every column's value was read, so a rejected
//! message leaves no partial row behind, and the good messages of the
//! batch decode as usual.
//!
//! Rejections: bytes that do not decode as the message type are
//! `undecodable`; a value that does not fit its column (a `uint64` beyond
//! `int64`, a `Timestamp` beyond the millisecond range or with nanos outside
//! `0..1e9`, an enum number without a name for a `string` column) is
//! `wrong_type`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::SchemaRef;
use prost_reflect::{DynamicMessage, MessageDescriptor, Value as Proto};
use quiver_types::{DataType, Value};

use super::{DecodeError, Decoded, Undecodable, arrow_schema};
use crate::kafka::protobuf::{Collection, Mapped, ProtobufError, Shape, read_columns};

/// Decodes Protobuf messages of one type into rows of a source's columns.
pub struct ProtobufDecoder {
    message: MessageDescriptor,
    schema: SchemaRef,
    /// One per declared column, in column order.
    columns: Vec<Mapped>,
}

impl ProtobufDecoder {
    /// A decoder of `message` into rows of `schema`; fails (with the first
    /// problem) when a column has no field or one of an unfit type.
    pub fn new(
        message: MessageDescriptor,
        schema: &quiver_types::Schema,
    ) -> Result<ProtobufDecoder, ProtobufError> {
        let columns = read_columns(&message, schema).map_err(|mut errors| errors.swap_remove(0))?;
        Ok(ProtobufDecoder {
            message,
            schema: arrow_schema(schema),
            columns,
        })
    }

    /// Decodes a batch of messages, one at a time.
    pub fn decode(&self, messages: &[&[u8]]) -> Result<Decoded, DecodeError> {
        let mut builders: Vec<Builder> = self
            .columns
            .iter()
            .map(|c| Builder::new(c.data_type, messages.len()))
            .collect();
        let mut rows = Vec::with_capacity(messages.len());
        let mut rejected = Vec::new();
        let mut values: Vec<Value> = Vec::with_capacity(self.columns.len());
        for (i, bytes) in messages.iter().enumerate() {
            let mut msg = match DynamicMessage::decode(self.message.clone(), *bytes) {
                Ok(m) => m,
                Err(e) => {
                    rejected.push(Undecodable {
                        message: i,
                        reason: "undecodable",
                        detail: format!("not a `{}` message: {e}", self.message.full_name()),
                    });
                    continue;
                }
            };
            values.clear();
            let mut bad = None;
            for c in &self.columns {
                match read(c, &mut msg) {
                    Ok(v) => values.push(v),
                    Err(detail) => {
                        bad = Some(detail);
                        break;
                    }
                }
            }
            if let Some(detail) = bad {
                rejected.push(Undecodable {
                    message: i,
                    reason: "wrong_type",
                    detail,
                });
                continue;
            }
            for (b, v) in builders.iter_mut().zip(values.drain(..)) {
                b.append(v);
            }
            rows.push(i);
        }
        let columns: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
        Ok(Decoded {
            batch: RecordBatch::try_new(self.schema.clone(), columns)?,
            rows,
            rejected,
        })
    }
}

/// The value of column `c` in `msg`, taken out of it (so strings and bytes
/// are moved, not copied).
fn read(c: &Mapped, msg: &mut DynamicMessage) -> Result<Value, String> {
    let raw = match msg.take_field(&c.field) {
        Some(v) => v,
        // Unset with presence: NULL. Without presence (a proto3 scalar),
        // unset and the default are the same on the wire: the default.
        None if c.field.supports_presence() => return Ok(Value::Null),
        None => c.field.default_value(),
    };
    let raw = match (&c.wrapper, raw) {
        // A set wrapper holds its value in field 1, which has no presence.
        (Some(_), Proto::Message(w)) => match w.get_field_by_number(1) {
            Some(v) => v.into_owned(),
            None => {
                return Err(format!(
                    "field `{}` is not a wrapper message",
                    c.field.name()
                ));
            }
        },
        (_, v) => v,
    };
    let name = c.field.name();
    match (c.data_type, &c.collection, raw) {
        (DataType::List(e), Collection::Repeated, Proto::List(items)) => Ok(Value::List(
            e,
            items
                .into_iter()
                .map(|x| convert(e.data_type(), &c.shape, x, name))
                .collect::<Result<_, _>>()?,
        )),
        (DataType::Map(k, v), Collection::Map(key), Proto::Map(entries)) => {
            let mut pairs = entries
                .into_iter()
                .map(|(a, b)| {
                    Ok((
                        convert(k.data_type(), key, Proto::from(a), name)?,
                        convert(v.data_type(), &c.shape, b, name)?,
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            // The decoded map is a hash map: sort so the same message always
            // gives the same value.
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            Ok(Value::Map(k, v, pairs))
        }
        (t, _, raw) => convert(t, &c.shape, raw, name),
    }
}

/// One field value (or element) as a value of column type `t`.
fn convert(t: DataType, shape: &Shape, raw: Proto, name: &str) -> Result<Value, String> {
    let too_big = |v: u64| format!("field `{name}`: {v} is beyond the int64 range");
    Ok(match (t, shape, raw) {
        (DataType::Bool, _, Proto::Bool(b)) => Value::Bool(b),
        (DataType::Int64, _, Proto::I32(v)) => Value::Int64(v.into()),
        (DataType::Int64, _, Proto::I64(v)) => Value::Int64(v),
        (DataType::Int64, _, Proto::U32(v)) => Value::Int64(v.into()),
        (DataType::Int64, _, Proto::U64(v)) => {
            Value::Int64(i64::try_from(v).map_err(|_| too_big(v))?)
        }
        (DataType::Int64, _, Proto::EnumNumber(n)) => Value::Int64(n.into()),
        (DataType::Float64, _, Proto::F64(v)) => Value::Float64(v),
        (DataType::Float64, _, Proto::F32(v)) => Value::Float64(v.into()),
        (DataType::Float64, _, Proto::I32(v)) => Value::Float64(v.into()),
        (DataType::Float64, _, Proto::U32(v)) => Value::Float64(v.into()),
        (DataType::String, _, Proto::String(s)) => Value::String(s),
        (DataType::String, Shape::Enum(e), Proto::EnumNumber(n)) => match e.get_value(n) {
            Some(v) => Value::String(v.name().to_string()),
            None => {
                return Err(format!(
                    "field `{name}`: enum number {n} has no name in `{}`",
                    e.full_name()
                ));
            }
        },
        (DataType::Bytes, _, Proto::Bytes(b)) => Value::Bytes(b.to_vec()),
        (DataType::Timestamp, _, Proto::Message(ts)) => {
            Value::Timestamp(timestamp_millis(name, &ts)?)
        }
        (DataType::Timestamp, _, Proto::I64(ms)) => Value::Timestamp(ms),
        (DataType::Timestamp, _, Proto::U64(ms)) => {
            Value::Timestamp(i64::try_from(ms).map_err(|_| too_big(ms))?)
        }
        (DataType::Date, _, Proto::I32(d)) => Value::Date(d),
        // Validation matched the types; this would be a descriptor that
        // changed under us. Reject the message rather than guess.
        (t, _, v) => {
            return Err(format!(
                "field `{name}`: a {} value cannot be a {} column",
                proto_kind(&v),
                t.spec_name()
            ));
        }
    })
}

/// Milliseconds of a `google.protobuf.Timestamp`, floored (as its nanos
/// are always non-negative, this rounds towards the past like the seconds).
fn timestamp_millis(field: &str, ts: &DynamicMessage) -> Result<i64, String> {
    let seconds = ts
        .get_field_by_number(1)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let nanos = ts
        .get_field_by_number(2)
        .and_then(|v| v.as_i32())
        .unwrap_or(0);
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(format!(
            "field `{field}`: Timestamp nanos {nanos} is outside 0..999999999"
        ));
    }
    seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(nanos / 1_000_000)))
        .ok_or_else(|| {
            format!("field `{field}`: Timestamp seconds {seconds} is beyond the millisecond range")
        })
}

fn proto_kind(v: &Proto) -> &'static str {
    match v {
        Proto::Bool(_) => "bool",
        Proto::I32(_) => "int32",
        Proto::I64(_) => "int64",
        Proto::U32(_) => "uint32",
        Proto::U64(_) => "uint64",
        Proto::F32(_) => "float",
        Proto::F64(_) => "double",
        Proto::String(_) => "string",
        Proto::Bytes(_) => "bytes",
        Proto::EnumNumber(_) => "enum",
        Proto::Message(_) => "message",
        Proto::List(_) => "repeated",
        Proto::Map(_) => "map",
    }
}

/// An Arrow builder for one column type.
enum Builder {
    Bool(BooleanBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    String(StringBuilder),
    Bytes(BinaryBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Date(Date32Builder),
    /// Arrays and maps, built from values at the end.
    Values(DataType, Vec<Value>),
}

impl Builder {
    fn new(t: DataType, rows: usize) -> Builder {
        match t {
            DataType::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::Int64 => Builder::Int64(Int64Builder::with_capacity(rows)),
            DataType::Float64 => Builder::Float64(Float64Builder::with_capacity(rows)),
            DataType::String | DataType::Null => {
                Builder::String(StringBuilder::with_capacity(rows, rows * 8))
            }
            DataType::Bytes => Builder::Bytes(BinaryBuilder::with_capacity(rows, rows * 8)),
            DataType::Timestamp => Builder::Timestamp(
                TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            DataType::Date => Builder::Date(Date32Builder::with_capacity(rows)),
            DataType::List(_) | DataType::Map(_, _) => Builder::Values(t, Vec::with_capacity(rows)),
        }
    }

    /// Appends a value of the builder's type (`read` gives only those) or NULL.
    fn append(&mut self, v: Value) {
        match (self, v) {
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(x),
            (Builder::Int64(b), Value::Int64(x)) => b.append_value(x),
            (Builder::Float64(b), Value::Float64(x)) => b.append_value(x),
            (Builder::String(b), Value::String(x)) => b.append_value(x),
            (Builder::Bytes(b), Value::Bytes(x)) => b.append_value(x),
            (Builder::Timestamp(b), Value::Timestamp(x)) => b.append_value(x),
            (Builder::Date(b), Value::Date(x)) => b.append_value(x),
            (Builder::Values(_, b), x) => b.push(x),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Int64(b), _) => b.append_null(),
            (Builder::Float64(b), _) => b.append_null(),
            (Builder::String(b), _) => b.append_null(),
            (Builder::Bytes(b), _) => b.append_null(),
            (Builder::Timestamp(b), _) => b.append_null(),
            (Builder::Date(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Int64(mut b) => Arc::new(b.finish()),
            Builder::Float64(mut b) => Arc::new(b.finish()),
            Builder::String(mut b) => Arc::new(b.finish()),
            Builder::Bytes(mut b) => Arc::new(b.finish()),
            Builder::Timestamp(mut b) => Arc::new(b.finish()),
            Builder::Date(mut b) => Arc::new(b.finish()),
            Builder::Values(t, b) => Value::to_array(&b, t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::protobuf::testing::{BOOKING_COLUMNS, booking_schema, message, schema};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
    use prost::Message as _;

    /// A decoder of `quiver.test.Booking` into these of its columns.
    fn decoder(columns: &[&str]) -> ProtobufDecoder {
        ProtobufDecoder::new(message("Booking"), &booking_schema(columns)).unwrap()
    }

    fn booking(set: impl FnOnce(&mut DynamicMessage)) -> Vec<u8> {
        let mut m = DynamicMessage::new(message("Booking"));
        set(&mut m);
        m.encode_to_vec()
    }

    fn timestamp(seconds: i64, nanos: i32) -> Proto {
        let d = message("Booking");
        let Kind::Message(ts) = d.get_field_by_name("event_time").unwrap().kind() else {
            unreachable!()
        };
        let mut t = DynamicMessage::new(ts);
        t.set_field_by_name("seconds", Proto::I64(seconds));
        t.set_field_by_name("nanos", Proto::I32(nanos));
        Proto::Message(t)
    }

    use prost_reflect::{Kind, ReflectMessage};

    #[test]
    fn repeated_and_map_fields_read_as_arrays_and_maps() {
        use quiver_types::{ElementType as E, Field, Schema};
        let schema = Schema::new(vec![
            Field::new("tags", DataType::List(E::String)),
            Field::new("items", DataType::Map(E::String, E::Int64)),
            Field::new("seen", DataType::List(E::Timestamp)),
        ]);
        let d = ProtobufDecoder::new(message("Booking"), &schema).unwrap();
        let full = booking(|m| {
            m.set_field_by_name(
                "tags",
                Proto::List(vec![Proto::String("a".into()), Proto::String("b".into())]),
            );
            let mut items = std::collections::HashMap::new();
            items.insert(prost_reflect::MapKey::String("z".into()), Proto::I64(1));
            items.insert(prost_reflect::MapKey::String("y".into()), Proto::I64(2));
            m.set_field_by_name("items", Proto::Map(items));
            m.set_field_by_name("seen", Proto::List(vec![timestamp(1, 500_000_000)]));
        });
        let empty = booking(|_| {});
        let out = d.decode(&[full.as_slice(), empty.as_slice()]).unwrap();
        assert!(out.rejected.is_empty());
        let v = |c: usize, r: usize| Value::from_array(out.batch.column(c).as_ref(), r);
        let s = |x: &str| Value::String(x.into());
        assert_eq!(v(0, 0), Value::List(E::String, vec![s("a"), s("b")]));
        // Keys in ascending order, whatever the wire order.
        assert_eq!(
            v(1, 0),
            Value::Map(
                E::String,
                E::Int64,
                vec![(s("y"), Value::Int64(2)), (s("z"), Value::Int64(1))]
            )
        );
        assert_eq!(
            v(2, 0),
            Value::List(E::Timestamp, vec![Value::Timestamp(1500)])
        );
        // Unset repeated and map fields are empty (proto3 has no presence for them).
        assert_eq!(v(0, 1), Value::List(E::String, vec![]));
        assert_eq!(v(1, 1), Value::Map(E::String, E::Int64, vec![]));
        // A repeated field of another element type is refused when loaded.
        let bad = Schema::new(vec![Field::new("tags", DataType::List(E::Int64))]);
        let Err(err) = ProtobufDecoder::new(message("Booking"), &bad) else {
            panic!("array<int64> from repeated string was accepted")
        };
        let err = err.to_string();
        assert!(err.contains("is array<int64> but field `tags`"), "{err}");
    }

    #[test]
    fn map_keys_of_every_kind_read_in_key_order() {
        use prost_reflect::MapKey as K;
        use quiver_types::{ElementType as E, Field, Schema};
        let schema = Schema::new(vec![
            Field::new("fares_by_zone", DataType::Map(E::Int64, E::Float64)),
            Field::new("counts_by_day", DataType::Map(E::Int64, E::Int64)),
            Field::new("flags", DataType::Map(E::Int64, E::Bool)),
            Field::new("labels", DataType::Map(E::Bool, E::String)),
        ]);
        let d = ProtobufDecoder::new(message("Booking"), &schema).unwrap();
        let map = |pairs: Vec<(K, Proto)>| Proto::Map(pairs.into_iter().collect());
        let full = booking(|m| {
            // As text, 10 would sort before 9.
            m.set_field_by_name(
                "fares_by_zone",
                map(vec![
                    (K::I32(10), Proto::F64(1.5)),
                    (K::I32(9), Proto::F64(2.5)),
                    (K::I32(-1), Proto::F64(0.5)),
                ]),
            );
            m.set_field_by_name(
                "counts_by_day",
                map(vec![
                    (K::I64(i64::MIN), Proto::I64(1)),
                    (K::I64(2), Proto::I64(2)),
                ]),
            );
            m.set_field_by_name(
                "flags",
                map(vec![
                    (K::U64(i64::MAX as u64), Proto::Bool(true)),
                    (K::U64(0), Proto::Bool(false)),
                ]),
            );
            m.set_field_by_name(
                "labels",
                map(vec![
                    (K::Bool(true), Proto::String("t".into())),
                    (K::Bool(false), Proto::String("f".into())),
                ]),
            );
        });
        // A uint64 key beyond int64 cannot be an int64 key: the message is refused.
        let too_big = booking(|m| {
            m.set_field_by_name("flags", map(vec![(K::U64(u64::MAX), Proto::Bool(true))]));
        });
        let out = d.decode(&[full.as_slice(), too_big.as_slice()]).unwrap();
        assert_eq!(out.rows, vec![0]);
        let v = |c: usize| Value::from_array(out.batch.column(c).as_ref(), 0);
        let (i, f, b) = (Value::Int64, Value::Float64, Value::Bool);
        assert_eq!(
            v(0),
            Value::Map(
                E::Int64,
                E::Float64,
                vec![(i(-1), f(0.5)), (i(9), f(2.5)), (i(10), f(1.5))]
            )
        );
        assert_eq!(
            v(1),
            Value::Map(E::Int64, E::Int64, vec![(i(i64::MIN), i(1)), (i(2), i(2))])
        );
        assert_eq!(
            v(2),
            Value::Map(
                E::Int64,
                E::Bool,
                vec![(i(0), b(false)), (i(i64::MAX), b(true))]
            )
        );
        assert_eq!(
            v(3),
            Value::Map(
                E::Bool,
                E::String,
                vec![
                    (b(false), Value::String("f".into())),
                    (b(true), Value::String("t".into()))
                ]
            )
        );
        let r = &out.rejected[..];
        assert_eq!((r.len(), r[0].message, r[0].reason), (1, 1, "wrong_type"));
        assert!(
            r[0].detail.contains("beyond the int64 range"),
            "{}",
            r[0].detail
        );
    }

    #[test]
    fn every_mapping_decodes() {
        let all = schema(BOOKING_COLUMNS);
        let d = ProtobufDecoder::new(message("Booking"), &all).unwrap();
        let full = booking(|m| {
            m.set_field_by_name("event_time", timestamp(1_700_000_000, 123_999_999));
            m.set_field_by_name("customer_id", Proto::I64(42));
            m.set_field_by_name("amount", Proto::F64(12.5));
            m.set_field_by_name("city", Proto::String("Lisbon".into()));
            m.set_field_by_name("service", Proto::EnumNumber(2));
            let Kind::Message(w) = m
                .descriptor()
                .get_field_by_name("driver_id")
                .unwrap()
                .kind()
            else {
                unreachable!()
            };
            let mut wrapped = DynamicMessage::new(w);
            wrapped.set_field_by_name("value", Proto::I64(0));
            m.set_field_by_name("driver_id", Proto::Message(wrapped));
            m.set_field_by_name("points", Proto::U64(7));
            m.set_field_by_name("token", Proto::Bytes(vec![1u8, 2, 3].into()));
            m.set_field_by_name("day", Proto::I32(19_000));
            m.set_field_by_name("created_ms", Proto::I64(-1));
            m.set_field_by_name("rating", Proto::F32(4.5));
            m.set_field_by_name("paid", Proto::Bool(true));
        });
        // Before 1970, nanos still count forwards from the (earlier) second.
        let early = booking(|m| m.set_field_by_name("event_time", timestamp(-2, 500_000_000)));
        let out = d.decode(&[&full, &early]).unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        assert_eq!(out.rows, vec![0, 1]);
        let b = &out.batch;
        let t = b.column(0).as_primitive::<TimestampMillisecondType>();
        assert_eq!(t.values().to_vec(), vec![1_700_000_000_123, -1_500]);
        assert_eq!(b.column(1).as_primitive::<Int64Type>().value(0), 42);
        assert_eq!(b.column(2).as_primitive::<Float64Type>().value(0), 12.5);
        assert_eq!(b.column(3).as_string::<i32>().value(0), "Lisbon");
        assert_eq!(b.column(4).as_string::<i32>().value(0), "BIKE");
        // A set wrapper holding the default is a value, not NULL.
        assert_eq!(b.column(5).as_primitive::<Int64Type>().value(0), 0);
        assert!(b.column(5).is_valid(0));
        assert_eq!(b.column(6).as_primitive::<Int64Type>().value(0), 7);
        assert_eq!(b.column(7).as_binary::<i32>().value(0), &[1, 2, 3]);
        assert_eq!(b.column(8).as_primitive::<Date32Type>().value(0), 19_000);
        assert_eq!(
            b.column(9)
                .as_primitive::<TimestampMillisecondType>()
                .value(0),
            -1
        );
        assert_eq!(b.column(10).as_primitive::<Float64Type>().value(0), 4.5);
        assert!(b.column(11).as_boolean().value(0));
        assert_eq!(b.schema().as_ref(), arrow_schema(&all).as_ref());
    }

    #[test]
    fn unset_fields_are_null_with_presence_and_the_default_without() {
        let d = decoder(&[
            "event_time",
            "customer_id",
            "amount",
            "city",
            "service",
            "driver_id",
            "points",
            "created_ms",
        ]);
        // An empty payload is a message with every field unset.
        let out = d.decode(&[b"".as_slice()]).unwrap();
        assert!(out.rejected.is_empty());
        let b = &out.batch;
        for (c, null) in [
            (0, true),
            (1, true),
            (2, true),
            (3, false),
            (4, false),
            (5, true),
            (6, false),
            (7, true),
        ] {
            assert_eq!(b.column(c).is_null(0), null, "column {c}");
        }
        assert_eq!(b.column(3).as_string::<i32>().value(0), "");
        assert_eq!(
            b.column(4).as_string::<i32>().value(0),
            "SERVICE_UNSPECIFIED"
        );
        assert_eq!(b.column(6).as_primitive::<Int64Type>().value(0), 0);
    }

    #[test]
    fn bad_messages_are_rejected_one_by_one() {
        let d = decoder(&["event_time", "customer_id", "points", "service"]);
        let good = |c: i64| {
            booking(|m| {
                m.set_field_by_name("event_time", timestamp(1000, 0));
                m.set_field_by_name("customer_id", Proto::I64(c));
            })
        };
        let (g0, g1, g2) = (good(1), good(2), good(3));
        let mut truncated = good(4);
        truncated.pop();
        // Field 2 (customer_id, a varint) sent as a length-delimited value.
        let wrong_wire_type = vec![0x12, 0x01, b'x'];
        let garbage = vec![0xff, 0xff, 0xff, 0xff];
        let huge = booking(|m| m.set_field_by_name("points", Proto::U64(u64::MAX)));
        let unnamed_enum = booking(|m| m.set_field_by_name("service", Proto::EnumNumber(9)));
        let bad_nanos = booking(|m| m.set_field_by_name("event_time", timestamp(1, -5)));
        let bad_seconds =
            booking(|m| m.set_field_by_name("event_time", timestamp(i64::MAX / 10, 0)));
        let msgs: Vec<&[u8]> = vec![
            &g0,
            &truncated,
            &wrong_wire_type,
            &g1,
            &garbage,
            &huge,
            &unnamed_enum,
            &bad_nanos,
            &bad_seconds,
            &g2,
        ];
        let out = d.decode(&msgs).unwrap();
        assert_eq!(out.rows, vec![0, 3, 9]);
        assert_eq!(
            out.batch
                .column(1)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec(),
            vec![1, 2, 3]
        );
        let why: Vec<(usize, &str)> = out.rejected.iter().map(|r| (r.message, r.reason)).collect();
        assert_eq!(
            why,
            vec![
                (1, "undecodable"),
                (2, "undecodable"),
                (4, "undecodable"),
                (5, "wrong_type"),
                (6, "wrong_type"),
                (7, "wrong_type"),
                (8, "wrong_type"),
            ]
        );
        assert!(
            out.rejected[0]
                .detail
                .starts_with("not a `quiver.test.Booking` message")
        );
        assert!(
            out.rejected[3].detail.contains("beyond the int64 range"),
            "{}",
            out.rejected[3].detail
        );
        assert!(
            out.rejected[4].detail.contains("enum number 9"),
            "{}",
            out.rejected[4].detail
        );
        assert!(
            out.rejected[5].detail.contains("nanos -5"),
            "{}",
            out.rejected[5].detail
        );
    }

    #[test]
    fn a_mismatched_schema_is_refused_when_the_decoder_is_built() {
        let s = schema(&[("city", DataType::Int64)]);
        let e = ProtobufDecoder::new(message("Booking"), &s).err().unwrap();
        assert!(matches!(e, ProtobufError::Incompatible(_)), "{e:?}");
    }
}
