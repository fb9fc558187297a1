//! JSON payloads → Arrow batches of a source's declared columns.
//!
//! Flat objects of scalar columns take a fast path (the private `fast_json` module),
//! which hands over to arrow-json's tape decoder, many messages at a time,
//! whatever it does not read exactly as arrow-json does; other schemas go
//! through arrow-json only.
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

use super::fast_json::FastJson;
use super::{DecodeError, Decoded, Undecodable};

/// Decodes JSON messages into rows of `schema`.
pub struct JsonDecoder {
    /// The declared columns (timestamps tagged `UTC`).
    schema: SchemaRef,
    /// What arrow-json fills: the same, with timestamps tagged `+00:00`
    /// (arrow-json only knows offset time zones without chrono-tz).
    json: SchemaRef,
    /// The fast path, for schemas of scalar columns.
    fast: Option<FastJson>,
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
                        .with_data_type(ArrowType::Timestamp(*u, Some(super::UTC_LABEL.into()))),
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
        let fast = FastJson::new(schema.clone());
        let d = JsonDecoder { schema, json, fast };
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

    /// Decodes a batch of messages: through the fast path when the schema
    /// has one, with arrow-json for the messages it hands over (merged back
    /// in message order).
    pub fn decode(&self, messages: &[&[u8]]) -> Result<Decoded, DecodeError> {
        let Some(fast) = &self.fast else {
            return self.decode_general(messages);
        };
        let f = fast.decode(messages)?;
        if f.handed_over.is_empty() {
            return Ok(Decoded {
                batch: f.batch,
                rows: f.rows,
                rejected: Vec::new(),
            });
        }
        let others: Vec<&[u8]> = f.handed_over.iter().map(|&i| messages[i]).collect();
        let mut g = self.decode_general(&others)?;
        for r in &mut g.rejected {
            r.message = f.handed_over[r.message];
        }
        for r in &mut g.rows {
            *r = f.handed_over[*r];
        }
        if g.rows.is_empty() {
            return Ok(Decoded {
                batch: f.batch,
                rows: f.rows,
                rejected: g.rejected,
            });
        }
        // Both row lists ascend: merge them by message.
        let mut order = Vec::with_capacity(f.rows.len() + g.rows.len());
        let mut rows = Vec::with_capacity(order.capacity());
        let (mut a, mut b) = (0, 0);
        while a < f.rows.len() || b < g.rows.len() {
            if b == g.rows.len() || (a < f.rows.len() && f.rows[a] < g.rows[b]) {
                order.push((0, a));
                rows.push(f.rows[a]);
                a += 1;
            } else {
                order.push((1, b));
                rows.push(g.rows[b]);
                b += 1;
            }
        }
        let batch = arrow::compute::interleave_record_batch(&[&f.batch, &g.batch], &order)?;
        Ok(Decoded {
            batch,
            rows,
            rejected: g.rejected,
        })
    }

    /// Decodes a batch of messages with arrow-json.
    ///
    /// Messages are fed to one tape decoder. A bad message may leave part of
    /// itself in the decoder, so at each one the good messages since the
    /// last bad one are decoded again into a fresh decoder and flushed as a
    /// piece: every good message is decoded at most twice, however many bad
    /// ones the batch holds.
    fn decode_general(&self, messages: &[&[u8]]) -> Result<Decoded, DecodeError> {
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

    /// Every path must agree: the fast path with arrow-json's hand-over
    /// gives the rows, values, reasons and details arrow-json alone gives.
    fn same_as_arrow_json(d: &JsonDecoder, msgs: &[&[u8]]) {
        let fast = d.decode(msgs).unwrap();
        let general = d.decode_general(msgs).unwrap();
        let show = |m: usize| String::from_utf8_lossy(msgs[m]).into_owned();
        assert_eq!(fast.rows, general.rows, "rows");
        assert_eq!(
            fast.rejected,
            general.rejected,
            "rejected: {:?}",
            fast.rejected
                .iter()
                .map(|r| show(r.message))
                .collect::<Vec<_>>()
        );
        assert_eq!(fast.batch.schema(), general.batch.schema());
        for c in 0..fast.batch.num_columns() {
            let (a, b) = (fast.batch.column(c), general.batch.column(c));
            for r in 0..fast.batch.num_rows() {
                let (x, y) = (
                    quiver_types::Value::from_array(a.as_ref(), r),
                    quiver_types::Value::from_array(b.as_ref(), r),
                );
                // Bit equality, so -0.0 and 0.0 differ.
                assert_eq!(
                    format!("{x:?}"),
                    format!("{y:?}"),
                    "column {c} of {}",
                    show(fast.rows[r])
                );
            }
        }
    }

    fn scalars() -> JsonDecoder {
        let s = Schema::new(vec![
            Field::new("t", DataType::Timestamp),
            Field::new("k", DataType::Int64),
            Field::new("name", DataType::String),
            Field::new("b", DataType::Bool),
            Field::new("x", DataType::Float64),
        ]);
        let d = JsonDecoder::new(arrow_schema(&s)).unwrap();
        assert!(d.fast.is_some());
        d
    }

    const TRICKY: &[&str] = &[
        r#"{"t": 1000, "k": 1, "name": "a", "b": true, "x": 1.5}"#,
        r#"{"t":1000,"k":-1,"name":"","b":false,"x":-0.0}"#,
        r#"  {"t" : 1000 , "k" : 7 }  "#,
        "\t{\"t\":\r\n1000}\n",
        r#"{}"#,
        r#"{"k": null, "name": null, "b": null, "x": null, "t": null}"#,
        r#"{"t": 1000, "order": {"id": [1, 2.5e-3, {"z": []}, "s\"x", true, null]}, "k": 3}"#,
        r#"{"k": 1.0}"#,
        r#"{"k": 1.5}"#,
        r#"{"k": 1e3}"#,
        r#"{"k": 1e30}"#,
        r#"{"k": 1e300}"#,
        r#"{"k": "5"}"#,
        r#"{"k": "five"}"#,
        r#"{"k": 9223372036854775807}"#,
        r#"{"k": 9223372036854775808}"#,
        r#"{"k": -9223372036854775808}"#,
        r#"{"k": -9223372036854775809}"#,
        r#"{"k": 00}"#,
        r#"{"k": 01}"#,
        r#"{"k": -}"#,
        r#"{"k": 1.}"#,
        r#"{"k": .5}"#,
        r#"{"k": +1}"#,
        r#"{"k": NaN}"#,
        r#"{"k": true}"#,
        r#"{"k": [1]}"#,
        r#"{"k": {"a": 1}}"#,
        r#"{"k": 1, "k": 2}"#,
        r#"{"k": 1, "k": null}"#,
        r#"{"k": "x", "k": 2}"#,
        r#"{"t": "2024-01-01T00:00:00Z"}"#,
        r#"{"t": "2024-01-01T00:00:00.123+02:00"}"#,
        r#"{"t": "2024-01-01 00:00:00"}"#,
        r#"{"t": "2024-01-01"}"#,
        r#"{"t": "garbage"}"#,
        r#"{"t": "2024-01-01T00:00:00\u005a"}"#,
        r#"{"t": 1.5}"#,
        r#"{"t": 1e3}"#,
        r#"{"t": 1e300}"#,
        r#"{"t": -5}"#,
        r#"{"t": true}"#,
        r#"{"name": 5}"#,
        r#"{"name": true}"#,
        r#"{"name": ["a"]}"#,
        r#"{"name": "\u00e9\ud83d\ude00 ok"}"#,
        r#"{"name": "\ud800"}"#,
        r#"{"name": "\ud800\u0041"}"#,
        r#"{"name": "\udc00\ud800"}"#,
        r#"{"name": "\u12"}"#,
        r#"{"name": "\uZZZZ"}"#,
        r#"{"name": "a\"b\\c\/d\b\f\n\r\t"}"#,
        r#"{"name": "bad \x escape"}"#,
        r#"{"name": "héllo wörld ✓ 😀"}"#,
        r#"{"name": "a string of more than twenty-four bytes \" with an escape", "k": 1}"#,
        r#"{"an_undeclared_key_longer_than_24_bytes": "and a value longer than 24 bytes \\", "k": 2}"#,
        r#"{"an_undeclared_key_longer_than_24_bytes\u0041": 1, "k": 2}"#,
        r#"{"name": "exactly twenty-four byte", "k": 3}"#,
        r#"{"name": "twenty-three bytes long.", "k": 3}"#,
        r#"{"name": "unterminated and longer than twenty-four bytes"#,
        r#"{"other": "\ud800", "k": 1}"#,
        r#"{"other": "\q", "k": 1}"#,
        r#"{"b": "true"}"#,
        r#"{"b": 1}"#,
        r#"{"b": tru}"#,
        r#"{"b": True}"#,
        r#"{"x": 1}"#,
        r#"{"x": -0}"#,
        r#"{"x": 1e400}"#,
        r#"{"x": -1e400}"#,
        r#"{"x": 1e-400}"#,
        r#"{"x": "1.5"}"#,
        r#"{"x": 1.7976931348623157e308}"#,
        r#"{"x": 0.1000000000000000055511151231257827}"#,
        r#"{"x": 123456789012345678901234567890}"#,
        r#"{"x": 1E+2}"#,
        r#"{"k\u0031": 1}"#,
        r#"{"K": 1}"#,
        r#"{"k": 1}{"k": 2}"#,
        r#"{"k": 1} x"#,
        r#"{"k": 1,}"#,
        r#"{"k" 1}"#,
        r#"{"k": 1"#,
        r#"{"k": 1, "#,
        r#"{"k": }"#,
        r#"{,"k": 1}"#,
        r#"{'k': 1}"#,
        r#"[1, 2]"#,
        r#"[{"k": 1}]"#,
        r#""s""#,
        "null",
        "5",
        "",
        "   ",
        r#"{"a": [1, 2,], "k": 1}"#,
        r#"{"a": [1 2], "k": 1}"#,
        r#"{"a": {"b" 1}, "k": 1}"#,
        r#"{"a": {"b": 1,}, "k": 1}"#,
        r#"{"a": nul, "k": 1}"#,
        r#"{"a": 1.2.3, "k": 1}"#,
    ];

    #[test]
    fn the_fast_path_reads_as_arrow_json_does() {
        let d = scalars();
        let mut msgs: Vec<Vec<u8>> = TRICKY.iter().map(|m| m.as_bytes().to_vec()).collect();
        // Raw control characters, invalid UTF-8, deep nesting, a BOM.
        msgs.push(b"{\"name\": \"a\x01b\", \"k\": 1}".to_vec());
        msgs.push(b"{\"other\": \"a\x1fb\", \"k\": 1}".to_vec());
        msgs.push(b"{\"name\": \"\xff\xfe\", \"k\": 1}".to_vec());
        msgs.push(b"{\"other\": \"\xc3\", \"k\": 1}".to_vec());
        msgs.push(b"{\"\xe9\": 1, \"k\": 1}".to_vec());
        msgs.push(b"\xef\xbb\xbf{\"k\": 1}".to_vec());
        for depth in [10, 31, 32, 33, 40, 200] {
            let mut m = b"{\"deep\": ".to_vec();
            m.extend(std::iter::repeat_n(b'[', depth));
            m.extend(std::iter::repeat_n(b']', depth));
            m.extend_from_slice(b", \"k\": 1}");
            msgs.push(m);
        }
        let all: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        // The whole corpus as one batch, and each message alone.
        same_as_arrow_json(&d, &all);
        // Both paths are exercised.
        let f = d.fast.as_ref().unwrap().decode(&all).unwrap();
        assert!(
            f.rows.len() > 25 && f.handed_over.len() > 60,
            "{} {}",
            f.rows.len(),
            f.handed_over.len()
        );
        for m in &all {
            same_as_arrow_json(&d, &[m]);
        }
    }

    #[test]
    fn the_fast_path_agrees_on_mangled_messages() {
        let d = scalars();
        let base: &[&[u8]] = &[
            br#"{"t": 1714521600000, "order_id": "o-1", "k": 42, "name": "caf\u00e9", "b": true, "x": 12.5, "tags": [1, {"a": null}]}"#,
            br#"{"x": -3e2, "k": -7, "t": "2024-05-01T00:00:00Z", "name": "a\"b"}"#,
        ];
        let tokens: &[&[u8]] = &[
            b"\"", b"\\", b"{", b"}", b"[", b"]", b":", b",", b" ", b"1", b"-", b".", b"e",
            b"null", b"true", b"\\u", b"\xc3", b"\x01", b"\"k\"", b"1e400", b"\"5\"",
        ];
        // A small deterministic generator (xorshift), so failures repeat.
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |n: usize| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % n as u64) as usize
        };
        let mut msgs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..4000 {
            let mut m = base[rnd(base.len())].to_vec();
            for _ in 0..1 + rnd(3) {
                let at = rnd(m.len() + 1);
                match rnd(3) {
                    0 if at < m.len() => {
                        m.remove(at);
                    }
                    1 => {
                        let t = tokens[rnd(tokens.len())];
                        m.splice(at..at, t.iter().copied());
                    }
                    _ => m.truncate(at.max(1)),
                }
            }
            msgs.push(m);
        }
        let all: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        let f = d.fast.as_ref().unwrap().decode(&all).unwrap();
        assert!(
            f.rows.len() > 300 && f.handed_over.len() > 300,
            "{} {}",
            f.rows.len(),
            f.handed_over.len()
        );
        for chunk in msgs.chunks(97) {
            let batch: Vec<&[u8]> = chunk.iter().map(|m| m.as_slice()).collect();
            same_as_arrow_json(&d, &batch);
        }
    }
}
