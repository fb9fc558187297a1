//! Post-processors: steps a job applies to its query's output rows, in the
//! order its `postprocessors:` list gives, before any sink sees them.
//!
//! * [`plan`] checks a job's steps against the query's output columns and
//!   returns the runnable chain and the columns the sinks will store
//!   (`plan.rs`, which also enforces the PII rule: a feature marked
//!   `is_pii: true` must leave the chain masked unless the job sets
//!   `allow_pii: true`).
//! * `mask.rs`: hash (HMAC-SHA256), encrypt/decrypt (AES-256-GCM with a
//!   synthetic IV, so deterministic), redact, truncate; keys derived with
//!   HKDF from one secret taken from `${ENV}`.
//! * `dedup.rs`: drop repeats of a key within a TTL of event time, with
//!   state bounded by the TTL.
//! * `infer.rs`: an ONNX model run in-process by tract, one call per batch
//!   of released rows; predictions become output columns.
//! * `enrich/`: per-row lookups in an HTTP endpoint, a Redis server or a
//!   Postgres query, run concurrently within a batch on a small tokio
//!   runtime per worker, with timeouts, retries, a TTL cache and
//!   `fail_on_errors`; counted in process-wide metrics
//!   ([`EnrichCollector`]).
//! * `filter.rs` (`filter_invalid`): named SQL checks; rows failing one
//!   leave the output and go to the job's dead-letter sink (through the
//!   dataflow's [`RejectSink`](quiver_dataflow::postprocess::RejectSink)).
//! * `chain.rs`: the planned steps as a
//!   [`PostprocessFactory`](quiver_dataflow::postprocess::PostprocessFactory)
//!   that opens one chain per worker.
//!
//! The dataflow runs the chain in its sink operator on rows sorted by event
//! time, so the same input gives the same output in a backfill and in a
//! live run; a dedup asks for its key as the partitioning so all rows of a
//! key meet on one worker.
//!
//! Not here yet: HTTP model endpoints for `infer`.

mod chain;
mod dedup;
mod enrich;
mod filter;
mod infer;
mod mask;
mod plan;

pub use chain::{ChainPlan, StepPlan};
pub use dedup::Dedup;
pub use enrich::{
    EnrichCollector, EnrichCounters, EnrichPlan, EnrichStep, LookupError, TtlCache,
    enrich_counters, enrich_summary,
};
pub use filter::{Check, FilterStep};
pub use infer::{InferStep, OnnxModel, OutputColumn};
pub use mask::{ColumnMask, MIN_KEY_BYTES, MaskKeys, MaskStep};
pub use plan::{Planned, plan};
