//! The floor of encoding a closing window's rows for the online store, on
//! its own: ROWS rows of one int64 key and three features (a count, a sum,
//! the window end) pushed from Arrow columns into a reused [`RowBatch`],
//! as the online sink does, with warm caches. Prints the best of 200
//! rounds per row; `write_floor` measures the whole write around it.
//! `cargo run --release -p quiver-store --example encode_floor [ROWS]`
use std::time::Instant;

use arrow::array::{Float64Array, Int64Array, TimestampMillisecondArray};
use quiver_store::{ColumnEncoder, RowBatch};

fn main() {
    let rows: i64 = std::env::args()
        .nth(1)
        .map_or(47_000, |a| a.parse().expect("ROWS: a number"));
    // Keys spread over 3x the rows, as customers active in a minute are.
    let keys: Int64Array = (0..rows).map(|i| (i * 7919) % (rows * 3)).collect();
    let counts: Int64Array = (0..rows).collect();
    let sums: Float64Array = (0..rows).map(|i| i as f64 * 1.5).collect();
    let t = 1_700_000_000_000i64;
    let ends = TimestampMillisecondArray::from(vec![t + 1; rows as usize]).with_timezone("UTC");
    let key = [ColumnEncoder::new(&keys)];
    let values = [
        ColumnEncoder::new(&counts),
        ColumnEncoder::new(&sums),
        ColumnEncoder::new(&ends),
    ];
    let mut batch = RowBatch::new();
    let mut best = f64::MAX;
    for _ in 0..200 {
        batch.clear();
        let began = Instant::now();
        for i in 0..rows as usize {
            batch.push_columns(&key, i, t, &values);
        }
        best = best.min(began.elapsed().as_secs_f64());
    }
    println!(
        "{rows} rows: best {:.1} ns per row, {} bytes",
        best * 1e9 / rows as f64,
        batch.bytes()
    );
}
