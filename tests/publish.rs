//! A publishing sink with a publish interval (the online store of a live
//! run) is written at most once per interval while windows close faster
//! than that, and still gets every row, the last ones at the end.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use quiver_dataflow::memory::MemorySource;
use quiver_dataflow::metrics::RunMetrics;
use quiver_dataflow::sink::{SinkFactory, SinkWriter};
use quiver_dataflow::source::SourceDef;
use quiver_dataflow::{JobRun, RunOptions};

use crate::property::{Event, batch, compile, schema};

const INTERVAL: Duration = Duration::from_millis(60);

/// Each write (the rows written before an advance) and when it began.
#[derive(Clone, Default)]
struct Timed {
    writes: Arc<Mutex<Vec<(Instant, usize)>>>,
}

struct TimedWriter {
    writes: Arc<Mutex<Vec<(Instant, usize)>>>,
    began: Option<Instant>,
    rows: usize,
}

impl TimedWriter {
    fn publish(&mut self) {
        if let Some(began) = self.began.take() {
            // A commit's cost.
            std::thread::sleep(Duration::from_millis(5));
            let rows = std::mem::take(&mut self.rows);
            self.writes.lock().unwrap().push((began, rows));
        }
    }
}

impl SinkWriter for TimedWriter {
    fn publishes_on_advance(&self) -> bool {
        true
    }
    fn publish_interval(&self) -> Option<Duration> {
        Some(INTERVAL)
    }
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.began.get_or_insert_with(Instant::now);
        self.rows += batch.num_rows();
        Ok(())
    }
    fn advance(&mut self, _frontier: i64) -> Result<(), String> {
        self.publish();
        Ok(())
    }
    fn finish(&mut self) -> Result<(), String> {
        self.publish();
        Ok(())
    }
}

impl SinkFactory for Timed {
    fn open(&self, _worker: usize, _peers: usize) -> Result<Box<dyn SinkWriter>, String> {
        Ok(Box::new(TimedWriter {
            writes: self.writes.clone(),
            began: None,
            rows: 0,
        }))
    }
}

#[test]
fn windows_closing_faster_than_the_interval_are_written_together() {
    // 400 one-second windows of 3 keys, read 5 events at a time: hundreds
    // of frontier advances, each closing a window.
    let events: Vec<Event> = (0..1_200)
        .map(|i| Event {
            t: i * 1_000 / 3,
            k: Some(i % 3),
            x: Some(i),
            f: 1.0,
        })
        .collect();
    let sink = Timed::default();
    let source = SourceDef {
        name: "e".into(),
        schema: schema(),
        time_col: Some(0),
        watermark_delay: 0,
        provider: Arc::new(MemorySource {
            splits: vec![events.chunks(5).map(batch).collect()],
        }),
    };
    quiver_dataflow::run(
        vec![JobRun {
            job: compile(
                "SELECT k, COUNT(*) AS n FROM e GROUP BY k, TUMBLE(t, INTERVAL '1' SECOND)",
            ),
            sinks: vec![Arc::new(sink.clone())],
            postprocess: None,
            rejects: None,
        }],
        vec![source],
        RunOptions {
            workers: 1,
            start: None,
            end: None,
            live: None,
        },
        Arc::new(RunMetrics::new(1, 1, 1)),
    )
    .unwrap();
    let writes = sink.writes.lock().unwrap();
    // Every window's rows, the last ones written at the end of the input.
    assert_eq!(writes.iter().map(|w| w.1).sum::<usize>(), 400 * 3);
    // Far fewer writes than windows, each (but the last, at the end of
    // the input) begun an interval after the one before.
    assert!(
        writes.len() < 100,
        "{} writes for 400 windows",
        writes.len()
    );
    for pair in writes[..writes.len() - 1].windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= INTERVAL - Duration::from_millis(20),
            "writes {gap:?} apart"
        );
    }
}
