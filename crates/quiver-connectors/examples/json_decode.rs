//! How fast Kafka JSON payloads become Arrow rows, beside arrow-json.
//!
//! ```sh
//! cargo run --release -p quiver-connectors --example json_decode [MESSAGES] [REPS]
//! ```
//!
//! Messages in the shape of the shared bookings generator's NDJSON (eight
//! fields, ~170 bytes; values drawn from a fixed seed), decoded in polls of
//! 8192 into the live benchmark's three declared columns (`event_time`,
//! `customer_id`, `amount`), the way the Kafka source decodes them: by
//! Quiver's `JsonDecoder`, and by arrow-json's tape decoder alone over the
//! same messages, in the same run (after checking that both read the first
//! poll to the same values). Prints the median of `REPS` passes as ns per
//! message and the ratio between the two.

use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::{DataType as ArrowType, TimeUnit};
use arrow::json::ReaderBuilder;
use quiver_connectors::kafka::decode::{JsonDecoder, arrow_schema};
use quiver_types::{DataType, Field, Schema};

/// Messages per poll, as the Kafka source reads them.
const POLL: usize = 8192;

fn messages(n: usize) -> Vec<Vec<u8>> {
    // xorshift64*: deterministic values without a dependency.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let services = ["GO_RIDE", "GO_FOOD", "GO_SEND", "GO_CAR"];
    (0..n)
        .map(|i| {
            let r = next();
            format!(
                concat!(
                    r#"{{"event_time":{},"order_id":"BK{:010}","customer_id":{},"#,
                    r#""driver_id":{},"service_type":"{}","amount":{}.{:02},"#,
                    r#""lat":-6.{:06},"lon":106.{:06}}}"#
                ),
                1_704_067_200_000 + i as u64 * 3,
                i,
                1_000_000 + r % 100_000,
                50_000_000 + (r >> 17) % 20_000,
                services[(r >> 40) as usize % services.len()],
                5 + (r >> 20) % 60,
                (r >> 30) % 100,
                (r >> 8) % 1_000_000,
                (r >> 24) % 1_000_000,
            )
            .into_bytes()
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("MESSAGES and REPS are counts"))
        .collect();
    let n = args.first().copied().unwrap_or(1 << 20);
    let reps = args.get(1).copied().unwrap_or(7).max(1);
    let msgs = messages(n);
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let schema = Schema::new(vec![
        Field::new("event_time", DataType::Timestamp),
        Field::new("customer_id", DataType::Int64),
        Field::new("amount", DataType::Float64),
    ]);
    let quiver = JsonDecoder::new(arrow_schema(&schema)).expect("a JSON schema");
    // arrow-json knows offset time zones only (no chrono-tz).
    let arrow = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new(
            "event_time",
            ArrowType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        arrow::datatypes::Field::new("customer_id", ArrowType::Int64, true),
        arrow::datatypes::Field::new("amount", ArrowType::Float64, true),
    ]));
    let polls: Vec<Vec<&[u8]>> = msgs
        .chunks(POLL)
        .map(|c| c.iter().map(Vec::as_slice).collect())
        .collect();

    let arrow_decode = |p: &[&[u8]]| {
        // arrow-json's tape decoder, fed the poll's messages one by one.
        let mut d = ReaderBuilder::new(Arc::clone(&arrow))
            .with_batch_size(p.len())
            .build_decoder()
            .expect("a JSON schema");
        for m in p {
            d.decode(m).expect("valid JSON");
        }
        d.flush().expect("a batch")
    };
    // The same values both ways (the time zone labels differ).
    let mine = quiver.decode(&polls[0]).expect("decodes").batch;
    let peer = arrow_decode(&polls[0]).expect("rows");
    for c in 0..3 {
        let (a, b) = (mine.column(c).to_data(), peer.column(c).to_data());
        assert_eq!(a.buffers(), b.buffers(), "column {c}");
    }
    let time = |f: &dyn Fn(&[&[u8]]) -> usize| {
        let runs: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                let rows: usize = polls.iter().map(|p| f(p)).sum();
                assert_eq!(rows, n, "every message decodes");
                t.elapsed().as_nanos() as f64 / n as f64
            })
            .collect();
        median(runs)
    };
    let ours = time(&|p| quiver.decode(p).expect("decodes").batch.num_rows());
    let theirs = time(&|p| arrow_decode(p).map_or(0, |b| b.num_rows()));
    println!(
        "{n} messages of {:.0} bytes on average, polls of {POLL}, median of {reps} passes",
        bytes as f64 / n as f64
    );
    println!(
        "Quiver JsonDecoder: {ours:.0} ns/message ({:.0} MB/s)",
        bytes as f64 / n as f64 / ours * 1e3
    );
    println!(
        "arrow-json Decoder: {theirs:.0} ns/message ({:.0} MB/s)",
        bytes as f64 / n as f64 / theirs * 1e3
    );
    println!("Quiver is {:.2}x arrow-json's speed", theirs / ours);
}
