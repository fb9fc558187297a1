//! Dead letters: input a live run could not use — undecodable, of the
//! wrong type, without an event time, too far in the future or past, or
//! behind the watermark — kept with the raw bytes, the reason and where it
//! came from, so nothing is lost silently.
//!
//! An NDJSON file gets one object per rejected message:
//!
//! ```json
//! {"reason":"late","detail":"...","source":"bookings","topic":"bookings",
//!  "partition":3,"offset":1042,"timestamp":1700000000000,
//!  "key":null,"payload":"{...}","payload_base64":"ey4uLn0="}
//! ```
//!
//! (`payload` is the text when the bytes are UTF-8, else null). A Kafka
//! topic gets the original key and payload with the rest as headers
//! (`quiver.reason`, `quiver.detail`, `quiver.source`, `quiver.topic`,
//! `quiver.partition`, `quiver.offset`).
//!
//! Output rows a job's `filter_invalid` step refuses ([`RefusedRows`]) are
//! dead letters too, in backfills as well as live runs: reason
//! `failed_check`, the check's name as the detail, the job's name as the
//! source, no topic (partition and offset -1), the row's event time as the
//! timestamp and the row as a JSON object (as the Kafka sink writes rows)
//! as the payload.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use base64::Engine;
use quiver_dataflow::postprocess::{RejectSink, Rejected};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

/// One rejected message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter<'a> {
    /// Short reason (also the metric label).
    pub reason: &'a str,
    /// What exactly was wrong.
    pub detail: &'a str,
    /// The source (table name) it was read for.
    pub source: &'a str,
    /// Where it was read.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The Kafka timestamp, if any.
    pub timestamp: Option<i64>,
    /// The message key.
    pub key: Option<&'a [u8]>,
    /// The raw payload.
    pub payload: &'a [u8],
}

enum Target {
    File(BufWriter<File>),
    Kafka {
        producer: ThreadedProducer<DefaultProducerContext>,
        topic: String,
    },
}

/// A dead-letter sink, shared by all splits of a run.
pub struct DeadLetterSink {
    name: String,
    target: Mutex<Target>,
}

impl DeadLetterSink {
    /// Appends to the NDJSON file at `path`.
    pub fn ndjson(path: PathBuf) -> Result<DeadLetterSink, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open dead-letter file {}: {e}", path.display()))?;
        Ok(DeadLetterSink {
            name: path.display().to_string(),
            target: Mutex::new(Target::File(BufWriter::new(f))),
        })
    }

    /// Produces to `topic` with a producer built from `config`.
    pub fn kafka(config: &rdkafka::ClientConfig, topic: &str) -> Result<DeadLetterSink, String> {
        let producer: ThreadedProducer<DefaultProducerContext> = config
            .clone()
            .set("enable.idempotence", "true")
            .create()
            .map_err(|e| format!("cannot create the dead-letter producer: {e}"))?;
        crate::kafka::check_topic(config, topic)
            .map_err(|e| format!("the dead-letter topic: {e}"))?;
        Ok(DeadLetterSink {
            name: format!("kafka topic {topic}"),
            target: Mutex::new(Target::Kafka {
                producer,
                topic: topic.to_string(),
            }),
        })
    }

    /// Where the dead letters go, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes one dead letter.
    pub fn write(&self, d: &DeadLetter<'_>) -> Result<(), String> {
        let mut target = self
            .target
            .lock()
            .map_err(|_| "dead-letter lock poisoned")?;
        match &mut *target {
            Target::File(w) => {
                let b64 = base64::engine::general_purpose::STANDARD;
                let line = serde_json::json!({
                    "reason": d.reason,
                    "detail": d.detail,
                    "source": d.source,
                    "topic": d.topic,
                    "partition": d.partition,
                    "offset": d.offset,
                    "timestamp": d.timestamp,
                    "key": d.key.map(|k| String::from_utf8_lossy(k).into_owned()),
                    "payload": std::str::from_utf8(d.payload).ok(),
                    "payload_base64": b64.encode(d.payload),
                });
                writeln!(w, "{line}").map_err(|e| format!("{}: {e}", self.name))
            }
            Target::Kafka { producer, topic } => {
                let (partition, offset) = (d.partition.to_string(), d.offset.to_string());
                // The message's own timestamp as a header: as the letter's
                // timestamp, an old one would put it up for deletion by
                // time-based retention as soon as it is written.
                let timestamp = d.timestamp.map(|t| t.to_string());
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: "quiver.reason",
                        value: Some(d.reason),
                    })
                    .insert(Header {
                        key: "quiver.detail",
                        value: Some(d.detail),
                    })
                    .insert(Header {
                        key: "quiver.source",
                        value: Some(d.source),
                    })
                    .insert(Header {
                        key: "quiver.topic",
                        value: Some(d.topic),
                    })
                    .insert(Header {
                        key: "quiver.partition",
                        value: Some(&partition),
                    })
                    .insert(Header {
                        key: "quiver.offset",
                        value: Some(&offset),
                    })
                    .insert(Header {
                        key: "quiver.timestamp",
                        value: timestamp.as_deref(),
                    });
                let mut record: BaseRecord<'_, [u8], [u8]> =
                    BaseRecord::to(topic).payload(d.payload).headers(headers);
                if let Some(k) = d.key {
                    record = record.key(k);
                }
                producer
                    .send(record)
                    .map_err(|(e, _)| format!("{}: {e}", self.name))
            }
        }
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), String> {
        let mut target = self
            .target
            .lock()
            .map_err(|_| "dead-letter lock poisoned")?;
        match &mut *target {
            Target::File(w) => w.flush().map_err(|e| format!("{}: {e}", self.name)),
            Target::Kafka { producer, .. } => producer
                .flush(super::kafka::REQUEST_TIMEOUT)
                .map_err(|e| format!("{}: {e}", self.name)),
        }
    }
}

/// Rows refused by a job's `filter_invalid` step, written as dead letters.
pub struct RefusedRows {
    /// Where they go.
    pub sink: Arc<DeadLetterSink>,
    /// The job (the dead letters' `source`).
    pub job: String,
}

impl RejectSink for RefusedRows {
    fn reject(&self, r: &Rejected) -> Result<(), String> {
        let n = r.rows.num_columns();
        // The last column is the event time, which is the dead letter's
        // timestamp rather than part of the row.
        let times = r.rows.column(n - 1).as_primitive::<Int64Type>();
        let rows = r
            .rows
            .project(&(0..n - 1).collect::<Vec<_>>())
            .map_err(|e| e.to_string())?;
        let payloads = crate::kafka::encode::json_rows(&rows)?;
        for (i, payload) in payloads.iter().enumerate() {
            self.sink.write(&DeadLetter {
                reason: "failed_check",
                detail: &r.reasons[i],
                source: &self.job,
                topic: "",
                partition: -1,
                offset: -1,
                timestamp: Some(times.value(i)),
                key: None,
                payload,
            })?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), String> {
        self.sink.flush()
    }
}
