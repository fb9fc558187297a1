//! End-to-end behaviour of `quiver`, run in-process on scratch deployments:
//! the examples, idempotent interval runs, crash safety of historical
//! commits, row-group pruning, schema errors, online statuses, determinism.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use quiver_connectors::HistoricalSink;
use quiver_dataflow::source::{ReadRequest, SourceProvider};
use quiver_spec::DeploymentConfig;
use quiver_tests::{
    Scratch, events_schema, example_jobs, parquet_files, quiver, read_rows, sort_rows, write_events,
};
use quiver_types::time::{DAY, MINUTE, parse_timestamp};
use serde_json::Value as Json;

const JAN1: &str = "2024-01-01";

fn t(s: &str) -> i64 {
    parse_timestamp(s).unwrap()
}

/// Four days of events, one Hive partition per day.
fn four_days(root: &Path) {
    for d in 0..4i64 {
        let day = t(JAN1) + d * DAY;
        let rows: Vec<_> = (0..30)
            .map(|i| {
                (
                    day + i * 7 * MINUTE + i * 13,
                    Some(i % 5),
                    Some(1.5 * i as f64),
                )
            })
            .collect();
        write_events(
            &root.join(format!("date=2024-01-0{}/part-0.parquet", d + 1)),
            &rows,
            1 << 20,
        );
    }
}

fn job(dir: &Path, name: &str, data: &str, sinks: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    fs::write(
        &path,
        format!(
            "name: {name}\nsources:\n  events:\n    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}\n    event_time: event_time\n    watermark_delay: 1s\n    bounded: {{parquet: {data}}}\nsql: |\n  SELECT customer_id, COUNT(*) AS n, SUM(amount) AS spend,\n         TUMBLE_END(event_time, INTERVAL '1' HOUR) AS window_end\n  FROM events\n  GROUP BY TUMBLE(event_time, INTERVAL '1' HOUR), customer_id\nsinks: {sinks}\n"
        ),
    )
    .unwrap();
    path
}

fn partitions(dataset: &Path) -> Vec<String> {
    let mut p: Vec<String> = fs::read_dir(dataset)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    p.sort();
    p
}

fn bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    parquet_files(dir)
        .into_iter()
        .map(|f| (f.clone(), fs::read(&f).unwrap()))
        .collect()
}

#[test]
fn interval_runs_replace_exactly_their_days() {
    let s = Scratch::new();
    let data = s.dir.path().join("data");
    four_days(&data);
    let job = job(s.dir.path(), "hourly", "data/", "{historical: {}}");
    let job = job.to_str().unwrap();
    s.quiver(&["backfill", job, "--no-progress"]).unwrap();
    let dataset = s.dataset("hourly");
    assert_eq!(
        partitions(&dataset),
        [
            "date=2024-01-01",
            "date=2024-01-02",
            "date=2024-01-03",
            "date=2024-01-04"
        ]
    );
    let before = bytes(&dataset);

    // Day 2 loses its input; rerun just that day: only its partition goes.
    fs::remove_dir_all(data.join("date=2024-01-02")).unwrap();
    let rerun_day_2 = || {
        s.quiver(&[
            "backfill",
            job,
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-03",
            "--no-progress",
        ])
        .unwrap()
    };
    rerun_day_2();
    assert_eq!(
        partitions(&dataset),
        ["date=2024-01-01", "date=2024-01-03", "date=2024-01-04"]
    );
    let after = bytes(&dataset);
    let untouched: Vec<_> = before
        .iter()
        .filter(|(p, _)| !p.to_string_lossy().contains("2024-01-02"))
        .cloned()
        .collect();
    assert_eq!(after, untouched, "other days must be left byte for byte");

    // Restore it and rerun the day: the partition comes back, identical.
    four_days(&data);
    rerun_day_2();
    assert_eq!(bytes(&dataset), before);

    // Interval runs replace whole days only.
    let err = s
        .quiver(&[
            "backfill",
            job,
            "--start",
            "2024-01-02T06:00:00",
            "--end",
            "2024-01-03",
            "--no-progress",
        ])
        .unwrap_err();
    assert!(err.to_string().contains("day boundary"), "{err}");
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn same_input_gives_the_same_files_and_workers_give_the_same_rows() {
    let s = Scratch::new();
    four_days(&s.dir.path().join("data"));
    let job = job(s.dir.path(), "hourly", "data/", "{historical: {}}");
    let job = job.to_str().unwrap();
    s.quiver(&["backfill", job, "--no-progress", "--workers", "2"])
        .unwrap();
    let first = bytes(&s.dataset("hourly"));
    let (_, mut rows2) = read_rows(&s.dataset("hourly"));
    s.quiver(&["backfill", job, "--no-progress", "--workers", "2"])
        .unwrap();
    let second = bytes(&s.dataset("hourly"));
    assert_eq!(first.len(), second.len());
    for ((pa, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "{} differs between identical runs", pa.display());
    }
    for workers in ["1", "4"] {
        s.quiver(&["backfill", job, "--no-progress", "--workers", workers])
            .unwrap();
        let (_, mut rows) = read_rows(&s.dataset("hourly"));
        sort_rows(&mut rows);
        sort_rows(&mut rows2);
        assert_eq!(rows, rows2, "--workers {workers} differs from --workers 2");
    }
}

#[test]
fn a_killed_run_leaves_no_partial_partition() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("hist/job");
    let staging = dir.path().join("hist/.staging");
    let live = dataset.join("date=2024-01-01");
    fs::create_dir_all(&live).unwrap();
    fs::write(live.join("part-0000.parquet"), b"old").unwrap();
    let schema = events_schema();

    // A run killed while writing: staged files, no journal. They are discarded.
    let dead = staging.join("job/run-dead");
    fs::create_dir_all(dead.join("date=2024-01-01")).unwrap();
    fs::write(dead.join("date=2024-01-01/part-0000.parquet"), b"half").unwrap();
    let sink = HistoricalSink::new("job", dataset.clone(), &staging, schema.clone(), None).unwrap();
    assert!(!dead.exists());
    assert_eq!(fs::read(live.join("part-0000.parquet")).unwrap(), b"old");
    sink.abort();

    // A run killed in the middle of its commit: journal written, the old
    // partition moved aside, the new one not yet in place. The next run finishes it.
    let half = staging.join("job/run-half");
    fs::create_dir_all(half.join("date=2024-01-01")).unwrap();
    fs::write(half.join("date=2024-01-01/part-0000.parquet"), b"new").unwrap();
    fs::create_dir_all(half.join("old")).unwrap();
    fs::rename(&live, half.join("old/date=2024-01-01")).unwrap();
    fs::write(half.join("COMMIT"), "replace date=2024-01-01").unwrap();
    let sink = HistoricalSink::new("job", dataset.clone(), &staging, schema, None).unwrap();
    assert_eq!(fs::read(live.join("part-0000.parquet")).unwrap(), b"new");
    assert!(!half.exists());
    sink.abort();
}

#[test]
fn row_groups_and_partitions_outside_the_interval_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.parquet");
    let rows: Vec<_> = (0..3)
        .flat_map(|d| (0..10).map(move |i| (t(JAN1) + d * DAY + i * MINUTE, Some(i), Some(1.0))))
        .collect();
    write_events(&file, &rows, 10);
    let schema = quiver_types::Schema::new(vec![
        quiver_types::Field::new("event_time", quiver_types::DataType::Timestamp),
        quiver_types::Field::new("customer_id", quiver_types::DataType::Int64),
        quiver_types::Field::new("amount", quiver_types::DataType::Float64),
    ]);
    let src = quiver_connectors::parquet_source::ParquetSource {
        path: file.display().to_string(),
        schema,
        time_col: Some(0),
    };
    let all = |start, end| ReadRequest {
        columns: vec![true; 3],
        start,
        end,
    };
    assert_eq!(src.splits(0, 1, &all(None, None)).unwrap().len(), 3);
    let one_day = src
        .splits(0, 1, &all(Some(t("2024-01-02")), Some(t("2024-01-03"))))
        .unwrap();
    assert_eq!(
        one_day.len(),
        1,
        "only the middle row group overlaps the interval"
    );
    assert!(one_day[0].describe().contains("row group 1"));
    // Splits are dealt to workers without overlap.
    let w0 = src.splits(0, 2, &all(None, None)).unwrap().len();
    let w1 = src.splits(1, 2, &all(None, None)).unwrap().len();
    assert_eq!(w0 + w1, 3);
}

#[test]
fn schema_mismatches_name_the_column() {
    let s = Scratch::new();
    let path = s.dir.path().join("data/part-0.parquet");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "event_time",
            ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("customer_id", ArrowType::Utf8, true),
        Field::new("amount", ArrowType::Float64, true),
    ]));
    let mut w =
        ArrowWriter::try_new(fs::File::create(&path).unwrap(), schema.clone(), None).unwrap();
    w.write(
        &RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMillisecondArray::from(vec![t(JAN1)]).with_timezone("UTC")),
                Arc::new(StringArray::from(vec!["c1"])),
                Arc::new(Float64Array::from(vec![1.0])),
            ],
        )
        .unwrap(),
    )
    .unwrap();
    w.close().unwrap();
    let job = job(s.dir.path(), "bad", "data/", "{historical: {}}");
    let err = s
        .quiver(&["backfill", job.to_str().unwrap(), "--no-progress"])
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`customer_id`") && msg.contains("string") && msg.contains("int64"),
        "{msg}"
    );
    assert_eq!(err.exit_code(), 1);
    assert!(
        parquet_files(&s.dataset("bad")).is_empty(),
        "a failed run writes nothing"
    );

    let missing = job_missing_path(s.dir.path());
    let err = s
        .quiver(&["backfill", missing.to_str().unwrap(), "--no-progress"])
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

fn job_missing_path(dir: &Path) -> PathBuf {
    job(dir, "nodata", "nowhere/", "{historical: {}}")
}

#[test]
fn arrays_and_maps_reach_the_online_store_and_parquet() {
    let s = Scratch::new();
    let data = s.dir.path().join("data");
    write_events(
        &data.join("part-0.parquet"),
        &[
            (t("2024-01-01T00:10:00"), Some(1), Some(6.0)),
            (t("2024-01-01T00:05:00"), Some(1), Some(5.5)),
            (t("2024-01-01T00:20:00"), Some(1), None),
            (t("2024-01-01T00:30:00"), Some(1), Some(5.0)),
        ],
        10,
    );
    let path = s.dir.path().join("arrays.yaml");
    fs::write(
        &path,
        "name: arrays
sources:
  events:
    schema: {event_time: timestamp, customer_id: int64, amount: float64}
    event_time: event_time
    watermark_delay: 1h
    bounded: {parquet: data/}
sql: |
  SELECT customer_id, COLLECT_ARRAY(amount) AS amounts,
         HISTOGRAM(CAST(amount AS BIGINT)) AS by_amount,
         TUMBLE_END(event_time, INTERVAL '1' HOUR) AS window_end
  FROM events
  GROUP BY TUMBLE(event_time, INTERVAL '1' HOUR), customer_id
sinks: {online: {}, historical: {}}
",
    )
    .unwrap();
    s.quiver(&["backfill", path.to_str().unwrap(), "--no-progress"])
        .unwrap();
    let config = DeploymentConfig::load(Some(&s.config())).unwrap();
    let got = quiver_cli::lookup(&config, "arrays", &["customer_id=1".into()], None).unwrap();
    assert_eq!(
        got["features"]["amounts"]["value"],
        serde_json::json!([5.5, 6.0, 5.0])
    );
    assert_eq!(
        got["features"]["by_amount"]["value"],
        serde_json::json!({"5": 2, "6": 1})
    );
    let (cols, rows) = read_rows(&s.dataset("arrays"));
    assert_eq!(cols[1].1, "array<float64>");
    assert_eq!(cols[2].1, "map<int64,int64>");
    assert_eq!(rows[0][1], serde_json::json!([5.5, 6.0, 5.0]));
}

#[test]
fn online_values_come_back_with_statuses() {
    let s = Scratch::new();
    let data = s.dir.path().join("data");
    // Customer 1: a NULL spend in its last window; customer 2: older.
    write_events(
        &data.join("part-0.parquet"),
        &[
            (t("2024-01-01T00:10:00"), Some(2), Some(5.0)),
            (t("2024-01-01T02:10:00"), Some(1), None),
        ],
        10,
    );
    let job = job(s.dir.path(), "online", "data/", "{online: {ttl: 2h}}");
    s.quiver(&["backfill", job.to_str().unwrap(), "--no-progress"])
        .unwrap();
    let config = DeploymentConfig::load(Some(&s.config())).unwrap();
    let get = |key: &str, at: &str| {
        quiver_cli::lookup(&config, "online", &[key.to_string()], Some(at)).unwrap()
    };
    let one = get("customer_id=1", "2024-01-01T03:30:00");
    assert_eq!(one["event_time"], "2024-01-01T02:59:59.999Z");
    assert_eq!(one["features"]["n"]["value"], 1);
    assert_eq!(one["features"]["n"]["status"], "PRESENT");
    assert_eq!(one["features"]["spend"]["status"], "NULL_VALUE");
    assert_eq!(
        one["features"]["window_end"]["value"],
        "2024-01-01T03:00:00.000Z"
    );
    let two = get("customer_id=2", "2024-01-01T03:30:00");
    assert_eq!(two["features"]["n"]["status"], "OUTSIDE_MAX_AGE");
    assert_eq!(
        two["features"]["spend"]["value"], 5.0,
        "expired values are still shown with their status"
    );
    let none = get("customer_id=3", "2024-01-01T03:30:00");
    assert_eq!(none["features"]["n"]["status"], "NOT_FOUND");
    assert_eq!(none["event_time"], Json::Null);
    // Bad requests are user errors.
    let err = quiver_cli::lookup(&config, "online", &["customer=1".into()], None).unwrap_err();
    assert!(
        err.to_string().contains("entity columns: customer_id"),
        "{err}"
    );
    let err = quiver_cli::lookup(&config, "nope", &["customer_id=1".into()], None).unwrap_err();
    assert!(err.to_string().contains("not in the online store"), "{err}");
}

#[test]
fn the_example_jobs_run_on_generated_data() {
    let s = Scratch::new();
    let jobs = example_jobs(&s);
    quiver(&["validate", jobs.to_str().unwrap()]).unwrap();
    s.quiver(&["backfill", jobs.to_str().unwrap(), "--no-progress"])
        .unwrap();
    let config = DeploymentConfig::load(Some(&s.config())).unwrap();
    let store = quiver_cli::cmd_get::lookup(
        &config,
        "customer_bookings_1m",
        &["customer_id=1".into()],
        Some("2024-03-01"),
    );
    assert!(store.is_ok(), "{store:?}");
    for name in [
        "customer_bookings_1m",
        "customer_bookings_10m",
        "cpf_orders_chargebacks_3d",
        "cpf_orders_chargebacks_30d",
        "count_broker_buys_7d",
        "count_broker_sells_90d",
        "geohash_pickups_60s",
        "service_amount_outliers",
        "booking_fraud_scores",
        "pii_masked_bookings",
    ] {
        let (_, rows) = read_rows(&s.dataset(name));
        assert!(!rows.is_empty(), "{name} wrote no rows");
    }
}

#[test]
fn exit_codes_separate_user_errors() {
    let s = Scratch::new();
    let bad = s.dir.path().join("bad.yaml");
    fs::write(&bad, "name: x\nsql: SELECT 1\n").unwrap();
    assert_eq!(
        quiver_cli::main_with_args(["quiver", "validate", bad.to_str().unwrap()]),
        ExitCode::from(1)
    );
    assert_eq!(
        quiver_cli::main_with_args(["quiver", "validate", "/no/such/file.yaml"]),
        ExitCode::from(1)
    );
    assert_eq!(
        quiver_cli::main_with_args(["quiver", "--version"]),
        ExitCode::SUCCESS
    );
    let root = quiver_tests::repo_root();
    assert_eq!(
        quiver_cli::main_with_args(["quiver", "validate", root.join("jobs").to_str().unwrap()]),
        ExitCode::SUCCESS
    );
}

#[test]
fn a_job_calls_functions_loaded_from_webassembly() {
    let s = Scratch::new();
    let root = quiver_tests::repo_root();
    let module = root.join("udfs/examples/wasm/risk_band.wat");
    let data = s.dir.path().join("data/events.parquet");
    let t0 = t("2024-01-01");
    write_events(
        &data,
        &[
            (t0 + 3 * 60 * MINUTE, Some(1), Some(150.0)),
            (t0 + 12 * 60 * MINUTE, Some(2), Some(150.0)),
            (t0 + 13 * 60 * MINUTE, Some(3), Some(20.0)),
            (t0 + 14 * 60 * MINUTE, Some(4), None),
        ],
        1 << 20,
    );
    let text = |args: &str| {
        format!(
            "name: banded\nentity: [customer_id]\nsources:\n  events:\n    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}\n    event_time: event_time\n    bounded: {{parquet: {}}}\nfunctions:\n  risk_band: {{wasm: {}, args: {args}, returns: int64}}\n  initials: {{wasm: {}, args: [string], returns: string}}\nsql: |\n  SELECT customer_id, risk_band(amount, HOUR(event_time)) AS band,\n         initials(CAST(customer_id AS VARCHAR)) AS first_digit, event_time\n  FROM events\nsinks: {{historical: {{}}}}\n",
            data.display(),
            module.display(),
            module.display()
        )
    };
    let jf = s.dir.path().join("banded.yaml");
    fs::write(&jf, text("[float64, int64]")).unwrap();
    s.quiver(&["backfill", jf.to_str().unwrap(), "--no-progress"])
        .unwrap();
    let (_, mut rows) = read_rows(&s.dataset("banded"));
    sort_rows(&mut rows);
    let got: Vec<(Json, Json, Json)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Json::from(1), Json::from(2), Json::from("1")),
            (Json::from(2), Json::from(1), Json::from("2")),
            (Json::from(3), Json::from(0), Json::from("3")),
            (Json::from(4), Json::Null, Json::from("4")),
        ]
    );
    // A declaration the module's export does not match, and a call with
    // the wrong argument type, are refused naming the function.
    fs::write(&jf, text("[int64, int64]")).unwrap();
    let err = quiver(&["validate", jf.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "function `risk_band`: export `risk_band` has the signature (f64, i64) -> (i64)"
        ),
        "{err}"
    );
    fs::write(
        &jf,
        text("[float64, int64]").replace("risk_band(amount,", "risk_band('x',"),
    )
    .unwrap();
    let err = quiver(&["validate", jf.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RISK_BAND") && err.contains("argument 1 must be DOUBLE, found VARCHAR"),
        "{err}"
    );
}

#[test]
fn jobs_that_declare_a_shared_source_differently_are_refused() {
    let s = Scratch::new();
    let dir = s.dir.path().join("jobs");
    fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_str().unwrap();
    job(&dir, "a", "data/", "{historical: {}}");
    // The same source name over other files: run together, one job would
    // read the other's.
    job(&dir, "b", "other/", "{historical: {}}");
    let err = quiver(&["validate", dir_arg]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("b.yaml:3")
            && msg.contains("a.yaml:3")
            && msg.contains("source `events` differs in `bounded:`")
            && msg.contains("help:"),
        "{msg}"
    );
    assert_eq!(err.exit_code(), 1);
    // Declared alike, the jobs share it.
    job(&dir, "b", "data/", "{historical: {}}");
    quiver(&["validate", dir_arg]).unwrap();
}
