//! The floor of an online-store write: N rows per transaction, as a live
//! window closes. `cargo run --release -p quiver-store --example write_floor [ROWS] [WRITES] [PAUSE_MS]`
//! (the time includes compacting the batch: sorting it by key).
use std::time::Instant;

use quiver_store::{EmbeddedStore, JobMeta, OnlineStore, RowBatch};
use quiver_types::{DataType, Field, Value};

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args.next().map_or(45_000, |a| a.parse().unwrap());
    let writes: i64 = args.next().map_or(10, |a| a.parse().unwrap());
    let pause: u64 = args.next().map_or(1000, |a| a.parse().unwrap());
    let dir = tempfile::tempdir_in(std::env::var("FLOOR_DIR").unwrap_or(".".into())).unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
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
    let mut times = Vec::new();
    for w in 0..writes {
        let t = 1_700_000_000_000 + w * 60_000;
        // Keys spread over 3x the rows, as customers active in a minute are.
        let mut batch = RowBatch::new();
        for i in 0..rows {
            let k = (i * 3 + w) % (rows * 3);
            batch.push(
                &[Value::Int64(k)],
                t,
                &[
                    Value::Int64(i),
                    Value::Float64(i as f64 * 1.5),
                    Value::Timestamp(t + 1),
                ],
            );
        }
        // As a live window closes: the merger has had time since the last one.
        std::thread::sleep(std::time::Duration::from_millis(pause));
        let began = Instant::now();
        if std::env::var("SPLIT").is_ok() {
            batch.compact();
            print!("compact {:.1} ms; ", began.elapsed().as_secs_f64() * 1e3);
        }
        store.write_batch("j", &mut batch).unwrap();
        let s = began.elapsed().as_secs_f64();
        times.push(s);
        println!(
            "write {w}: {rows} rows in {:.1} ms ({:.0} rows/s)",
            s * 1e3,
            rows as f64 / s
        );
    }
    times.sort_by(f64::total_cmp);
    println!("median {:.1} ms", times[times.len() / 2] * 1e3);
}
