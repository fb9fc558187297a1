//! What the dataflow needs from a job's post-processors.
//!
//! Post-processors (masking, dedup, inference…) run on each worker just
//! before its sinks, on the rows the sink operator releases: sorted by
//! event time (see [`RowOrder`](crate::operators::RowOrder)), so a stateful
//! step such as dedup sees the same rows in the same order in a backfill
//! and in a live run. A step that keeps state per key asks for its rows to
//! be partitioned by that key ([`PostprocessFactory::partition_by`]).
//!
//! A step may also refuse rows (`filter_invalid`): the chain hands them
//! out through [`Postprocessor::take_rejected`], and the sink operator
//! passes those of the rows it would have written to the job's
//! [`RejectSink`] (its dead-letter sink), so a refused row is never lost.

use std::sync::Arc;

use arrow::array::RecordBatch;

/// Rows a step refused, each with its reason.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The rows as they were at the refusing step (columns followed by
    /// `__time`), in event-time order.
    pub rows: RecordBatch,
    /// Per row, why (the name of the check it failed).
    pub reasons: Vec<Arc<str>>,
}

/// Where refused rows go (a job's dead-letter sink).
pub trait RejectSink: Send + Sync {
    /// Keeps `rejected` durably enough that the run may go on.
    fn reject(&self, rejected: &Rejected) -> Result<(), String>;
    /// Flushes what is buffered (at the end of a run).
    fn flush(&self) -> Result<(), String> {
        Ok(())
    }
}

/// One worker's post-processing chain.
pub trait Postprocessor: Send {
    /// Turns rows of the query's output (its columns followed by `__time`)
    /// into rows of the job's output (its columns followed by `__time`).
    /// May drop rows; must keep their order.
    fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, String>;
    /// No row with an event time below `frontier` will follow.
    fn advance(&mut self, _frontier: i64) {}
    /// Rows refused by the last [`process`](Postprocessor::process) call.
    fn take_rejected(&mut self) -> Vec<Rejected> {
        Vec::new()
    }
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
