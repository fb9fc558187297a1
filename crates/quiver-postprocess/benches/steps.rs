//! Records per second per core through the post-processing steps, one
//! thread, on batches like the sink releases: `cargo bench -p
//! quiver-postprocess --bench steps [-- --rows N --batch B]`.
//!
//! Steps measured: mask (hash one VARCHAR column, encrypt another),
//! infer (the shipped logistic regression on three columns), mask + infer,
//! and dedup. `benches/postprocess_peer.py` measures the same work with
//! onnxruntime and Python's hmac/cryptography in the same run, as the peer.
//!
//! With `QUIVER_TEST_REDIS` set (`scripts/services.sh start`), also
//! `enrich` from Redis (HGETALL of one hash per customer, 50,000
//! customers), planned from a job file's text like any job: cache cold
//! (every row's key new, so one lookup per row, `capacity` at a time),
//! cache warm (every key cached), and without a cache.
//!
//! Always, `enrich` over HTTP with one lookup in a hundred slow (an
//! in-process server answering after 50 ms, the others at once), offered
//! open loop at a fixed rate, `ordered: true` against `ordered: false`:
//! how long each row takes to leave the step, from its batch's intended
//! arrival (`-- --slow-rows N --slow-rate R`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema};
use arrow::row::SortField;
use quiver_dataflow::postprocess::PostprocessFactory;
use quiver_postprocess::{ColumnMask, Dedup, InferStep, MaskKeys, MaskStep, OnnxModel};
use quiver_spec::MaskAction;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn batches(rows: usize, batch: usize) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", ArrowType::Utf8, true),
        Field::new("email", ArrowType::Utf8, true),
        Field::new("amount", ArrowType::Float64, true),
        Field::new("hour_of_day", ArrowType::Int64, true),
        Field::new("is_bike", ArrowType::Int64, true),
        Field::new("__time", ArrowType::Int64, false),
    ]));
    (0..rows.div_ceil(batch))
        .map(|b| {
            let r0 = b * batch;
            let n = batch.min(rows - r0);
            let ids: Vec<String> = (r0..r0 + n).map(|i| format!("order-{}", i / 2)).collect();
            let emails: Vec<String> = (r0..r0 + n)
                .map(|i| format!("customer{}@example.com", i % 50_000))
                .collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(ids)),
                    Arc::new(StringArray::from(emails)),
                    Arc::new(Float64Array::from_iter_values(
                        (r0..r0 + n).map(|i| (i % 997) as f64 * 0.37),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        (r0..r0 + n).map(|i| (i % 24) as i64),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        (r0..r0 + n).map(|i| (i % 2) as i64),
                    )),
                    Arc::new(Int64Array::from_iter_values(
                        (r0..r0 + n).map(|i| i as i64 * 10),
                    )),
                ],
            )
            .unwrap()
        })
        .collect()
}

fn measure(name: &str, input: &[RecordBatch], f: impl FnMut(&RecordBatch) -> usize) {
    // Warm up on the first batch, then time the whole input.
    measure_from(name, input, true, f)
}

fn measure_from(
    name: &str,
    input: &[RecordBatch],
    warm_up: bool,
    mut f: impl FnMut(&RecordBatch) -> usize,
) {
    let rows: usize = input.iter().map(|b| b.num_rows()).sum();
    if warm_up {
        f(&input[0]);
    }
    let began = Instant::now();
    let mut out = 0;
    for b in input {
        out += f(b);
    }
    let secs = began.elapsed().as_secs_f64();
    println!(
        "{name:<28} {:>12.0} records/s  ({rows} rows in {secs:.3} s, {out} out)",
        rows as f64 / secs
    );
}

fn main() {
    let rows = arg("--rows", 1_000_000);
    let batch = arg("--batch", 4096);
    let input = batches(rows, batch);
    let schema = input[0].schema();
    let keys = Arc::new(MaskKeys::derive(b"bench-key-0123456789abcdef0123456789"));
    let mask = MaskStep {
        keys: Some(keys),
        columns: vec![
            ColumnMask {
                index: 1,
                action: MaskAction::Hash,
            },
            ColumnMask {
                index: 0,
                action: MaskAction::Encrypt,
            },
        ],
        output: schema.clone(),
    };
    let model_path =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../jobs/models/booking_fraud_lr.onnx");
    let model = Arc::new(OnnxModel::load(&model_path).unwrap());
    let mut fields: Vec<Field> = schema.fields()[..5]
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("p_fraud", ArrowType::Float64, true));
    fields.push(Field::new("__time", ArrowType::Int64, false));
    let infer = InferStep {
        outputs: vec![model.output_column("probabilities", Some(1)).unwrap()],
        model,
        inputs: vec![2, 3, 4],
        output: Arc::new(Schema::new(fields)),
    };
    println!("batch {batch} rows, one thread");
    measure("mask (hash + encrypt)", &input, |b| {
        mask.apply(b).unwrap().num_rows()
    });
    measure("mask (hash only)", &input, |b| {
        MaskStep {
            columns: vec![mask.columns[0]],
            ..mask.clone()
        }
        .apply(b)
        .unwrap()
        .num_rows()
    });
    measure("infer (ONNX, tract)", &input, |b| {
        infer.apply(b).unwrap().num_rows()
    });
    measure("mask + infer", &input, |b| {
        infer.apply(&mask.apply(b).unwrap()).unwrap().num_rows()
    });
    if let Ok(url) = std::env::var("QUIVER_TEST_REDIS") {
        enrich(&url, batch);
    }
    slow_lookups(arg("--slow-rows", 10_000), arg("--slow-rate", 10_000));
    let mut dedup = Dedup::new(vec![0], vec![SortField::new(ArrowType::Utf8)], 60_000).unwrap();
    let mut last = 0;
    measure("dedup (ttl 60 s)", &input, |b| {
        let out = dedup.apply(b).unwrap().num_rows();
        last += b.num_rows() as i64 * 10;
        dedup.advance(last);
        out
    });
}

/// An HTTP server on loopback (its own thread) answering `/c/{n}` at once,
/// or after 50 ms when `n` is a multiple of 100.
fn slow_server() -> String {
    use axum::extract::Path as UrlPath;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/c/{n}",
                axum::routing::get(|UrlPath(n): UrlPath<u64>| async move {
                    if n % 100 == 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    axum::Json(serde_json::json!({"v": n}))
                }),
            );
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().to_string()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A chain planned from a job file's text: one `enrich` step, then the
/// given lines, over the bench's columns.
fn chain(step: &str) -> Box<dyn quiver_dataflow::postprocess::Postprocessor> {
    let text = format!(
        r#"name: bench
entity: [order_id]
sources:
  s:
    schema: {{event_time: timestamp, order_id: string}}
    event_time: event_time
    bounded: {{ndjson: none.ndjson}}
sql: SELECT order_id FROM s
postprocessors:
  - enrich:
{step}sinks:
  historical: {{}}
"#
    );
    let spec = quiver_spec::parse_jobs(&text, "bench.yaml", Path::new("."), &|_| None)
        .unwrap()
        .remove(0);
    let output = quiver_types::Schema::new(vec![
        quiver_types::Field::new("order_id", quiver_types::DataType::String),
        quiver_types::Field::new("email", quiver_types::DataType::String),
        quiver_types::Field::new("amount", quiver_types::DataType::Float64),
        quiver_types::Field::new("hour_of_day", quiver_types::DataType::Int64),
        quiver_types::Field::new("is_bike", quiver_types::DataType::Int64),
    ]);
    let planned = quiver_postprocess::plan(&spec, &output, &quiver_sql::Registry::new())
        .unwrap_or_else(|d| panic!("{d}"));
    planned.chain.unwrap().open(0, 1).unwrap()
}

/// `enrich` over HTTP, one lookup in 100 slow, `rows` rows offered at
/// `rate` rows/s in batches every 10 ms (as a sink releases them), each
/// mode: the time from a batch's intended arrival until each of its rows
/// left the step.
fn slow_lookups(rows: usize, rate: usize) {
    use std::time::Duration;
    let addr = slow_server();
    // Row i looks up `/c/{i}` (see `with_row`).
    let per_batch = (rate / 100).max(1);
    let input = batches(rows, per_batch);
    for ordered in [true, false] {
        let mut step = chain(&format!(
            "      http: {{url: \"http://{addr}/c/%s\", variables: [hour_of_day]}}\n      outputs: {{v: {{path: v, type: bigint}}}}\n      capacity: 64\n      timeout: 2s\n      ordered: {ordered}\n"
        ));
        let began = Instant::now();
        let due = |b: usize| began + Duration::from_millis(10 * b as u64);
        let mut latencies: Vec<f64> = Vec::with_capacity(rows);
        let note = |out: &RecordBatch, latencies: &mut Vec<f64>| {
            let now = Instant::now();
            for t in quiver_dataflow::eval::time_column(out).values() {
                let batch = (*t / 10) as usize / per_batch;
                latencies.push(now.saturating_duration_since(due(batch)).as_secs_f64() * 1e3);
            }
        };
        for (b, batch) in input.iter().enumerate() {
            // Open loop: wait for the batch's time (polling meanwhile), or
            // take it late.
            while Instant::now() < due(b) {
                if let Some(out) = step.poll().unwrap() {
                    note(&out, &mut latencies);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            let out = step.process(with_row(batch)).unwrap();
            if out.num_rows() > 0 {
                note(&out, &mut latencies);
            }
        }
        while step.pending_since().is_some() {
            if let Some(out) = step.poll().unwrap() {
                note(&out, &mut latencies);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let secs = began.elapsed().as_secs_f64();
        assert_eq!(latencies.len(), rows, "every row left");
        latencies.sort_by(f64::total_cmp);
        let q =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "enrich http, 1% slow, ordered: {ordered:<5}  {rows} rows offered at {rate}/s: done in {secs:.2} s ({:.0} rows/s); row latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            rows as f64 / secs,
            q(0.5),
            q(0.99),
            latencies[latencies.len() - 1],
        );
    }
}

/// `batch` with its row number (event time / 10) as `hour_of_day`, so
/// each row has its own lookup.
fn with_row(batch: &RecordBatch) -> RecordBatch {
    let times = quiver_dataflow::eval::time_column(batch);
    let row: Int64Array = times.values().iter().map(|t| Some(t / 10)).collect();
    let mut cols = batch.columns().to_vec();
    cols[3] = Arc::new(row);
    RecordBatch::try_new(batch.schema(), cols).unwrap()
}

/// `enrich` from the Redis at `url`: cold, warm and uncached passes.
fn enrich(url: &str, batch: usize) {
    const CUSTOMERS: usize = 50_000;
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut pipe = redis::pipe();
    for i in 0..CUSTOMERS {
        pipe.hset_multiple(
            format!("bench:customer:customer{i}@example.com"),
            &[
                ("segment", format!("s{}", i % 7)),
                ("tier", (i % 3).to_string()),
            ],
        )
        .ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let step = |cache: &str| {
        chain(&format!(
            "      redis: {{url: \"{url}\", command: hgetall, key: \"bench:customer:%s\", variables: [email]}}\n      outputs: {{segment: segment, tier: {{path: tier, type: bigint}}}}\n      capacity: 32\n      timeout: 2s\n{cache}"
        ))
    };
    // Rows i have customer i % 50,000: the first 50,000 rows are all new keys.
    let cold = batches(CUSTOMERS, batch);
    let warm = batches(4 * CUSTOMERS, batch);
    let mut cached = step("      cache_ttl: 10m\n      cache_size: 100000\n");
    // No warm-up pass where it would fill the cache.
    measure_from("enrich redis, cache cold", &cold, false, |b| {
        cached.process(b.clone()).unwrap().num_rows()
    });
    measure("enrich redis, cache warm", &warm, |b| {
        cached.process(b.clone()).unwrap().num_rows()
    });
    let mut uncached = step("");
    measure_from("enrich redis, no cache", &cold, false, |b| {
        uncached.process(b.clone()).unwrap().num_rows()
    });
}
