//! Counters of `enrich` steps, per job and step, for the whole process.
//!
//! A step's counters are registered when its job is planned and live as
//! long as the process (planning the same job again reuses them, so they
//! only grow, as Prometheus counters must). [`EnrichCollector`] exposes
//! them; `quiver run` and `quiver backfill` register it next to the run's
//! own metrics on `--metrics-listen`. Families, labelled
//! `{quiver_job, step, source}`:
//!
//! * `quiver_enrich_lookups_total`: rows that needed a lookup (every
//!   variable non-NULL).
//! * `quiver_enrich_cache_hits_total`: of those, rows answered without a
//!   request of their own (from the cache, or by an earlier row of the same
//!   batch with the same variables).
//! * `quiver_enrich_requests_total`: requests sent, retries included.
//! * `quiver_enrich_retries_total`: requests that were retries.
//! * `quiver_enrich_timeouts_total`: requests that timed out.
//! * `quiver_enrich_not_found_total`: lookups answered "nothing there"
//!   (HTTP 404, a missing Redis key, no row): NULL outputs, not an error.
//! * `quiver_enrich_errors_total`: lookups that failed after their
//!   retries (with `fail_on_errors: false`, their rows get NULL outputs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounterVec, Opts};

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

impl EnrichCounters {
    fn values(&self) -> [u64; 7] {
        [
            &self.lookups,
            &self.cache_hits,
            &self.requests,
            &self.retries,
            &self.timeouts,
            &self.not_found,
            &self.errors,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

/// A step's counters with its labels.
struct Entry {
    job: String,
    step: String,
    source: &'static str,
    counters: Arc<EnrichCounters>,
}

fn registry() -> &'static Mutex<Vec<Entry>> {
    static R: OnceLock<Mutex<Vec<Entry>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// The counters of step `step` of job `job`, created on first use.
pub(crate) fn register(job: &str, step: &str, source: &'static str) -> Arc<EnrichCounters> {
    let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = r
        .iter()
        .find(|e| e.job == job && e.step == step && e.source == source)
    {
        return e.counters.clone();
    }
    let counters = Arc::new(EnrichCounters::default());
    r.push(Entry {
        job: job.to_string(),
        step: step.to_string(),
        source,
        counters: counters.clone(),
    });
    counters
}

/// The counters of step `step` (its `name:`, by default its source's kind)
/// of job `job`, if the job has been planned in this process.
pub fn enrich_counters(job: &str, step: &str) -> Option<Arc<EnrichCounters>> {
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    r.iter()
        .find(|e| e.job == job && e.step == step)
        .map(|e| e.counters.clone())
}

/// One line per `enrich` step of `jobs` that looked anything up, for a
/// run's summary.
pub fn enrich_summary(jobs: &[String]) -> Vec<String> {
    let r = registry().lock().unwrap_or_else(|e| e.into_inner());
    r.iter()
        .filter(|e| jobs.contains(&e.job))
        .filter_map(|e| {
            let [lookups, hits, requests, _, timeouts, not_found, errors] = e.counters.values();
            (lookups > 0).then(|| {
                format!(
                    "enrich {}/{} ({}): {lookups} lookups, {hits} cache hits, {requests} requests, {not_found} not found, {errors} errors, {timeouts} timeouts",
                    e.job, e.step, e.source
                )
            })
        })
        .collect()
}

const FAMILIES: [(&str, &str); 7] = [
    (
        "quiver_enrich_lookups_total",
        "Rows an enrich step looked up.",
    ),
    (
        "quiver_enrich_cache_hits_total",
        "Rows answered without a request of their own (cache, or a same-batch row with the same variables).",
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

/// Exposes every `enrich` step's counters to a Prometheus registry.
pub struct EnrichCollector {
    families: Mutex<Vec<IntCounterVec>>,
    descs: Vec<Desc>,
}

impl EnrichCollector {
    /// A collector over the process's `enrich` counters.
    pub fn new() -> EnrichCollector {
        let families: Vec<IntCounterVec> = FAMILIES
            .iter()
            .map(|(name, help)| {
                IntCounterVec::new(Opts::new(*name, *help), &["quiver_job", "step", "source"])
                    .expect("valid counter")
            })
            .collect();
        let descs = families
            .iter()
            .flat_map(|f| f.desc().into_iter().cloned())
            .collect();
        EnrichCollector {
            families: Mutex::new(families),
            descs,
        }
    }
}

impl Default for EnrichCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for EnrichCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(families) = self.families.lock() else {
            return Vec::new();
        };
        for f in families.iter() {
            f.reset();
        }
        let r = registry().lock().unwrap_or_else(|e| e.into_inner());
        for e in r.iter() {
            for (f, v) in families.iter().zip(e.counters.values()) {
                f.with_label_values(&[e.job.as_str(), e.step.as_str(), e.source])
                    .inc_by(v);
            }
        }
        families.iter().flat_map(|f| f.collect()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, Registry, TextEncoder};

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
