//! Records per second per core through the post-processing steps, one
//! thread, on batches like the sink releases: `cargo bench -p
//! quiver-postprocess --bench steps [-- --rows N --batch B]`.
//!
//! Steps measured: mask (hash one VARCHAR column, encrypt another),
//! infer (the shipped logistic regression on three columns), mask + infer,
//! and dedup. `benches/postprocess_peer.py` measures the same work with
//! onnxruntime and Python's hmac/cryptography in the same run, as the peer.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema};
use arrow::row::SortField;
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

fn measure(name: &str, input: &[RecordBatch], mut f: impl FnMut(&RecordBatch) -> usize) {
    let rows: usize = input.iter().map(|b| b.num_rows()).sum();
    // Warm up on the first batch, then time the whole input.
    f(&input[0]);
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
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../jobs/models/booking_fraud_lr.onnx");
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
    let mut dedup = Dedup::new(vec![0], vec![SortField::new(ArrowType::Utf8)], 60_000).unwrap();
    let mut last = 0;
    measure("dedup (ttl 60 s)", &input, |b| {
        let out = dedup.apply(b).unwrap().num_rows();
        last += b.num_rows() as i64 * 10;
        dedup.advance(last);
        out
    });
}
