//! The floor of an online-store write: N rows per transaction, as a live
//! window closes, from W workers at once (each closing its share of the
//! window at the same moment, as the workers of a live run do).
//! `cargo run --release -p quiver-store --example write_floor [ROWS] [WRITES] [PAUSE_MS] [WORKERS]`
//! prints, per window, the slowest worker's write (what freshness waits
//! for); the time includes encoding the rows from Arrow columns and
//! placing the segment's hash slots, as the online sink does when a window
//! closes.
use std::sync::{Arc, Barrier};
use std::time::Instant;

use arrow::array::{Float64Array, Int64Array, TimestampMillisecondArray};
use quiver_store::{ColumnEncoder, EmbeddedStore, JobMeta, OnlineStore, RowBatch};
use quiver_types::{DataType, Field};

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args.next().map_or(45_000, |a| a.parse().unwrap());
    let writes: i64 = args.next().map_or(10, |a| a.parse().unwrap());
    let pause: u64 = args.next().map_or(1000, |a| a.parse().unwrap());
    let workers: i64 = args.next().map_or(1, |a| a.parse().unwrap());
    let dir = tempfile::tempdir_in(std::env::var("FLOOR_DIR").unwrap_or(".".into())).unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let meta = JobMeta::new(
        "j",
        &[Field::new("customer_id", DataType::Int64)],
        &[
            Field::new("bookings", DataType::Int64),
            Field::new("spend", DataType::Float64),
            Field::new("window_end", DataType::Timestamp),
        ],
        Some(86_400_000),
        None,
    );
    store.register(&meta).unwrap();
    let barrier = Arc::new(Barrier::new(workers as usize));
    let threads: Vec<_> = (0..workers)
        .map(|me| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                let (mut times, mut encode) = (Vec::new(), Vec::new());
                // Reused, as the online sink does.
                let mut batch = RowBatch::new();
                for w in 0..writes {
                    let t = 1_700_000_000_000 + w * 60_000;
                    // As a live window closes: the merger has had time since
                    // the last one, and every worker writes at once.
                    // Busy meanwhile, as a live worker is (polling its
                    // partitions): a sleeping core wakes slowly, and would
                    // charge the write for it.
                    let until = Instant::now() + std::time::Duration::from_millis(pause);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    barrier.wait();
                    // The window hands its rows over as Arrow columns. Keys
                    // spread over 3x the rows, as customers active in a
                    // minute are; each worker has its own keys.
                    let keys: Int64Array = (0..rows)
                        .map(|i| ((i * 7919 + w) % (rows * 3)) * workers + me)
                        .collect();
                    let counts: Int64Array = (0..rows).collect();
                    let sums: Float64Array = (0..rows).map(|i| i as f64 * 1.5).collect();
                    let ends = TimestampMillisecondArray::from(vec![t + 1; rows as usize])
                        .with_timezone("UTC");
                    let began = Instant::now();
                    // Encoded as the online sink does.
                    batch.clear();
                    let key = [ColumnEncoder::new(&keys)];
                    let values = [
                        ColumnEncoder::new(&counts),
                        ColumnEncoder::new(&sums),
                        ColumnEncoder::new(&ends),
                    ];
                    for i in 0..rows as usize {
                        batch.push_columns(&key, i, t, &values);
                    }
                    encode.push(began.elapsed().as_secs_f64());
                    store.write_batch("j", &mut batch).unwrap();
                    times.push(began.elapsed().as_secs_f64());
                }
                (times, encode)
            })
        })
        .collect();
    let per_worker: Vec<(Vec<f64>, Vec<f64>)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut slowest: Vec<f64> = (0..writes as usize)
        .map(|w| per_worker.iter().map(|t| t.0[w]).fold(0.0, f64::max))
        .collect();
    for (w, s) in slowest.iter().enumerate() {
        let encode = per_worker.iter().map(|t| t.1[w]).fold(0.0, f64::max);
        println!(
            "window {w}: {workers} x {rows} rows, slowest write {:.1} ms (slowest encoding {:.1} ms)",
            s * 1e3,
            encode * 1e3
        );
    }
    slowest.sort_by(f64::total_cmp);
    println!(
        "slowest write per window: median {:.1} ms, max {:.1} ms",
        slowest[slowest.len() / 2] * 1e3,
        slowest[slowest.len() - 1] * 1e3
    );
}
