//! What the dataflow needs from a sink.
//!
//! A job's output reaches each sink in a deterministic order: by event
//! time, and within one event time by a hash of the row's values. Each
//! worker writes the rows of the keys it owns through its own writer.

use arrow::array::RecordBatch;

/// Writes one worker's share of a job's output.
pub trait SinkWriter: Send {
    /// What kind of sink this is, a metric label: `online`, `historical`…
    fn kind(&self) -> &'static str {
        "sink"
    }
    /// Whether rows are visible to readers once [`advance`](Self::advance)
    /// past them returns (live online and Kafka sinks); freshness is
    /// measured for such sinks.
    fn publishes_on_advance(&self) -> bool {
        false
    }
    /// For a publishing sink whose every write costs a commit (the
    /// online store): the least time between two writes. Rows released
    /// sooner after the last write wait and go with the next one, so a run
    /// that is catching up writes a burst of closed windows at once instead
    /// of committing each. A run that keeps up writes at once: its windows
    /// close further apart than this; one replaying a backlog waits longer
    /// (see [`crate::sink_operator`]). `None`: write at every advance.
    fn publish_interval(&self) -> Option<std::time::Duration> {
        None
    }
    /// Writes rows: the job's output columns followed by `__time`.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String>;
    /// No row with an event time below `frontier` will follow.
    fn advance(&mut self, _frontier: i64) -> Result<(), String> {
        Ok(())
    }
    /// The input is complete: flush and close.
    fn finish(&mut self) -> Result<(), String>;
}

/// Opens writers, one per worker.
pub trait SinkFactory: Send + Sync {
    /// A writer for worker `worker` of `peers`.
    fn open(&self, worker: usize, peers: usize) -> Result<Box<dyn SinkWriter>, String>;
}
