//! What the dataflow needs from a job's post-processors.
//!
//! Post-processors (masking, dedup, inference…) run on each worker just
//! before its sinks, on the rows the sink operator releases: sorted by
//! event time (see [`RowOrder`](crate::sink_operator::RowOrder)), so a stateful
//! step such as dedup sees the same rows in the same order in a backfill
//! and in a live run. A step that keeps state per key asks for its rows to
//! be partitioned by that key ([`PostprocessFactory::partition_by`]).
//!
//! A step may also refuse rows (`filter_invalid`): the chain hands them
//! out through [`Postprocessor::take_rejected`], and the sink operator
//! passes those of the rows it would have written to the job's
//! [`RejectSink`] (its dead-letter sink), so a refused row is never lost.
//!
//! A chain may release rows asynchronously (an `enrich` with `ordered:
//! false`): [`process`](Postprocessor::process) then returns the rows that
//! are done at once, the rest come out of later
//! [`poll`](Postprocessor::poll)s in any order, and the chain wakes the
//! sink operator when some are done. Until then
//! [`pending_since`](Postprocessor::pending_since) holds the sinks back:
//! writers are advanced only to the least event time still in flight, and
//! writers that keep history are handed rows only once everything before
//! that time is done, re-sorted, so their files do not depend on timing.

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
    /// Turns rows of the query's output (its columns followed by `__time`),
    /// given in event-time order, into rows of the job's output (its
    /// columns followed by `__time`). May drop rows; must keep their order,
    /// unless [`releases_out_of_order`](Postprocessor::releases_out_of_order).
    fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, String>;
    /// Whether rows may come out of later [`poll`](Postprocessor::poll)s,
    /// in any order, rather than all out of `process`.
    fn releases_out_of_order(&self) -> bool {
        false
    }
    /// Called once before the first row, when the chain
    /// [`releases_out_of_order`](Postprocessor::releases_out_of_order):
    /// `wake` has the sink operator scheduled (from any thread) so that it
    /// polls.
    fn set_waker(&mut self, _wake: Arc<dyn Fn() + Send + Sync>) {}
    /// Rows whose processing finished since the last call (of `process` or
    /// `poll`), in no particular order.
    fn poll(&mut self) -> Result<Option<RecordBatch>, String> {
        Ok(None)
    }
    /// The least event time of a row given to `process` and not yet
    /// released, if any.
    fn pending_since(&self) -> Option<i64> {
        None
    }
    /// No row with an event time below `frontier` will follow.
    fn advance(&mut self, _frontier: i64) {}
    /// Rows refused by the last [`process`](Postprocessor::process) or
    /// [`poll`](Postprocessor::poll) call.
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
