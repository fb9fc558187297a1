//! A job's output rows to a Kafka topic, as JSON or Protobuf, keyed by entity.
//!
//! Each row becomes one message: the payload is the row's output columns
//! as a JSON object (timestamps as RFC 3339 text) or as a Protobuf message
//! (see [`super::encode`]), the key the JSON object of its entity columns
//! in either format, so one entity's rows stay in one partition and in
//! order (except after an `enrich` with `ordered: false`, whose rows come
//! in the order their lookups finish). Rows reach the topic as their
//! windows close (per-event jobs: as the watermark passes them), and the
//! producer is flushed whenever the
//! frontier advances, so a checkpoint never runs ahead of what the topic
//! holds. After a restart, rows after the checkpoint are produced again:
//! delivery is at least once.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use quiver_dataflow::sink::{SinkFactory, SinkWriter};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use super::REQUEST_TIMEOUT;
use super::encode::{Encoder, json_rows};

/// The Kafka sink of one job.
#[derive(Clone)]
pub struct KafkaSink {
    /// Broker settings.
    pub client: ClientConfig,
    /// The topic.
    pub topic: String,
    /// The job's output columns.
    pub schema: SchemaRef,
    /// Output positions of the entity columns.
    pub entity: Vec<usize>,
    /// How payloads are encoded (keys are JSON in every format).
    pub encoder: Encoder,
}

impl SinkFactory for KafkaSink {
    fn open(&self, _worker: usize, _peers: usize) -> Result<Box<dyn SinkWriter>, String> {
        let producer: ThreadedProducer<DefaultProducerContext> = self
            .client
            .clone()
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .map_err(|e| format!("cannot create a Kafka producer: {e}"))?;
        Ok(Box::new(KafkaWriter {
            sink: self.clone(),
            producer,
        }))
    }
}

struct KafkaWriter {
    sink: KafkaSink,
    producer: ThreadedProducer<DefaultProducerContext>,
}

impl SinkWriter for KafkaWriter {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn publishes_on_advance(&self) -> bool {
        true
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let width = batch.num_columns() - 1;
        let data =
            RecordBatch::try_new(self.sink.schema.clone(), batch.columns()[..width].to_vec())
                .map_err(|e| e.to_string())?;
        let keys = data.project(&self.sink.entity).map_err(|e| e.to_string())?;
        let payloads = self.sink.encoder.encode(&data)?;
        let keys = json_rows(&keys)?;
        for (payload, key) in payloads.iter().zip(keys.iter()) {
            let mut record = BaseRecord::<[u8], [u8]>::to(&self.sink.topic)
                .payload(payload)
                .key(key);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err((e, _)) => return Err(format!("producing to `{}`: {e}", self.sink.topic)),
                }
            }
        }
        Ok(())
    }

    fn advance(&mut self, _frontier: i64) -> Result<(), String> {
        self.producer
            .flush(REQUEST_TIMEOUT)
            .map_err(|e| format!("flushing `{}`: {e}", self.sink.topic))
    }

    fn finish(&mut self) -> Result<(), String> {
        self.advance(i64::MAX)
    }
}
