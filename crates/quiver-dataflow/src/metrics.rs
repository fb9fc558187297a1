//! Counters a run updates as it goes, readable from another thread (the
//! progress bar, the summary, Prometheus).
//!
//! Hot paths bump plain atomics; [`RunCollector`] turns them into
//! Prometheus families when scraped, so counting costs nothing extra when
//! nobody scrapes. The two latency distributions (sink writes and
//! freshness) are Prometheus histograms from the start.
//!
//! Families (labels in braces; a job is `quiver_job`, since Prometheus
//! keeps `job` for the scrape target):
//! * `quiver_source_rows_total{source}`: rows read.
//! * `quiver_source_late_total{source}`: rows dropped behind their split's
//!   watermark (a live run also dead-letters them).
//! * `quiver_source_invalid_total{source}`: rows without an event time.
//! * `quiver_job_rows_out_total{quiver_job}`: rows written to the job's sinks.
//! * `quiver_job_windows_emitted_total{quiver_job}`: windows closed (one per
//!   window end and worker with data).
//! * `quiver_watermark_seconds`: the run's watermark (Unix seconds);
//!   `quiver_watermark_lag_seconds`: wall clock minus it.
//! * `quiver_sink_write_seconds{quiver_job,sink}`: time of one write (and flush)
//!   of a batch of rows to a sink.
//! * `quiver_freshness_seconds{quiver_job,sink}`: from a row's event time to the
//!   moment a sink that publishes on every frontier advance (the online
//!   store and Kafka in live runs) has written it, so readers see it. For
//!   a window the event time is the window's last millisecond, so this
//!   includes the watermark delay; it is not observed in backfills.
//! * `quiver_watermark_to_visible_seconds{quiver_job,sink}`: per closed
//!   window (per distinct event time written), from the moment the run's
//!   watermark passed it (the last worker's input advanced beyond it) to
//!   the moment such a sink's write returned: the engine's own share of
//!   freshness, without the watermark delay or the broker's delivery.
//! * `quiver_rows_rejected_total{quiver_job,reason}`: output rows a
//!   post-processor refused (`filter_invalid`, reason = the check's name)
//!   and sent to the job's dead-letter sink.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, HistogramOpts, HistogramVec, IntCounterVec, Opts};

/// Counters of one source.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Rows read from files or topics.
    pub rows_read: AtomicU64,
    /// Rows dropped as late (behind their split's watermark).
    pub rows_late: AtomicU64,
    /// Rows dropped for lacking an event time.
    pub rows_invalid: AtomicU64,
}

/// Counters of one job.
#[derive(Debug)]
pub struct JobCounters {
    /// Rows written to the sinks.
    pub rows_out: AtomicU64,
    /// Windows emitted (one per window end and worker with data).
    pub windows_emitted: AtomicU64,
    /// Per worker: the sinks have written every row before this time.
    pub sink_time: Vec<AtomicI64>,
}

/// Buckets of sink write latency (seconds): 100 µs to 10 s.
const WRITE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Buckets of freshness (seconds): fine below 100 ms above the watermark
/// delay, where live targets sit, coarse up to an hour.
const FRESHNESS_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1,
    0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
    90.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// All counters of a run.
#[derive(Debug)]
pub struct RunMetrics {
    /// Per source, in the run's source order.
    pub sources: Vec<SourceCounters>,
    /// Per job, in the run's job order.
    pub jobs: Vec<JobCounters>,
    /// Per worker: the event time its inputs have reached (its watermark).
    pub worker_time: Vec<AtomicI64>,
    /// Seconds per sink write, by job and sink.
    pub sink_write_seconds: HistogramVec,
    /// Seconds from event time to visible, by job and sink.
    pub freshness_seconds: HistogramVec,
    /// Seconds from the watermark passing a row's event time to visible,
    /// by job and sink.
    pub watermark_to_visible_seconds: HistogramVec,
    /// Output rows refused by a post-processor, by job and reason.
    pub rows_rejected: IntCounterVec,
    /// When the run's watermark advanced: (new watermark, wall instant),
    /// in increasing watermark order; entries no sink can still ask about
    /// are dropped by [`RunMetrics::prune_watermarks`].
    watermark_log: Mutex<VecDeque<(i64, Instant)>>,
    /// The last watermark in `watermark_log`.
    logged_watermark: AtomicI64,
}

impl RunMetrics {
    /// Counters for a run of `sources` sources, `jobs` jobs and `workers` workers.
    pub fn new(sources: usize, jobs: usize, workers: usize) -> RunMetrics {
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                &["quiver_job", "sink"],
            )
            .expect("valid histogram")
        };
        RunMetrics {
            sources: (0..sources).map(|_| SourceCounters::default()).collect(),
            jobs: (0..jobs)
                .map(|_| JobCounters {
                    rows_out: AtomicU64::new(0),
                    windows_emitted: AtomicU64::new(0),
                    sink_time: (0..workers).map(|_| AtomicI64::new(i64::MIN)).collect(),
                })
                .collect(),
            worker_time: (0..workers).map(|_| AtomicI64::new(i64::MIN)).collect(),
            sink_write_seconds: histogram(
                "quiver_sink_write_seconds",
                "Time to write (and flush) one batch of rows to a sink.",
                WRITE_BUCKETS,
            ),
            freshness_seconds: histogram(
                "quiver_freshness_seconds",
                "From a row's event time until a sink that publishes on every watermark advance has it (live runs).",
                FRESHNESS_BUCKETS,
            ),
            watermark_to_visible_seconds: histogram(
                "quiver_watermark_to_visible_seconds",
                "From the run's watermark passing a closed window's end (a row's event time) until a sink that publishes on every watermark advance has it (live runs).",
                FRESHNESS_BUCKETS,
            ),
            rows_rejected: IntCounterVec::new(
                Opts::new(
                    "quiver_rows_rejected_total",
                    "Output rows a post-processor refused (filter_invalid) and sent to the dead-letter sink.",
                ),
                &["quiver_job", "reason"],
            )
            .expect("valid counter"),
            watermark_log: Mutex::new(VecDeque::new()),
            logged_watermark: AtomicI64::new(i64::MIN),
        }
    }

    /// Sets worker `index`'s watermark and, if that moved the run's
    /// watermark (the least over workers), notes when.
    pub fn set_worker_time(&self, index: usize, t: i64) {
        self.worker_time[index].store(t, Ordering::SeqCst);
        let least = self
            .worker_time
            .iter()
            .map(|t| t.load(Ordering::SeqCst))
            .min()
            .unwrap_or(i64::MIN);
        if least == i64::MIN || least <= self.logged_watermark.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        if let Ok(mut log) = self.watermark_log.lock()
            && log.back().is_none_or(|&(w, _)| least > w)
        {
            log.push_back((least, now));
            self.logged_watermark.fetch_max(least, Ordering::SeqCst);
        }
    }

    /// When the run's watermark first passed `t` (rose above it), if it has
    /// and that is still known.
    pub fn watermark_passed(&self, t: i64) -> Option<Instant> {
        let log = self.watermark_log.lock().ok()?;
        let i = log.partition_point(|&(w, _)| w <= t);
        log.get(i).map(|&(_, at)| at)
    }

    /// Forgets watermark advances that every sink of every job has passed:
    /// rows still to come lie above them.
    pub fn prune_watermarks(&self) {
        let done = (0..self.jobs.len())
            .map(|j| self.sink_time(j))
            .min()
            .unwrap_or(i64::MIN);
        if let Ok(mut log) = self.watermark_log.lock() {
            // Rows still to be written have event times >= `done`, so
            // lookups only need the advances above it.
            while log.front().is_some_and(|&(w, _)| w <= done) {
                log.pop_front();
            }
        }
    }

    /// Rows read over all sources.
    pub fn rows_read(&self) -> u64 {
        self.sources
            .iter()
            .map(|s| s.rows_read.load(Ordering::Relaxed))
            .sum()
    }

    /// Every sink of job `job` has written all rows before this time.
    pub fn sink_time(&self, job: usize) -> i64 {
        self.jobs[job]
            .sink_time
            .iter()
            .map(|t| t.load(Ordering::SeqCst))
            .min()
            .unwrap_or(i64::MIN)
    }

    /// The run's watermark: the least event time any worker has reached.
    pub fn watermark(&self) -> Option<i64> {
        let t = self
            .worker_time
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .min()?;
        (t != i64::MIN && t != i64::MAX).then_some(t)
    }
}

/// Exposes a run's [`RunMetrics`] to a Prometheus registry.
pub struct RunCollector {
    metrics: std::sync::Arc<RunMetrics>,
    sources: Vec<String>,
    jobs: Vec<String>,
    /// Refilled from the atomics at each scrape; the lock keeps two
    /// concurrent scrapes from interleaving reset and refill.
    families: Mutex<Families>,
    descs: Vec<Desc>,
}

struct Families {
    source_rows: IntCounterVec,
    source_late: IntCounterVec,
    source_invalid: IntCounterVec,
    rows_out: IntCounterVec,
    windows: IntCounterVec,
    watermark: Gauge,
    watermark_lag: Gauge,
}

impl RunCollector {
    /// A collector for `metrics`, naming sources and jobs in run order.
    pub fn new(
        metrics: std::sync::Arc<RunMetrics>,
        sources: Vec<String>,
        jobs: Vec<String>,
    ) -> RunCollector {
        let counter = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid counter")
        };
        let gauge = |name: &str, help: &str| Gauge::new(name, help).expect("valid gauge");
        let families = Families {
            source_rows: counter("quiver_source_rows_total", "Rows read.", "source"),
            source_late: counter(
                "quiver_source_late_total",
                "Rows dropped behind their split's watermark.",
                "source",
            ),
            source_invalid: counter(
                "quiver_source_invalid_total",
                "Rows dropped for lacking an event time.",
                "source",
            ),
            rows_out: counter(
                "quiver_job_rows_out_total",
                "Rows written to the job's sinks.",
                "quiver_job",
            ),
            windows: counter(
                "quiver_job_windows_emitted_total",
                "Windows closed (one per window end and worker with data).",
                "quiver_job",
            ),
            watermark: gauge(
                "quiver_watermark_seconds",
                "The run's watermark: the least event time every worker has reached (Unix seconds).",
            ),
            watermark_lag: gauge(
                "quiver_watermark_lag_seconds",
                "Wall clock minus the run's watermark.",
            ),
        };
        let mut descs = Vec::new();
        for c in families.counters() {
            descs.extend(c.desc().into_iter().cloned());
        }
        for g in [&families.watermark, &families.watermark_lag] {
            descs.extend(g.desc().into_iter().cloned());
        }
        descs.extend(metrics.sink_write_seconds.desc().into_iter().cloned());
        descs.extend(metrics.rows_rejected.desc().into_iter().cloned());
        descs.extend(metrics.freshness_seconds.desc().into_iter().cloned());
        descs.extend(
            metrics
                .watermark_to_visible_seconds
                .desc()
                .into_iter()
                .cloned(),
        );
        RunCollector {
            metrics,
            sources,
            jobs,
            families: Mutex::new(families),
            descs,
        }
    }
}

impl Families {
    fn counters(&self) -> [&IntCounterVec; 5] {
        [
            &self.source_rows,
            &self.source_late,
            &self.source_invalid,
            &self.rows_out,
            &self.windows,
        ]
    }
}

impl Collector for RunCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(f) = self.families.lock() else {
            return Vec::new();
        };
        for c in f.counters() {
            c.reset();
        }
        let m = &self.metrics;
        for (name, s) in self.sources.iter().zip(&m.sources) {
            let set = |v: &IntCounterVec, n: &AtomicU64| {
                v.with_label_values(&[name.as_str()])
                    .inc_by(n.load(Ordering::Relaxed))
            };
            set(&f.source_rows, &s.rows_read);
            set(&f.source_late, &s.rows_late);
            set(&f.source_invalid, &s.rows_invalid);
        }
        for (name, j) in self.jobs.iter().zip(&m.jobs) {
            f.rows_out
                .with_label_values(&[name.as_str()])
                .inc_by(j.rows_out.load(Ordering::Relaxed));
            f.windows
                .with_label_values(&[name.as_str()])
                .inc_by(j.windows_emitted.load(Ordering::Relaxed));
        }
        let mut out = Vec::new();
        for c in f.counters() {
            out.extend(c.collect());
        }
        if let Some(w) = m.watermark() {
            let now = chrono::Utc::now().timestamp_millis();
            f.watermark.set(w as f64 / 1000.0);
            f.watermark_lag.set((now - w) as f64 / 1000.0);
            out.extend(f.watermark.collect());
            out.extend(f.watermark_lag.collect());
        }
        out.extend(m.sink_write_seconds.collect());
        out.extend(m.rows_rejected.collect());
        out.extend(m.freshness_seconds.collect());
        out.extend(m.watermark_to_visible_seconds.collect());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{Encoder, Registry, TextEncoder};
    use std::sync::Arc;

    #[test]
    fn scrapes_counters_and_histograms() {
        let m = Arc::new(RunMetrics::new(1, 1, 1));
        m.sources[0].rows_read.store(7, Ordering::Relaxed);
        m.jobs[0].rows_out.store(3, Ordering::Relaxed);
        m.worker_time[0].store(1_000, Ordering::Relaxed);
        m.sink_write_seconds
            .with_label_values(&["j", "online"])
            .observe(0.002);
        let r = Registry::new();
        r.register(Box::new(RunCollector::new(
            m.clone(),
            vec!["events".into()],
            vec!["j".into()],
        )))
        .unwrap();
        let text = |r: &Registry| {
            let mut buf = Vec::new();
            TextEncoder::new().encode(&r.gather(), &mut buf).unwrap();
            String::from_utf8(buf).unwrap()
        };
        let t = text(&r);
        assert!(
            t.contains("quiver_source_rows_total{source=\"events\"} 7"),
            "{t}"
        );
        assert!(
            t.contains("quiver_job_rows_out_total{quiver_job=\"j\"} 3"),
            "{t}"
        );
        assert!(t.contains("quiver_watermark_seconds 1"), "{t}");
        assert!(
            t.contains("quiver_sink_write_seconds_count{quiver_job=\"j\",sink=\"online\"} 1"),
            "{t}"
        );
        // A second scrape reports totals, not sums of scrapes.
        m.sources[0].rows_read.store(9, Ordering::Relaxed);
        let t = text(&r);
        assert!(
            t.contains("quiver_source_rows_total{source=\"events\"} 9"),
            "{t}"
        );
    }
}
