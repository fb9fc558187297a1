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
//! * `infer_http.rs`: the same step with a model `endpoint:` (KServe v2 or
//!   plain JSON), one POST per `batch_size` released rows, with enrich's
//!   timeouts, retries and `fail_on_errors`; counted in process-wide
//!   metrics ([`InferCollector`]).
//! * `enrich/`: per-row lookups in an HTTP endpoint, a Redis server or a
//!   Postgres query, run concurrently within a batch on a small tokio
//!   runtime per worker, with timeouts, retries, a TTL cache and
//!   `fail_on_errors`; counted in process-wide metrics
//!   ([`EnrichCollector`]). With `ordered: false`
//!   ([`UnorderedEnrich`]) the lookups run off the worker and each row
//!   leaves as soon as its own lookup is done.
//! * `filter.rs` (`filter_invalid`): named SQL checks; rows failing one
//!   leave the output and go to the job's dead-letter sink (through the
//!   dataflow's [`RejectSink`](quiver_dataflow::postprocess::RejectSink)).
//! * `metrics.rs`: the counters of steps that call out, and their
//!   Prometheus collectors ([`collectors`], [`summary`]).
//! * `chain.rs`: the planned steps as a
//!   [`PostprocessFactory`](quiver_dataflow::postprocess::PostprocessFactory)
//!   that opens one chain per worker.
//!
//! The dataflow runs the chain in its sink operator on rows sorted by event
//! time, so the same input gives the same output in a backfill and in a
//! live run; a dedup asks for its key as the partitioning so all rows of a
//! key meet on one worker. A chain with an unordered enrich releases rows
//! as they are done; the sink operator then keeps the historical output
//! independent of timing (see `quiver_dataflow::sink_operator`).
//!

mod chain;
mod dedup;
mod enrich;
mod failures;
mod filter;
mod infer;
mod infer_http;
mod mask;
mod metrics;
mod plan;

pub use chain::{ChainPlan, StepPlan};
pub use dedup::Dedup;
pub use enrich::{
    EnrichCollector, EnrichCounters, EnrichPlan, EnrichStep, LookupError, TtlCache,
    UnorderedEnrich, enrich_counters, enrich_summary,
};
pub use filter::{Check, FilterStep};
pub use infer::{InferStep, OnnxModel, OutputColumn};
pub use infer_http::{
    EndpointPlan, EndpointStep, InferCollector, InferCounters, infer_counters, infer_summary,
};
pub use mask::{ColumnMask, MIN_KEY_BYTES, MaskKeys, MaskStep};
pub use metrics::{StepCollector, collectors, summary};
pub use plan::{Planned, plan};

/// Serves `app` on a loopback port from a thread of its own, for tests.
#[cfg(test)]
pub(crate) fn serve_for_test(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().to_string()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}
