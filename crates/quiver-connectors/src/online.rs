//! Writing a job's output to the online store: per entity, the row with
//! the latest event time.
//!
//! Each worker keeps the latest row per entity in memory and writes them
//! in one transaction when the buffer grows large, when asked to flush on
//! every frontier advance (live jobs, at most once per [`PUBLISH_INTERVAL`]),
//! and at the end. The store itself
//! never lets an older event time replace a newer one, so workers that
//! share an entity cannot undo each other's writes.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use quiver_dataflow::sink::{SinkFactory, SinkWriter};
use quiver_store::{ColumnEncoder, OnlineStore, RowBatch};

/// Entities buffered before a write.
const FLUSH_ENTITIES: usize = 100_000;

/// The least time between two writes of a live run (each is a commit; see
/// [`SinkWriter::publish_interval`]). Live windows close far less often, so
/// a run that keeps up still writes each at once; one that is catching up
/// (or a per-event job) commits at most this often per worker, and a row
/// waits at most this long for its write ([`REPLAY_STRETCH`] times longer
/// while the run replays a backlog; see [`quiver_dataflow::sink_operator`]).
///
/// [`REPLAY_STRETCH`]: quiver_dataflow::sink_operator::REPLAY_STRETCH
pub const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

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
            rows: RowBatch::new(),
        }))
    }
}

struct OnlineWriter {
    sink: OnlineSink,
    /// Rows encoded as they arrive, the latest per entity.
    rows: RowBatch,
}

impl OnlineWriter {
    fn flush(&mut self) -> Result<(), String> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let r = self
            .sink
            .store
            .write_batch(&self.sink.job, &mut self.rows)
            .map_err(|e| e.to_string());
        self.rows.clear();
        r
    }
}

impl SinkWriter for OnlineWriter {
    fn kind(&self) -> &'static str {
        "online"
    }

    fn publishes_on_advance(&self) -> bool {
        self.sink.flush_on_advance
    }

    fn publish_interval(&self) -> Option<std::time::Duration> {
        self.sink.flush_on_advance.then_some(PUBLISH_INTERVAL)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let times = batch
            .column(batch.num_columns() - 1)
            .as_primitive::<Int64Type>()
            .values();
        let column = |&c: &usize| ColumnEncoder::new(batch.column(c).as_ref());
        let entity: Vec<_> = self.sink.entity.iter().map(column).collect();
        let features: Vec<_> = self.sink.features.iter().map(column).collect();
        for (row, &t) in times.iter().enumerate() {
            self.rows.push_columns(&entity, row, t, &features);
        }
        if self.rows.len() >= FLUSH_ENTITIES {
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
