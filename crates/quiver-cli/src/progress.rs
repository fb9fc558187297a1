//! The progress line of a backfill: rows read, rows per second, and how
//! far event time has advanced.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use quiver_dataflow::metrics::RunMetrics;
use quiver_types::time::format_timestamp;

/// A running progress display; stops when finished or dropped.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts drawing progress on stderr (nothing when stderr is not a terminal
/// or `enabled` is false). `total` is the number of rows to read, when known.
pub fn start(metrics: Arc<RunMetrics>, total: Option<u64>, enabled: bool) -> Progress {
    let stop = Arc::new(AtomicBool::new(false));
    if !enabled {
        return Progress { stop, thread: None };
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        let started = Instant::now();
        while !s.load(Ordering::Relaxed) {
            let rows = metrics.rows_read();
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let position = metrics
                .watermark()
                .map(format_timestamp)
                .unwrap_or_else(|| "-".into());
            bar.set_position(rows);
            bar.set_message(format!(
                "{} rows read · {}/s · event time {position}",
                group(rows),
                group((rows as f64 / secs) as u64)
            ));
            bar.tick();
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    });
    Progress {
        stop,
        thread: Some(thread),
    }
}

impl Progress {
    /// Stops and clears the display.
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
