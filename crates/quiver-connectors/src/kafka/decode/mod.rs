//! Kafka payloads → Arrow batches of a source's declared columns.
//!
//! Two payload formats share one contract ([`Decoded`]): every message
//! either becomes one row of the declared columns or is set aside as
//! [`Undecodable`] with a reason (`undecodable`: not a message of the
//! format at all; `wrong_type`: a value that does not fit its column), and
//! a bad message never costs the good ones of its batch. The source sends
//! the rejected ones to the dead letters.
//!
//! * [`json`]: one JSON object per message;
//! * [`protobuf`]: one Protobuf message of a type from a descriptor set.

mod fast_json;
pub mod json;
pub mod protobuf;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use prost_reflect::MessageDescriptor;
use quiver_spec::UnboundedSpec;

pub use json::JsonDecoder;
pub use protobuf::ProtobufDecoder;

use super::protobuf::{ProtobufError, load_message};

/// The zone arrow-json reads timestamp strings in; the fast JSON path must
/// read them the same way.
const UTC_LABEL: &str = "+00:00";

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    /// Index of the message in the batch.
    pub message: usize,
    /// Short reason, a metric label: `undecodable`, `wrong_type`.
    pub reason: &'static str,
    /// What exactly was wrong.
    pub detail: String,
}

/// Decoded rows and the messages that did not decode.
#[derive(Debug)]
pub struct Decoded {
    /// One row per good message.
    pub batch: RecordBatch,
    /// For each row, the index of its message.
    pub rows: Vec<usize>,
    /// The rejected messages.
    pub rejected: Vec<Undecodable>,
}

/// A decoder that cannot be built, or a batch that cannot be assembled
/// (never a bad message: those are [`Undecodable`]).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The declared columns cannot be read from JSON.
    #[error("JSON payloads cannot hold these columns: {0}")]
    JsonSchema(ArrowError),
    /// The declared columns do not match the Protobuf message.
    #[error(transparent)]
    Protobuf(#[from] ProtobufError),
    /// Assembling decoded rows into a batch failed.
    #[error("assembling decoded rows: {0}")]
    Arrow(#[from] ArrowError),
}

// The Kafka source reports errors as text, like every `Split`.
impl From<DecodeError> for String {
    fn from(e: DecodeError) -> String {
        e.to_string()
    }
}

/// What a source's messages hold.
#[derive(Debug, Clone)]
pub enum Payload {
    /// One JSON object per message.
    Json,
    /// One message of this Protobuf type per message.
    Protobuf(MessageDescriptor),
}

impl Payload {
    /// The payload of a job's `unbounded.kafka` block, loading its
    /// descriptor set for Protobuf.
    pub fn of(spec: &UnboundedSpec) -> Result<Payload, ProtobufError> {
        match &spec.protobuf {
            None => Ok(Payload::Json),
            Some(p) => {
                load_message(&p.descriptor_set.value, &p.message.value).map(Payload::Protobuf)
            }
        }
    }
}

/// A decoder of one payload format into rows of the declared columns.
pub enum PayloadDecoder {
    /// JSON objects.
    Json(JsonDecoder),
    /// Protobuf messages.
    Protobuf(ProtobufDecoder),
}

impl PayloadDecoder {
    /// A decoder of `payload` into rows of `schema`; fails when a declared
    /// column cannot come from the payload.
    pub fn new(
        payload: &Payload,
        schema: &quiver_types::Schema,
    ) -> Result<PayloadDecoder, DecodeError> {
        Ok(match payload {
            Payload::Json => PayloadDecoder::Json(JsonDecoder::new(arrow_schema(schema))?),
            Payload::Protobuf(m) => {
                PayloadDecoder::Protobuf(ProtobufDecoder::new(m.clone(), schema)?)
            }
        })
    }

    /// Decodes a batch of messages.
    pub fn decode(&self, messages: &[&[u8]]) -> Result<Decoded, DecodeError> {
        match self {
            PayloadDecoder::Json(d) => d.decode(messages),
            PayloadDecoder::Protobuf(d) => d.decode(messages),
        }
    }
}

/// The Arrow schema decoders fill for a source.
pub fn arrow_schema(schema: &quiver_types::Schema) -> SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        schema
            .fields
            .iter()
            .map(|f| arrow::datatypes::Field::new(&f.name, f.data_type.to_arrow(), true))
            .collect::<Vec<_>>(),
    ))
}
