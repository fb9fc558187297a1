//! JSON payloads → Arrow batches of a source's declared columns.
//!
//! JSON goes through arrow-json's tape decoder, many messages at a time.
//! A message must hold exactly one JSON object; fields the source does not
//! declare are ignored, missing fields are NULL, and a value of the wrong
//! type (a string where a number is declared, a number too large for
//! `int64`) rejects the message. Rejections never fail the batch: a bad
//! message is set aside with its reason and the good ones decode as usual.
//! Only batches holding a bad message pay for the per-message path.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, SchemaRef, TimestampMillisecondType};
use arrow::json::reader::{Decoder, ReaderBuilder};

use super::{DecodeError, Decoded, Undecodable};

/// Decodes JSON messages into rows of `schema`.
pub struct JsonDecoder {
    /// The declared columns (timestamps tagged `UTC`).
    schema: SchemaRef,
    /// What arrow-json fills: the same, with timestamps tagged `+00:00`
    /// (arrow-json only knows offset time zones without chrono-tz).
    json: SchemaRef,
}

impl JsonDecoder {
    /// A decoder for `schema` (the source's declared columns as Arrow
    /// types); fails when a column type cannot come from JSON.
    pub fn new(schema: SchemaRef) -> Result<JsonDecoder, DecodeError> {
        let json = Arc::new(arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    ArrowType::Timestamp(u, Some(_)) => f
                        .as_ref()
                        .clone()
                        .with_data_type(ArrowType::Timestamp(*u, Some("+00:00".into()))),
                    // Arrays and maps: timestamps inside without a zone
                    // label (read as UTC), cast to the declared type after.
                    t @ (ArrowType::List(_) | ArrowType::Map(_, _)) => {
                        match quiver_types::DataType::from_arrow(t) {
                            Some(q) => f
                                .as_ref()
                                .clone()
                                .with_data_type(crate::normalize::reader_type(q)),
                            None => f.as_ref().clone(),
                        }
                    }
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<_>>(),
        ));
        let d = JsonDecoder { schema, json };
        d.decoder(1)?;
        Ok(d)
    }

    /// Tags timestamp columns with the declared time zone (metadata only).
    fn retag(&self, b: RecordBatch) -> Result<RecordBatch, DecodeError> {
        let cols = b
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| match f.data_type() {
                ArrowType::Timestamp(_, Some(tz)) => Ok(Arc::new(
                    c.as_primitive::<TimestampMillisecondType>()
                        .clone()
                        .with_timezone(tz.clone()),
                ) as ArrayRef),
                t if c.data_type() != t => crate::normalize::relabel_utc(c, t).ok_or_else(|| {
                    arrow::error::ArrowError::CastError(format!(
                        "cannot read {} as {t}",
                        c.data_type()
                    ))
                }),
                _ => Ok(c.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), cols)?)
    }

    fn decoder(&self, rows: usize) -> Result<Decoder, DecodeError> {
        ReaderBuilder::new(self.json.clone())
            // One spare row, so a message holding two objects is seen whole.
            .with_batch_size(rows + 1)
            .build_decoder()
            .map_err(DecodeError::JsonSchema)
    }

    /// Decodes a batch of messages.
    ///
    /// Messages are fed to one tape decoder. A bad message may leave part of
    /// itself in the decoder, so at each one the good messages since the
    /// last bad one are decoded again into a fresh decoder and flushed as a
    /// piece: every good message is decoded at most twice, however many bad
    /// ones the batch holds.
    pub fn decode(&self, messages: &[&[u8]]) -> Result<Decoded, DecodeError> {
        let mut out = Decoded {
            batch: RecordBatch::new_empty(self.schema.clone()),
            rows: Vec::with_capacity(messages.len()),
            rejected: Vec::new(),
        };
        let mut pieces = Vec::new();
        let mut segment: Vec<usize> = Vec::new();
        let mut d = self.decoder(messages.len())?;
        for (i, m) in messages.iter().enumerate() {
            let before = d.len();
            let ok = match d.decode(m) {
                Ok(read) => read == m.len() && !d.has_partial_record() && d.len() == before + 1,
                Err(_) => false,
            };
            if ok {
                segment.push(i);
                continue;
            }
            out.rejected.push(Undecodable {
                message: i,
                reason: "undecodable",
                detail: syntax_problem(m),
            });
            let mut clean = self.decoder(segment.len())?;
            for &g in &segment {
                clean.decode(messages[g])?;
            }
            self.flush_piece(
                clean,
                messages,
                std::mem::take(&mut segment),
                &mut out,
                &mut pieces,
            )?;
            d = self.decoder(messages.len() - i)?;
        }
        self.flush_piece(d, messages, segment, &mut out, &mut pieces)?;
        out.rejected.sort_by_key(|r| r.message);
        out.batch = match pieces.len() {
            0 => out.batch,
            1 => pieces.pop().expect("one piece"),
            _ => arrow::compute::concat_batches(&self.schema, &pieces)?,
        };
        Ok(out)
    }

    /// Flushes the rows of `segment` held by `d` into `pieces`; when a value
    /// has the wrong type, finds which messages, one by one.
    fn flush_piece(
        &self,
        mut d: Decoder,
        messages: &[&[u8]],
        segment: Vec<usize>,
        out: &mut Decoded,
        pieces: &mut Vec<RecordBatch>,
    ) -> Result<(), DecodeError> {
        if segment.is_empty() {
            return Ok(());
        }
        if let Ok(b) = d.flush() {
            if let Some(b) = b {
                pieces.push(self.retag(b)?);
            }
            out.rows.extend(segment);
            return Ok(());
        }
        for g in segment {
            let mut d = self.decoder(1)?;
            let one = d
                .decode(messages[g])
                .map_err(|e| e.to_string())
                .and_then(|_| d.flush().map_err(|e| e.to_string()));
            match one {
                Ok(Some(b)) if b.num_rows() == 1 => {
                    pieces.push(self.retag(b)?);
                    out.rows.push(g);
                }
                Ok(_) => out.rejected.push(Undecodable {
                    message: g,
                    reason: "undecodable",
                    detail: "not exactly one JSON object".into(),
                }),
                Err(e) => out.rejected.push(match syntax_problem(messages[g]) {
                    p if p.starts_with("a JSON") => Undecodable {
                        message: g,
                        reason: "undecodable",
                        detail: p,
                    },
                    _ => Undecodable {
                        message: g,
                        reason: "wrong_type",
                        detail: e.trim_start_matches("Json error: ").to_string(),
                    },
                }),
            }
        }
        Ok(())
    }
}

/// What is wrong with a message that is not one JSON object.
fn syntax_problem(m: &[u8]) -> String {
    if m.iter().all(u8::is_ascii_whitespace) {
        return "empty payload".into();
    }
    match serde_json::from_slice::<serde_json::Value>(m) {
        Ok(v) if !v.is_object() => format!("a JSON {} is not an event object", kind(&v)),
        Ok(_) => "not exactly one JSON object".into(),
        Err(e) => format!("invalid JSON: {e}"),
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::arrow_schema;
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::Int64Type;
    use quiver_types::{DataType, Field, Schema};

    fn decoder() -> JsonDecoder {
        let s = Schema::new(vec![
            Field::new("t", DataType::Timestamp),
            Field::new("k", DataType::Int64),
            Field::new("name", DataType::String),
        ]);
        JsonDecoder::new(arrow_schema(&s)).unwrap()
    }

    #[test]
    fn arrays_and_maps_come_from_json_arrays_and_objects() {
        use quiver_types::{ElementType as E, Value};
        let s = Schema::new(vec![
            Field::new("t", DataType::Timestamp),
            Field::new("tags", DataType::List(E::String)),
            Field::new("seen", DataType::List(E::Timestamp)),
            Field::new("counts", DataType::Map(E::String, E::Int64)),
        ]);
        let d = JsonDecoder::new(arrow_schema(&s)).unwrap();
        let msgs: Vec<&[u8]> = vec![
            br#"{"t": 1000, "tags": ["a", null], "seen": ["1970-01-01T00:00:02Z", 3000], "counts": {"x": 1}}"#,
            br#"{"t": 1000, "tags": "not an array"}"#,
            br#"{"t": 2000}"#,
        ];
        let out = d.decode(&msgs).unwrap();
        assert_eq!(out.rows, vec![0, 2]);
        assert_eq!(out.rejected.len(), 1);
        let b = &out.batch;
        assert_eq!(b.schema(), arrow_schema(&s));
        let v = |c: usize, r: usize| Value::from_array(b.column(c).as_ref(), r);
        assert_eq!(
            v(1, 0),
            Value::List(E::String, vec![Value::String("a".into()), Value::Null])
        );
        assert_eq!(
            v(2, 0),
            Value::List(
                E::Timestamp,
                vec![Value::Timestamp(2000), Value::Timestamp(3000)]
            )
        );
        assert_eq!(
            v(3, 0),
            Value::Map(
                E::String,
                E::Int64,
                vec![(Value::String("x".into()), Value::Int64(1))]
            )
        );
        assert!(v(1, 1).is_null());
    }

    #[test]
    fn good_messages_decode_in_one_batch() {
        let d = decoder();
        let msgs: Vec<&[u8]> = vec![
            br#"{"t": 1000, "k": 1, "name": "a", "extra": [1, 2]}"#,
            br#"{"t": "1970-01-01T00:00:02Z", "k": 2}"#,
        ];
        let out = d.decode(&msgs).unwrap();
        assert!(out.rejected.is_empty());
        assert_eq!(out.rows, vec![0, 1]);
        let t = out
            .batch
            .column(0)
            .as_primitive::<TimestampMillisecondType>();
        assert_eq!(t.values().to_vec(), vec![1000, 2000]);
        assert!(out.batch.column(2).is_null(1));
    }

    #[test]
    fn bad_messages_are_set_aside_with_a_reason() {
        let d = decoder();
        let msgs: Vec<&[u8]> = vec![
            br#"{"t": 1000, "k": 1}"#,
            br#"{"t": 1000, "k": "#,
            br#"{"t": 2000, "k": 2}"#,
            b"[1, 2]",
            br#"{"t": 3000, "k": "three"}"#,
            br#"{"t": 4000, "k": 1e30}"#,
            br#"{"t": 5000, "k": 5}{"t": 6000, "k": 6}"#,
            b"",
            br#"{"t": 7000, "k": 7}"#,
        ];
        let out = d.decode(&msgs).unwrap();
        assert_eq!(out.rows, vec![0, 2, 8]);
        let k = out.batch.column(1).as_primitive::<Int64Type>();
        assert_eq!(k, &Int64Array::from(vec![1, 2, 7]));
        let why: Vec<(usize, &str)> = out.rejected.iter().map(|r| (r.message, r.reason)).collect();
        assert_eq!(
            why,
            vec![
                (1, "undecodable"),
                (3, "undecodable"),
                (4, "wrong_type"),
                (5, "wrong_type"),
                (6, "undecodable"),
                (7, "undecodable"),
            ]
        );
        assert_eq!(out.rejected[5].detail, "empty payload");
    }
}
