//! Process-wide counters of post-processing steps that call out (`enrich`
//! lookups, `infer` model endpoints), per job and step, and their
//! Prometheus collector.
//!
//! A step's counters are registered when its job is planned and live as
//! long as the process (planning the same job again reuses them, so they
//! only grow, as Prometheus counters must). Hot paths bump atomics; the
//! collector turns them into families only when scraped. `quiver run` and
//! `quiver backfill` register [`collectors`] next to the run's own metrics
//! on `--metrics-listen` and print [`summary`] lines at the end.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounterVec, Opts};

/// A step kind's set of counters.
pub trait CounterSet: Default + Send + Sync + 'static {
    /// `(name, help)` of each family, in the order of [`CounterSet::atomics`].
    const FAMILIES: &'static [(&'static str, &'static str)];
    /// The name of the label after `quiver_job` and `step` (`source`, `protocol`).
    const KIND_LABEL: &'static str;
    /// The counters, in the order of [`CounterSet::FAMILIES`].
    fn atomics(&self) -> Vec<&AtomicU64>;
    /// The process's counters of this kind.
    fn registry() -> &'static Registry<Self>;
    /// One line for a run's summary, `None` when the step did nothing.
    fn summary(&self, job: &str, step: &str, kind: &str) -> Option<String>;

    /// The current values, in the order of [`CounterSet::FAMILIES`].
    fn values(&self) -> Vec<u64> {
        self.atomics()
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

/// A step's counters with its labels.
struct Entry<C> {
    job: String,
    step: String,
    kind: &'static str,
    counters: Arc<C>,
}

/// Every step's counters of one kind.
pub struct Registry<C> {
    entries: Mutex<Vec<Entry<C>>>,
}

impl<C: CounterSet> Registry<C> {
    /// An empty registry (for a `static`).
    pub const fn new() -> Registry<C> {
        Registry {
            entries: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry<C>>> {
        // The entries stay consistent whatever panicked while holding it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters of step `step` of job `job`, created on first use.
    pub fn register(&self, job: &str, step: &str, kind: &'static str) -> Arc<C> {
        let mut r = self.lock();
        if let Some(e) = r
            .iter()
            .find(|e| e.job == job && e.step == step && e.kind == kind)
        {
            return e.counters.clone();
        }
        let counters = Arc::new(C::default());
        r.push(Entry {
            job: job.to_string(),
            step: step.to_string(),
            kind,
            counters: counters.clone(),
        });
        counters
    }

    /// The counters of step `step` of job `job`, if it has been planned.
    pub fn find(&self, job: &str, step: &str) -> Option<Arc<C>> {
        self.lock()
            .iter()
            .find(|e| e.job == job && e.step == step)
            .map(|e| e.counters.clone())
    }

    /// Summary lines of the steps of `jobs` that did anything.
    pub fn summary(&self, jobs: &[String]) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|e| jobs.contains(&e.job))
            .filter_map(|e| e.counters.summary(&e.job, &e.step, e.kind))
            .collect()
    }
}

impl<C: CounterSet> Default for Registry<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// Exposes every step's counters of one kind to a Prometheus registry,
/// labelled `{quiver_job, step, <kind label>}`.
pub struct StepCollector<C> {
    families: Mutex<Vec<IntCounterVec>>,
    descs: Vec<Desc>,
    kind: PhantomData<C>,
}

impl<C: CounterSet> StepCollector<C> {
    /// A collector over the process's counters of this kind.
    pub fn new() -> StepCollector<C> {
        let families: Vec<IntCounterVec> = C::FAMILIES
            .iter()
            .map(|(name, help)| {
                IntCounterVec::new(
                    Opts::new(*name, *help),
                    &["quiver_job", "step", C::KIND_LABEL],
                )
                .expect("valid counter")
            })
            .collect();
        let descs = families
            .iter()
            .flat_map(|f| f.desc().into_iter().cloned())
            .collect();
        StepCollector {
            families: Mutex::new(families),
            descs,
            kind: PhantomData,
        }
    }
}

impl<C: CounterSet> Default for StepCollector<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: CounterSet> Collector for StepCollector<C> {
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
        for e in C::registry().lock().iter() {
            for (f, v) in families.iter().zip(e.counters.values()) {
                f.with_label_values(&[e.job.as_str(), e.step.as_str(), e.kind])
                    .inc_by(v);
            }
        }
        families.iter().flat_map(|f| f.collect()).collect()
    }
}

/// The collectors of every post-processing step kind that counts.
pub fn collectors() -> Vec<Box<dyn Collector>> {
    vec![
        Box::new(crate::enrich::EnrichCollector::new()),
        Box::new(crate::infer_http::InferCollector::new()),
    ]
}

/// Summary lines of the `enrich` and endpoint `infer` steps of `jobs`.
pub fn summary(jobs: &[String]) -> Vec<String> {
    let mut lines = crate::enrich::enrich_summary(jobs);
    lines.extend(crate::infer_http::infer_summary(jobs));
    lines
}
