//! Writing a job's output to the online store: per entity, the row with
//! the latest event time.
//!
//! Each worker keeps the latest row per entity in memory and writes them
//! in one transaction when the buffer grows large, when asked to flush on
//! every frontier advance (live jobs), and at the end. The store itself
//! never lets an older event time replace a newer one, so workers that
//! share an entity cannot undo each other's writes.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use quiver_dataflow::sink::{SinkFactory, SinkWriter};
use quiver_store::{EntityKey, FeatureRow, OnlineStore, encode_key};
use quiver_types::Value;

/// Entities buffered before a write.
const FLUSH_ENTITIES: usize = 100_000;

/// The online sink of one job.
#[derive(Clone)]
pub struct OnlineSink {
    /// The store.
    pub store: Arc<dyn OnlineStore>,
    /// Job name (feature view).
    pub job: String,
    /// Output positions of the entity columns.
    pub entity: Vec<usize>,
    /// Output positions of the feature columns.
    pub features: Vec<usize>,
    /// Write after every frontier advance (freshness for live jobs).
    pub flush_on_advance: bool,
}

impl SinkFactory for OnlineSink {
    fn open(&self, _worker: usize, _peers: usize) -> Result<Box<dyn SinkWriter>, String> {
        Ok(Box::new(OnlineWriter {
            sink: self.clone(),
            latest: HashMap::new(),
        }))
    }
}

struct OnlineWriter {
    sink: OnlineSink,
    latest: HashMap<Vec<u8>, (EntityKey, FeatureRow)>,
}

impl OnlineWriter {
    fn flush(&mut self) -> Result<(), String> {
        if self.latest.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<(EntityKey, FeatureRow)> = self.latest.drain().map(|(_, v)| v).collect();
        // A stable order keeps the store's file layout independent of hashing.
        rows.sort_by_key(|(k, _)| encode_key(k));
        self.sink
            .store
            .write(&self.sink.job, &rows)
            .map_err(|e| e.to_string())
    }
}

impl SinkWriter for OnlineWriter {
    fn kind(&self) -> &'static str {
        "online"
    }

    fn publishes_on_advance(&self) -> bool {
        self.sink.flush_on_advance
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let times = batch
            .column(batch.num_columns() - 1)
            .as_primitive::<Int64Type>()
            .values();
        for (row, &t) in times.iter().enumerate() {
            let key: EntityKey = self
                .sink
                .entity
                .iter()
                .map(|&c| Value::from_array(batch.column(c).as_ref(), row))
                .collect();
            let bytes = encode_key(&key);
            if let Some((_, old)) = self.latest.get(&bytes)
                && old.event_time > t
            {
                continue;
            }
            let values = self
                .sink
                .features
                .iter()
                .map(|&c| Value::from_array(batch.column(c).as_ref(), row))
                .collect();
            self.latest.insert(
                bytes,
                (
                    key,
                    FeatureRow {
                        event_time: t,
                        values,
                    },
                ),
            );
        }
        if self.latest.len() >= FLUSH_ENTITIES {
            self.flush()?;
        }
        Ok(())
    }

    fn advance(&mut self, _frontier: i64) -> Result<(), String> {
        if self.sink.flush_on_advance {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        self.flush()
    }
}
