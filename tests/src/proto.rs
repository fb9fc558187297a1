//! Protobuf for the tests: `tests/data/bookings.proto` compiled with protox
//! (no protoc needed) into a descriptor-set file, and messages of it built
//! and read back as rows.

use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage as _, Value as Proto};
use quiver_types::time::{format_timestamp, parse_timestamp};
use serde_json::{Value as Json, json};

/// Compiles `tests/data/bookings.proto` into `dir/bookings.desc` and
/// returns its path.
pub fn descriptor_set(dir: &Path) -> PathBuf {
    let root = crate::tests_dir().join("data");
    let set = protox::compile(["bookings.proto"], [&root]).expect("bookings.proto compiles");
    let path = dir.join("bookings.desc");
    std::fs::write(&path, set.encode_to_vec()).expect("write the descriptor set");
    path
}

/// Message `name` (fully qualified) of a descriptor-set file.
pub fn message(set: &Path, name: &str) -> MessageDescriptor {
    let bytes = std::fs::read(set).expect("read the descriptor set");
    let mut pool = prost_reflect::DescriptorPool::global();
    pool.decode_file_descriptor_set(bytes.as_slice())
        .expect("a descriptor set");
    pool.get_message_by_name(name)
        .unwrap_or_else(|| panic!("no message {name}"))
}

/// A `google.protobuf.Timestamp` value of field `field` of `m`.
pub fn timestamp(m: &MessageDescriptor, field: &str, millis: i64) -> Proto {
    let Kind::Message(ts) = m.get_field_by_name(field).expect("field").kind() else {
        panic!("{field} is not a message field");
    };
    let mut t = DynamicMessage::new(ts);
    t.set_field_by_name("seconds", Proto::I64(millis.div_euclid(1000)));
    t.set_field_by_name(
        "nanos",
        Proto::I32((millis.rem_euclid(1000) * 1_000_000) as i32),
    );
    Proto::Message(t)
}

/// A `quiver.test.Booking` message.
pub fn booking(m: &MessageDescriptor, time: i64, customer: i64, amount: f64) -> Vec<u8> {
    let mut b = DynamicMessage::new(m.clone());
    b.set_field_by_name("event_time", timestamp(m, "event_time", time));
    b.set_field_by_name("customer_id", Proto::I64(customer));
    b.set_field_by_name("amount", Proto::F64(amount));
    b.encode_to_vec()
}

/// The values of `columns` in an encoded message, in the golden files'
/// JSON form (timestamps as RFC 3339 text; unset fields with presence as
/// null).
pub fn row(m: &MessageDescriptor, payload: &[u8], columns: &[&str]) -> Vec<Json> {
    let msg = DynamicMessage::decode(m.clone(), payload).expect("a message of the type");
    columns
        .iter()
        .map(|c| {
            let f = m
                .get_field_by_name(c)
                .unwrap_or_else(|| panic!("no field {c}"));
            if f.supports_presence() && !msg.has_field(&f) {
                return Json::Null;
            }
            value(&msg.get_field(&f))
        })
        .collect()
}

fn value(v: &Proto) -> Json {
    match v {
        Proto::Bool(b) => json!(b),
        Proto::I32(x) => json!(x),
        Proto::I64(x) => json!(x),
        Proto::U32(x) => json!(x),
        Proto::U64(x) => json!(x),
        Proto::F32(x) => json!(x),
        Proto::F64(x) => json!(x),
        Proto::String(s) => json!(s),
        Proto::Message(m) if m.descriptor().full_name() == "google.protobuf.Timestamp" => {
            let seconds = m
                .get_field_by_name("seconds")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            let nanos = m
                .get_field_by_name("nanos")
                .and_then(|v| v.as_i32())
                .unwrap_or(0);
            json!(format_timestamp(
                seconds * 1000 + i64::from(nanos / 1_000_000)
            ))
        }
        // A wrapper: its value.
        Proto::Message(m) => m.get_field_by_number(1).map_or(Json::Null, |v| value(&v)),
        other => panic!("unexpected field value {other:?}"),
    }
}

/// A JSON payload's `columns` in the golden files' JSON form: absent keys
/// are null, and the columns named in `times` (RFC 3339 text) are
/// normalized to `format_timestamp`.
pub fn json_row(payload: &[u8], columns: &[&str], times: &[&str]) -> Vec<Json> {
    let obj: Json = serde_json::from_slice(payload).expect("a JSON payload");
    columns
        .iter()
        .map(|c| match obj.get(*c) {
            None | Some(Json::Null) => Json::Null,
            Some(Json::String(s)) if times.contains(c) => {
                json!(format_timestamp(parse_timestamp(s).expect("a timestamp")))
            }
            Some(v) => v.clone(),
        })
        .collect()
}
