//! What the dataflow needs from a job's post-processors.
//!
//! Post-processors (masking, dedup, inference…) run on each worker just
//! before its sinks, on the rows the sink operator releases: sorted by
//! event time (see [`RowOrder`](crate::operators::RowOrder)), so a stateful
//! step such as dedup sees the same rows in the same order in a backfill
//! and in a live run. A step that keeps state per key asks for its rows to
//! be partitioned by that key ([`PostprocessFactory::partition_by`]).

use arrow::array::RecordBatch;

/// One worker's post-processing chain.
pub trait Postprocessor: Send {
    /// Turns rows of the query's output (its columns followed by `__time`)
    /// into rows of the job's output (its columns followed by `__time`).
    /// May drop rows; must keep their order.
    fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, String>;
    /// No row with an event time below `frontier` will follow.
    fn advance(&mut self, _frontier: i64) {}
    /// See [`PostprocessFactory::lookback`].
    fn lookback(&self) -> i64 {
        0
    }
}

/// Opens chains, one per worker.
pub trait PostprocessFactory: Send + Sync {
    /// A chain for worker `worker` of `peers`.
    fn open(&self, worker: usize, peers: usize) -> Result<Box<dyn Postprocessor>, String>;
    /// Query-output columns by which rows must be spread over workers, so
    /// that all rows of one key meet on one worker (a dedup key).
    fn partition_by(&self) -> Option<Vec<usize>> {
        None
    }
    /// How much event time before an interval's start the chain must see
    /// to decide the interval's rows as an uninterrupted run would (a
    /// dedup's TTL). Those rows are processed and then not written.
    fn lookback(&self) -> i64 {
        0
    }
}
