//! Counters of `enrich` steps, per job and step, for the whole process
//! (kept and exposed by [`crate::metrics`]). Families, labelled
//! `{quiver_job, step, source}`:
//!
//! * `quiver_enrich_lookups_total`: rows that needed a lookup (every
//!   variable non-NULL).
//! * `quiver_enrich_cache_hits_total`: of those, rows answered without a
//!   request of their own (from the cache, by an earlier row of the same
//!   batch with the same variables, or, with `ordered: false`, by a lookup
//!   already in flight).
//! * `quiver_enrich_requests_total`: requests sent, retries included.
//! * `quiver_enrich_retries_total`: requests that were retries.
//! * `quiver_enrich_timeouts_total`: requests that timed out.
//! * `quiver_enrich_not_found_total`: lookups answered "nothing there"
//!   (HTTP 404, a missing Redis key, no row): NULL outputs, not an error.
//! * `quiver_enrich_errors_total`: lookups that failed after their
//!   retries (with `fail_on_errors: false`, their rows get NULL outputs).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::metrics::{CounterSet, Registry, StepCollector};

/// Counters of one `enrich` step (shared by its workers).
#[derive(Debug, Default)]
pub struct EnrichCounters {
    /// Rows that needed a lookup.
    pub lookups: AtomicU64,
    /// Rows answered without a request of their own.
    pub cache_hits: AtomicU64,
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Requests that were retries.
    pub retries: AtomicU64,
    /// Requests that timed out.
    pub timeouts: AtomicU64,
    /// Lookups that found nothing.
    pub not_found: AtomicU64,
    /// Lookups that failed after their retries.
    pub errors: AtomicU64,
}

static REGISTRY: Registry<EnrichCounters> = Registry::new();

impl CounterSet for EnrichCounters {
    const FAMILIES: &'static [(&'static str, &'static str)] = &[
        (
            "quiver_enrich_lookups_total",
            "Rows an enrich step looked up.",
        ),
        (
            "quiver_enrich_cache_hits_total",
            "Rows answered without a request of their own (cache, a same-batch row with the same variables, or a lookup in flight).",
        ),
        (
            "quiver_enrich_requests_total",
            "Requests an enrich step sent, retries included.",
        ),
        ("quiver_enrich_retries_total", "Requests that were retries."),
        ("quiver_enrich_timeouts_total", "Requests that timed out."),
        (
            "quiver_enrich_not_found_total",
            "Lookups that found nothing (NULL outputs).",
        ),
        (
            "quiver_enrich_errors_total",
            "Lookups that failed after their retries.",
        ),
    ];
    const KIND_LABEL: &'static str = "source";

    fn atomics(&self) -> Vec<&AtomicU64> {
        vec![
            &self.lookups,
            &self.cache_hits,
            &self.requests,
            &self.retries,
            &self.timeouts,
            &self.not_found,
            &self.errors,
        ]
    }

    fn registry() -> &'static Registry<Self> {
        &REGISTRY
    }

    fn summary(&self, job: &str, step: &str, source: &str) -> Option<String> {
        let [lookups, hits, requests, _, timeouts, not_found, errors] =
            self.values().try_into().ok()?;
        (lookups > 0).then(|| {
            format!(
                "enrich {job}/{step} ({source}): {lookups} lookups, {hits} cache hits, {requests} requests, {not_found} not found, {errors} errors, {timeouts} timeouts"
            )
        })
    }
}

/// Exposes every `enrich` step's counters to a Prometheus registry.
pub type EnrichCollector = StepCollector<EnrichCounters>;

/// The counters of step `step` of job `job`, created on first use.
pub(crate) fn register(job: &str, step: &str, source: &'static str) -> Arc<EnrichCounters> {
    REGISTRY.register(job, step, source)
}

/// The counters of step `step` (its `name:`, by default its source's kind)
/// of job `job`, if the job has been planned in this process.
pub fn enrich_counters(job: &str, step: &str) -> Option<Arc<EnrichCounters>> {
    REGISTRY.find(job, step)
}

/// One line per `enrich` step of `jobs` that looked anything up, for a
/// run's summary.
pub fn enrich_summary(jobs: &[String]) -> Vec<String> {
    REGISTRY.summary(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, Registry, TextEncoder};
    use std::sync::atomic::Ordering;

    #[test]
    fn scraped_per_job_and_step() {
        let c = register("metrics_test_job", "customers", "redis");
        c.lookups.fetch_add(5, Ordering::Relaxed);
        c.errors.fetch_add(2, Ordering::Relaxed);
        assert!(Arc::ptr_eq(
            &c,
            &register("metrics_test_job", "customers", "redis")
        ));
        let r = Registry::new();
        r.register(Box::new(EnrichCollector::new())).unwrap();
        let mut buf = Vec::new();
        TextEncoder::new().encode(&r.gather(), &mut buf).unwrap();
        let t = String::from_utf8(buf).unwrap();
        assert!(t.contains("quiver_enrich_lookups_total{quiver_job=\"metrics_test_job\",source=\"redis\",step=\"customers\"} 5"), "{t}");
        assert!(t.contains("quiver_enrich_errors_total{quiver_job=\"metrics_test_job\",source=\"redis\",step=\"customers\"} 2"), "{t}");
        assert_eq!(
            enrich_summary(&["metrics_test_job".into()]),
            vec![
                "enrich metrics_test_job/customers (redis): 5 lookups, 0 cache hits, 0 requests, 0 not found, 2 errors, 0 timeouts"
            ]
        );
    }
}
