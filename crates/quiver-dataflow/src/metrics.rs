//! Counters a run updates as it goes, readable from another thread (the
//! progress bar, the summary, Prometheus).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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

/// All counters of a run.
#[derive(Debug)]
pub struct RunMetrics {
    /// Per source, in the run's source order.
    pub sources: Vec<SourceCounters>,
    /// Per job, in the run's job order.
    pub jobs: Vec<JobCounters>,
    /// Per worker: the event time its inputs have reached (its watermark).
    pub worker_time: Vec<AtomicI64>,
}

impl RunMetrics {
    /// Counters for a run of `sources` sources, `jobs` jobs and `workers` workers.
    pub fn new(sources: usize, jobs: usize, workers: usize) -> RunMetrics {
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
